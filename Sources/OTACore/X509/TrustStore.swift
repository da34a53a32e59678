public import OTABase

/// The anchors and CRLs a verifier trusts, per role, read from a directory:
///
/// ```
/// DIR/<role>/anchors/*.pem|*.crt   root certificates pinned for that role
/// DIR/<role>/crls/*.pem|*.crl      CRLs of the role's CAs
/// ```
///
/// or held in memory (`init(contents:label:)`: a store with a trust update applied to a copy,
/// which a bundle carrying that update is checked against before the update is committed).
/// A role with no anchors trusts nothing: verification refuses (`trust.empty`), it never falls
/// back to skipping the check.
public struct TrustStore: Sendable {
    /// The directory, or the label of an in-memory store (for messages).
    public let directory: String
    private let held: TrustStoreContents?

    /// Opens a trust store; the directory must exist.
    public init(directory: String) throws(OTAError) {
        guard FileSystem.isDirectory(directory) else {
            throw OTAError(.trustMissing, "\(directory): trust store directory does not exist")
        }
        self.directory = directory
        held = nil
    }

    /// A store held in memory; `label` names it in messages.
    package init(contents: TrustStoreContents, label: String) {
        directory = label
        held = contents
    }

    /// Every file of the store (what a trust update is applied to).
    package func contents() throws(OTAError) -> TrustStoreContents {
        if let held { return held }
        return try TrustStoreContents(directory: directory)
    }

    /// The pinned anchors of `role`; throws `trust.empty` when there are none.
    public func anchors(for role: TrustRole) throws(OTAError) -> [Certificate] {
        let certificates = try loadAll(
            role: role, folder: "anchors", extensions: [".pem", ".crt", ".der", ".cer"], limit: 4 << 20
        ) {
            (bytes, path) throws(OTAError) in try Certificate.load(bytes, source: path)
        }
        guard !certificates.isEmpty else {
            throw OTAError(
                .trustEmpty, "\(directory)/\(role.rawValue)/anchors: no trust anchors for the \(role.rawValue) role")
        }
        return certificates
    }

    /// The CRLs held for `role` (possibly none).
    public func revocationLists(for role: TrustRole) throws(OTAError) -> [CertificateRevocationList] {
        try loadAll(role: role, folder: "crls", extensions: [".pem", ".crl", ".der"], limit: 16 << 20) {
            (bytes, path) throws(OTAError) in
            try CertificateRevocationList.load(bytes, source: path)
        }
    }

    private func loadAll<T>(
        role: TrustRole, folder: String, extensions: [String], limit: Int,
        _ load: ([UInt8], String) throws(OTAError) -> [T]
    ) throws(OTAError) -> [T] {
        var items: [T] = []
        if let held {
            for relative in held.paths(role, folder) where extensions.contains(where: { relative.hasSuffix($0) }) {
                items += try load(held.files[relative]!, "\(directory)/\(relative)")
            }
            return items
        }
        let path = "\(directory)/\(role.rawValue)/\(folder)"
        guard FileSystem.isDirectory(path) else { return [] }
        for name in try FileSystem.list(path) where extensions.contains(where: { name.hasSuffix($0) }) {
            let file = "\(path)/\(name)"
            items += try load(try FileSystem.read(file, limit: limit), file)
        }
        return items
    }
}
