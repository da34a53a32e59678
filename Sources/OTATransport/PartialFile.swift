import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// A download in progress: a file holding only chunks whose signed hash was checked, written in
/// order. Reopened after a kill or power loss, its chunks are checked again and it is cut back
/// to the last good chunk boundary (a torn last write costs at most one chunk).
final class PartialFile {
    let path: String
    let target: ChunkedTarget
    private var descriptor: Int32
    private(set) var verified: UInt64 = 0
    /// Whole-file digests, fed every verified byte in order (the kept prefix while it is
    /// re-checked at open, then each appended chunk), so the finished file needs no second pass.
    private let wholeFile: [Hasher]

    init(path: String, target: ChunkedTarget, wholeFileHashes: [HashAlgorithm] = []) throws(OTAError) {
        self.path = path
        self.target = target
        var hashers: [Hasher] = []
        for algorithm in wholeFileHashes { hashers.append(try Hasher(algorithm)) }
        wholeFile = hashers
        let fd = try SystemCall.open(
            path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode: 0o600, what: "opening the partial download",
            code: .ioCreate)
        descriptor = fd
        var buffer = [UInt8](repeating: 0, count: Int(target.chunkSize))
        var index = 0
        while UInt64(index) < UInt64(target.chunkHashes.count) {
            let length = target.chunkLength(index)
            let count = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(OTAError) in
                    try SystemCall.readFully(
                        fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]), at: Int64(verified),
                        path: path)
                }
            }.get()
            guard count == length, let digest = try? Hasher.hash(.sha256, buffer[0..<length]),
                ConstantTime.equals(digest.bytes, target.chunkHashes[index])
            else { break }
            for hasher in wholeFile { hasher.update(buffer[0..<length]) }
            verified += UInt64(length)
            index += 1
        }
        try SystemCall.retrying("cutting the partial download back", path: path, code: .ioTruncate) {
            ftruncate(fd, off_t(verified))
        }
    }

    deinit { if descriptor >= 0 { SystemCall.close(descriptor) } }

    func append(_ bytes: [UInt8]) throws(OTAError) {
        try SystemCall.writeAll(descriptor, bytes, at: Int64(verified), path: path, code: .ioWrite)
        for hasher in wholeFile { hasher.update(bytes) }
        verified += UInt64(bytes.count)
    }

    /// The whole-file digests (algorithm name → hex), once every byte is in.
    func wholeFileDigests() -> [String: String] {
        guard verified == target.length else { return [:] }
        var result: [String: String] = [:]
        for hasher in wholeFile {
            let digest = hasher.finalize()
            result[digest.algorithm.rawValue] = digest.hex
        }
        return result
    }

    /// Makes the finished file durable.
    func finish() throws(OTAError) {
        guard fsync(descriptor) == 0 else { throw OTAError(.ioFsync, "\(path): fsync failed") }
    }

    /// Removes the partial file (a refused download keeps nothing).
    func discard() {
        SystemCall.close(descriptor)
        descriptor = -1
        unlink(path)
        verified = 0
    }
}
