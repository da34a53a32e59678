public import OTABase

/// Signature algorithms of the envelope, by their stable names in `docs/FORMAT.md`.
public enum SignatureAlgorithm: String, Sendable, Codable, CaseIterable {
    /// ECDSA over P-256 with SHA-256, DER-encoded `(r, s)`.
    case ecdsaP256SHA256 = "ecdsa-p256-sha256"
    /// Ed25519 (pure), 64-byte signatures.
    case ed25519 = "ed25519"
    /// SM2 with SM3 and a distinguishing ID (default `1234567812345678`), DER-encoded `(r, s)`.
    case sm2SM3 = "sm2-sm3"

    /// The key type this algorithm needs.
    public var keyType: KeyType {
        switch self {
        case .ecdsaP256SHA256: .p256
        case .ed25519: .ed25519
        case .sm2SM3: .sm2
        }
    }

    /// The algorithm a key of `type` signs with.
    public static func forKey(_ type: KeyType) throws(OTAError) -> SignatureAlgorithm {
        switch type {
        case .p256: .ecdsaP256SHA256
        case .ed25519: .ed25519
        case .sm2: .sm2SM3
        case .x25519: throw OTAError(.keyCannotSign, "an X25519 key cannot sign")
        }
    }

    /// The digest OpenSSL hashes with, or nil for Ed25519's one-shot signing.
    var digestName: String? {
        switch self {
        case .ecdsaP256SHA256: "SHA2-256"
        case .ed25519: nil
        case .sm2SM3: "SM3"
        }
    }

    /// The suite this algorithm belongs to.
    public var suite: Suite { self == .sm2SM3 ? .gm : .intl }
}

/// The SM2 distinguishing ID of GM/T 0009, used when none is configured.
public let defaultSM2DistinguishingID: [UInt8] = Array("1234567812345678".utf8)
