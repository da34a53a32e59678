/// A streaming hash (`EVP_DigestUpdate`): feed any number of byte ranges, then `finalize()`.
///
/// Memory stays constant whatever the amount of data.
public final class Hasher {
    public let algorithm: HashAlgorithm
    private let context: DigestContext
    private var finished = false

    public init(_ algorithm: HashAlgorithm) throws(OTAError) {
        self.algorithm = algorithm
        context = try DigestContext(openSSLName: algorithm.openSSLName, label: algorithm.rawValue)
    }

    /// Adds bytes to the hash.
    public func update(_ bytes: some ByteStorage) {
        precondition(!finished, "Hasher used after finalize()")
        context.update(bytes)
    }

    /// Finishes the hash; the hasher cannot be used afterwards.
    public func finalize() -> Digest {
        precondition(!finished, "Hasher finalized twice")
        finished = true
        return Digest(algorithm: algorithm, bytes: context.finish())
    }

    /// One-shot digest by OpenSSL fetch name, for a format that names hashes `ota` uses nowhere
    /// else (TUF metadata may list SHA-384 or SHA-512); `HashAlgorithm` stays the set every other
    /// reader accepts.
    package static func digest(openSSLName name: String, _ bytes: some ByteStorage) throws(OTAError) -> [UInt8] {
        let context = try DigestContext(openSSLName: name, label: name)
        context.update(bytes)
        return context.finish()
    }

    /// One-shot hash of a byte buffer.
    public static func hash(_ algorithm: HashAlgorithm, _ bytes: some ByteStorage) throws(OTAError) -> Digest {
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
