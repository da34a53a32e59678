internal import COpenSSL
public import Foundation

/// A streaming hash (`EVP_DigestUpdate`): feed any number of byte ranges, then `finalize()`.
///
/// Memory stays constant whatever the amount of data.
public final class Hasher {
    public let algorithm: HashAlgorithm
    private let context: OpaquePointer
    private var finished = false

    public init(_ algorithm: HashAlgorithm) throws(OTAError) {
        self.algorithm = algorithm
        OpenSSLErrorQueue.clear()
        guard let md = EVP_MD_fetch(nil, algorithm.openSSLName, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoUnavailable, "hash \(algorithm.rawValue) is not available in this OpenSSL",
                function: "EVP_MD_fetch")
        }
        defer { EVP_MD_free(md) }
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a digest context", function: "EVP_MD_CTX_new")
        }
        guard EVP_DigestInit_ex2(context, md, nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot start \(algorithm.rawValue)", function: "EVP_DigestInit_ex2")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the hash.
    public func update(_ bytes: some ContiguousBytes) {
        precondition(!finished, "Hasher used after finalize()")
        bytes.withUnsafeBytes { buffer in
            guard buffer.count > 0 else { return }
            // EVP_DigestUpdate cannot fail for an initialised software digest.
            _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
        }
    }

    /// Finishes the hash; the hasher cannot be used afterwards.
    public func finalize() -> Digest {
        precondition(!finished, "Hasher finalized twice")
        finished = true
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = EVP_DigestFinal_ex(context, &output, &length)
        return Digest(algorithm: algorithm, bytes: Array(output.prefix(Int(length))))
    }

    /// One-shot digest by OpenSSL fetch name (`EVP_Q_digest`), for a format that names hashes
    /// `ota` uses nowhere else (TUF metadata may list SHA-384 or SHA-512); `HashAlgorithm` stays
    /// the set every other reader accepts.
    package static func digest(openSSLName name: String, _ bytes: some ContiguousBytes) throws(OTAError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        let status = bytes.withUnsafeBytes { buffer in
            EVP_Q_digest(nil, name, nil, buffer.baseAddress, buffer.count, &output, &length)
        }
        guard status == 1 else {
            throw OpenSSLErrorQueue.error(
                .cryptoUnavailable, "hash \(name) is not available in this OpenSSL", function: "EVP_Q_digest")
        }
        return Array(output.prefix(length))
    }

    /// One-shot hash of a byte buffer.
    public static func hash(_ algorithm: HashAlgorithm, _ bytes: some ContiguousBytes) throws(OTAError) -> Digest {
        let hasher = try Hasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Hash of a file's contents, streamed in 1 MiB reads.
    public static func hash(_ algorithm: HashAlgorithm, fileAt path: String) throws(OTAError) -> Digest {
        let hasher = try Hasher(algorithm)
        let file = try InputFile(path: path)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try file.read(into: &buffer)
            if count == 0 { break }
            hasher.update(buffer[0..<count])
        }
        return hasher.finalize()
    }
}
