internal import COpenSSL

/// The one owner of an OpenSSL digest context (`EVP_MD_CTX`), started for an OpenSSL fetch name:
/// `Hasher` (the hashes `ota` uses) and `Hasher.digest(openSSLName:)` (names another format lists)
/// both start theirs here, so there is one fetch path and one set of errors.
final class DigestContext {
    private let context: OpaquePointer

    /// Fetches `name` (`EVP_MD_fetch`) and starts a context; `label` names the hash in errors.
    init(openSSLName name: String, label: String) throws(OTAError) {
        OpenSSLErrorQueue.clear()
        guard let md = EVP_MD_fetch(nil, name, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoUnavailable, "hash \(label) is not available in this OpenSSL", function: "EVP_MD_fetch")
        }
        defer { EVP_MD_free(md) }
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a digest context", function: "EVP_MD_CTX_new")
        }
        guard EVP_DigestInit_ex2(context, md, nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot start \(label)", function: "EVP_DigestInit_ex2")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: some ByteStorage) {
        bytes.withUnsafeBytes { buffer in
            guard buffer.count > 0 else { return }
            // EVP_DigestUpdate cannot fail for an initialised software digest.
            _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
        }
    }

    /// The digest; the context cannot be updated afterwards.
    func finish() -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = EVP_DigestFinal_ex(context, &output, &length)
        return Array(output.prefix(Int(length)))
    }
}
