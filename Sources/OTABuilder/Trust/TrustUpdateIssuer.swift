public import Foundation
public import OTACore

/// The root key holders' side of a trust update: describe the change, sign it with each root
/// key (the current ones of every changed role, and every new anchor's), write the file.
public enum TrustUpdateIssuer {
    /// One root key and its (self-signed) certificate.
    public struct RootSigner: Sendable {
        public let key: PrivateKey
        public let certificate: Certificate

        public init(key: PrivateKey, certificate: Certificate) throws(OTAError) {
            guard try key.publicKey == certificate.publicKey else {
                throw OTAError(.keyCertificateMismatch, "the key does not belong to \(certificate.subject)")
            }
            self.key = key
            self.certificate = certificate
        }
    }

    /// The change for one role, from files.
    public struct RoleInput: Sendable {
        public var role: TrustRole
        public var addAnchors: [Certificate] = []
        public var retireAnchors: [Certificate] = []
        public var crls: [CertificateRevocationList] = []
        /// The CA certificates that signed `crls` and are not anchors of the role.
        public var crlIssuers: [Certificate] = []
        public var threshold: Int?

        public init(
            role: TrustRole, addAnchors: [Certificate] = [], retireAnchors: [Certificate] = [],
            crls: [CertificateRevocationList] = [], crlIssuers: [Certificate] = [],
            threshold: Int? = nil
        ) {
            self.role = role
            self.addAnchors = addAnchors
            self.retireAnchors = retireAnchors
            self.crls = crls
            self.crlIssuers = crlIssuers
            self.threshold = threshold
        }
    }

    public struct Report: Codable, Sendable {
        public let output: String
        public let version: UInt64
        public let expires: Date
        public let roles: [String]
        public let signatures: Int
    }

    /// Builds the update (version `version`, valid until `expires`), signs it with every signer,
    /// checks that it applies to `store` when one is given (threshold, anchors), and only then
    /// writes it to `outputPath` atomically.
    public static func issue(
        version: UInt64, roles: [RoleInput], signers: [RootSigner], expires: Date, outputPath: String,
        now: Date = Date(),
        checkingAgainst store: TrustStore? = nil
    ) throws(OTAError) -> Report {
        guard version > 0 else { throw OTAError(.usageInvalid, "--version must be 1 or more") }
        guard !roles.isEmpty else { throw OTAError(.usageInvalid, "a trust update changes at least one role") }
        guard expires > now else { throw OTAError(.usageValidUntil, "--expires must be in the future") }
        guard !signers.isEmpty else {
            throw OTAError(.usageInvalid, "a trust update needs the signatures of the roles' root keys (--key/--cert)")
        }
        var changes: [TrustRole: TrustUpdate.RoleChange] = [:]
        for input in roles {
            guard changes[input.role] == nil else {
                throw OTAError(.usageInvalid, "role \(input.role.rawValue) given twice")
            }
            changes[input.role] = TrustUpdate.RoleChange(
                addAnchors: input.addAnchors.map { Data($0.der).base64EncodedString() },
                retireAnchors: input.retireAnchors.map(\.fingerprint),
                crls: input.crls.map { Data($0.der).base64EncodedString() },
                crlIssuers: input.crlIssuers.isEmpty
                    ? nil : input.crlIssuers.map { Data($0.der).base64EncodedString() },
                threshold: input.threshold)
        }
        let update = TrustUpdate(version: version, issued: now, expires: expires, roles: changes)
        let payload = try CanonicalJSON.encode(update)
        var signatures: [SignatureEnvelope.Signature] = []
        for signer in signers {
            signatures.append(
                try SignatureEnvelope.sign(
                    body: payload, type: TrustUpdate.payloadType, key: signer.key, certificate: signer.certificate,
                    chain: []))
        }
        let bytes = try SignedTrustUpdate(payload: payload, signatures: signatures).encoded()
        if let store { _ = try TrustUpdater.apply(bytes, to: try store.contents(), at: now) }
        try AtomicFileWriter.write(bytes, to: outputPath, refusingInputs: true)
        return Report(
            output: outputPath, version: version, expires: expires, roles: roles.map(\.role.rawValue).sorted(),
            signatures: signatures.count)
    }
}
