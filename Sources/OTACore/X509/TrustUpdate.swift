public import Foundation
public import OTABase

/// A signed change to a trust store (new and retired anchors per role, new CRLs, new update
/// thresholds), with a version that must exceed the store's. It travels in the clear (in a
/// bundle, through the repository): it is applied only when a threshold of each changed role's
/// *current* root keys signed it, as TUF rotates its root metadata, and every new anchor's key
/// signed it too (proof that its holder agrees).
public struct TrustUpdate: Codable, Sendable, Equatable {
    public static let schemaIdentifier = "ota-trust-update/1"
    public static let payloadType = "application/vnd.ota.trust-update.v1+json"
    public static let maximumSize = 1 << 20

    /// What changes for one role.
    public struct RoleChange: Codable, Sendable, Equatable {
        /// New anchors: self-signed CA certificates, base64 DER.
        public var addAnchors: [String]
        /// Anchors to remove, by the hex SHA-256 of their DER.
        public var retireAnchors: [String]
        /// CRLs of the role's CAs, base64 DER; each replaces the one from the same issuer when newer.
        /// Each must be signed by an anchor of the role, or by one of `crlIssuers`.
        public var crls: [String]
        /// The CA certificates (base64 DER) that signed `crls` and are not anchors: each must chain
        /// to the role's anchors. Absent when every CRL is an anchor's.
        public var crlIssuers: [String]?
        /// The role's update threshold from now on (how many of its anchors sign the next update).
        public var threshold: Int?

        public init(
            addAnchors: [String] = [], retireAnchors: [String] = [], crls: [String] = [], crlIssuers: [String]? = nil,
            threshold: Int? = nil
        ) {
            self.addAnchors = addAnchors
            self.retireAnchors = retireAnchors
            self.crls = crls
            self.crlIssuers = crlIssuers
            self.threshold = threshold
        }
    }

    public var schema: String
    /// Must be greater than the store's `TrustMetadata.version`.
    public var version: UInt64
    public var issued: Date
    /// After this the update is refused (a frozen or withheld update cannot be replayed forever).
    public var expires: Date
    /// Role name → change.
    public var roles: [String: RoleChange]

    public init(version: UInt64, issued: Date, expires: Date, roles: [TrustRole: RoleChange]) {
        schema = Self.schemaIdentifier
        self.version = version
        self.issued = issued
        self.expires = expires
        self.roles = Dictionary(uniqueKeysWithValues: roles.map { ($0.key.rawValue, $0.value) })
    }
}

/// A trust update as a file: a DSSE envelope carrying its payload, like an approval.
public struct SignedTrustUpdate: Codable, Sendable {
    public var payloadType: String
    public var payload: String
    public var signatures: [SignatureEnvelope.Signature]

    public init(payload: [UInt8], signatures: [SignatureEnvelope.Signature]) {
        payloadType = TrustUpdate.payloadType
        self.payload = Data(payload).base64EncodedString()
        self.signatures = signatures
    }

    public static func decode(_ bytes: [UInt8]) throws(OTAError) -> SignedTrustUpdate {
        guard bytes.count <= TrustUpdate.maximumSize else {
            throw OTAError(.trustUpdateMalformed, "trust update larger than \(TrustUpdate.maximumSize) bytes")
        }
        return try CanonicalJSON.decode(SignedTrustUpdate.self, from: bytes, as: .trustUpdateMalformed)
    }

    public func encoded() throws(OTAError) -> [UInt8] { try CanonicalJSON.encode(self) }

    /// The update it carries and its exact payload bytes (what the signatures cover), after
    /// checking the payload type and the schema.
    public func contents() throws(OTAError) -> (update: TrustUpdate, payload: [UInt8]) {
        guard payloadType == TrustUpdate.payloadType, let payload = Data(base64Encoded: self.payload).map(Array.init)
        else {
            throw OTAError(.trustUpdateMalformed, "trust update: wrong payload type or payload not base64")
        }
        let update = try CanonicalJSON.decode(TrustUpdate.self, from: payload, as: .trustUpdateMalformed)
        guard update.schema == TrustUpdate.schemaIdentifier else {
            throw OTAError(.trustUpdateMalformed, "trust update: unknown schema \(update.schema)")
        }
        return (update, payload)
    }

    /// Whether `bytes` look like a signed trust update (rather than CRLs).
    public static func looksLikeOne(_ bytes: [UInt8]) -> Bool {
        String(decoding: bytes.prefix(4096), as: UTF8.self).contains(TrustUpdate.payloadType)
    }
}
