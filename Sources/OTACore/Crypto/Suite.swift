public import OTABase

/// A crypto suite fixes the hash, the payload cipher and the key-wrap scheme of a bundle.
///
/// `intl` serves export markets; `gm` is the Chinese commercial cryptography (SM2, SM3, SM4)
/// that MIIT 2021 No.148 asks for.
public enum Suite: String, Sendable, Codable, CaseIterable {
    case intl
    case gm

    /// The suite's hash: SHA-256 or SM3.
    public var hash: HashAlgorithm {
        switch self {
        case .intl: .sha256
        case .gm: .sm3
        }
    }

    /// The suite's authenticated cipher for payloads and wrapped keys.
    public var cipher: AEADAlgorithm {
        switch self {
        case .intl: .aes256GCM
        case .gm: .sm4CTRHMACSM3
        }
    }

    /// Signature algorithms a signer of this suite may use.
    public var signatureAlgorithms: [SignatureAlgorithm] {
        switch self {
        case .intl: [.ecdsaP256SHA256, .ed25519]
        case .gm: [.sm2SM3]
        }
    }

    /// Parses a suite name, naming the allowed values on failure.
    public static func parse(_ name: String, field: String = "suite") throws(OTAError) -> Suite {
        guard let suite = Suite(rawValue: name) else {
            throw OTAError(.suiteUnknown, "\(field): unknown suite '\(name)' (expected intl or gm)")
        }
        return suite
    }
}
