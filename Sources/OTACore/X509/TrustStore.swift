/// The anchors and CRLs a verifier trusts, per role, read from a directory:
///
/// ```
/// DIR/<role>/anchors/*.pem|*.crt   root certificates pinned for that role
/// DIR/<role>/crls/*.pem|*.crl      CRLs of the role's CAs
/// ```
///
/// A role with no anchors trusts nothing: verification refuses (`trust.empty`), it never falls
/// back to skipping the check.
public struct TrustStore: Sendable {
    public let directory: String

    /// Opens a trust store; the directory must exist.
    public init(directory: String) throws(OTAError) {
        guard FileSystem.isDirectory(directory) else {
            throw OTAError(.trustMissing, "\(directory): trust store directory does not exist")
        }
        self.directory = directory
    }

    /// The pinned anchors of `role`; throws `trust.empty` when there are none.
    public func anchors(for role: TrustRole) throws(OTAError) -> [Certificate] {
        let certificates = try loadAll(role: role, folder: "anchors", extensions: [".pem", ".crt", ".der", ".cer"]) { path throws(OTAError) in
            try Certificate.load(contentsOf: path)
        }
        guard !certificates.isEmpty else {
            throw OTAError(.trustEmpty, "\(directory)/\(role.rawValue)/anchors: no trust anchors for the \(role.rawValue) role")
        }
        return certificates
    }

    /// The CRLs held for `role` (possibly none).
    public func revocationLists(for role: TrustRole) throws(OTAError) -> [CertificateRevocationList] {
        try loadAll(role: role, folder: "crls", extensions: [".pem", ".crl", ".der"]) { path throws(OTAError) in
            try CertificateRevocationList.load(contentsOf: path)
        }
    }

    private func loadAll<T>(role: TrustRole, folder: String, extensions: [String], _ load: (String) throws(OTAError) -> [T]) throws(OTAError) -> [T] {
        let path = "\(directory)/\(role.rawValue)/\(folder)"
        guard FileSystem.isDirectory(path) else { return [] }
        var items: [T] = []
        for name in try FileSystem.list(path) where extensions.contains(where: { name.hasSuffix($0) }) {
            items += try load("\(path)/\(name)")
        }
        return items
    }
}
