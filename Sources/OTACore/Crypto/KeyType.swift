internal import OTABase

/// The asymmetric key types `ota` accepts.
public enum KeyType: String, Sendable, Codable, CaseIterable {
    /// NIST P-256 (ECDSA signatures, ECDH key agreement).
    case p256 = "p256"
    /// Ed25519 signatures.
    case ed25519 = "ed25519"
    /// X25519 key agreement (recipients only).
    case x25519 = "x25519"
    /// SM2 (signatures with SM3, public-key encryption).
    case sm2 = "sm2"

    /// The OpenSSL key-management name used to generate this type.
    var openSSLName: String {
        switch self {
        case .p256: "EC"
        case .ed25519: "ED25519"
        case .x25519: "X25519"
        case .sm2: "SM2"
        }
    }

    /// Whether keys of this type can sign.
    public var canSign: Bool { self != .x25519 }
}
