public import OTACore

/// A file to download with the SHA-256 of each fixed-size chunk, signed (for bundles: the TUF
/// target entry's `custom.ota.chunks`, see docs/FORMAT.md), so every chunk is checked as it
/// arrives and a download resumes at a chunk boundary.
public struct ChunkedTarget: Sendable {
    public let length: UInt64
    public let chunkSize: UInt64
    public let chunkHashes: [[UInt8]]

    public init(length: UInt64, chunkSize: UInt64, chunkHashes: [[UInt8]]) throws(OTAError) {
        guard chunkSize > 0, chunkSize <= 64 << 20 else {
            throw OTAError(.transportChunkList, "chunk size \(chunkSize) is out of range")
        }
        let expected = length == 0 ? 0 : (length + chunkSize - 1) / chunkSize
        guard UInt64(chunkHashes.count) == expected, chunkHashes.allSatisfy({ $0.count == 32 }) else {
            throw OTAError(
                .transportChunkList,
                "\(chunkHashes.count) chunk hashes for \(length) bytes in \(chunkSize)-byte chunks (\(expected) expected)"
            )
        }
        self.length = length
        self.chunkSize = chunkSize
        self.chunkHashes = chunkHashes
    }

    /// The chunk size `repo add` uses: 1 MiB, larger for files over 1 GiB so no file has more
    /// than 1024 chunks (the list stays under 66 KiB of metadata).
    public static func chunkSize(for length: UInt64) -> UInt64 {
        var size: UInt64 = 1 << 20
        while length > size * 1024 { size *= 2 }
        return size
    }

    /// Hashes a file in chunks of `chunkSize`.
    public static func hashes(ofFile path: String, chunkSize: UInt64) throws(OTAError) -> [[UInt8]] {
        let input = try InputFile(path: path)
        var buffer = [UInt8](repeating: 0, count: Int(chunkSize))
        var result: [[UInt8]] = []
        while true {
            let count = try input.readFully(into: &buffer)
            if count == 0 { break }
            result.append(try Hasher.hash(.sha256, buffer[0..<count]).bytes)
            if count < buffer.count { break }
        }
        return result
    }

    func chunkLength(_ index: Int) -> Int {
        let start = UInt64(index) * chunkSize
        return Int(min(chunkSize, length - start))
    }
}
