/// Hash functions `ota` uses, fetched from OpenSSL by name.
public enum HashAlgorithm: String, Sendable, Codable, CaseIterable {
    case sha256 = "sha256"
    case sm3 = "sm3"

    /// The OpenSSL 3 fetch name (`EVP_MD_fetch`).
    package var openSSLName: String {
        switch self {
        case .sha256: "SHA2-256"
        case .sm3: "SM3"
        }
    }

    /// Digest length in bytes (32 for both).
    public var byteCount: Int { 32 }
}
