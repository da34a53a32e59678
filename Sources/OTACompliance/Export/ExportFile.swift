import OTACore

/// One export output file: buffered writes into an `AtomicFileWriter` (nothing appears under the
/// final name unless the whole export succeeds), hashed as it is written for the manifest.
final class ExportFile {
    let name: String
    private let writer: AtomicFileWriter
    private let hasher: Hasher
    private var buffer: [UInt8] = []
    private(set) var size: Int64 = 0

    init(directory: String, name: String, hash: HashAlgorithm) throws(OTAError) {
        self.name = name
        writer = try AtomicFileWriter(path: directory + "/" + name)
        hasher = try Hasher(hash)
        buffer.reserveCapacity(1 << 18)
    }

    func write(_ text: String) throws(OTAError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 18 { try flush() }
    }

    func write(bytes: some Sequence<UInt8>) throws(OTAError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 18 { try flush() }
    }

    private func flush() throws(OTAError) {
        guard !buffer.isEmpty else { return }
        hasher.update(buffer)
        try writer.write(buffer)
        size += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and returns the file's digest; `commit()` later moves it into place.
    func finish() throws(OTAError) -> Digest {
        try flush()
        return hasher.finalize()
    }

    func commit() throws(OTAError) { try writer.commit() }
}
