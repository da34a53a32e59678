import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// One export output file, created in the export's private staging directory: buffered writes,
/// hashed as they are written for the manifest. Nothing is synced file by file: the exporter
/// syncs the staging directory's file system once and then renames the whole directory into
/// place, so a failure at any point leaves no export, and a finished one survives power loss.
final class ExportFile {
    let name: String
    private let path: String
    private var descriptor: Int32
    private let hasher: Hasher
    private var buffer: [UInt8] = []
    private(set) var size: Int64 = 0

    init(directory: String, name: String, hash: HashAlgorithm) throws(OTAError) {
        self.name = name
        path = directory + "/" + name
        descriptor = try SystemCall.open(
            path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode: 0o644, what: "create",
            code: .ioCreate)
        hasher = try Hasher(hash)
        buffer.reserveCapacity(1 << 18)
    }

    deinit { if descriptor >= 0 { SystemCall.close(descriptor) } }

    func write(_ text: String) throws(OTAError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 18 { try flush() }
    }

    func write(bytes: some Sequence<UInt8>) throws(OTAError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 18 { try flush() }
    }

    /// Writes out the buffered bytes.
    func flush() throws(OTAError) {
        guard !buffer.isEmpty else { return }
        hasher.update(buffer)
        try SystemCall.writeAll(descriptor, buffer, path: path)
        size += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and returns the file's digest; `commit()` later closes it.
    func finish() throws(OTAError) -> Digest {
        try flush()
        return hasher.finalize()
    }

    /// Closes the file; its bytes reach the disk with the exporter's one sync of the staging
    /// directory's file system, which reports a failed write.
    func commit() {
        SystemCall.close(descriptor)
        descriptor = -1
    }
}
