#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A regular file or block device mapped read-only into memory: large images are read by the
/// kernel as they are touched, with no copy and no anonymous memory (a 2 GiB image read with
/// `readAll` costs 2 GiB of private pages and the time to copy them).
///
/// The file must not shrink while mapped (reading a page past the new end would be fatal); the
/// delta encoder, its user, hashes what it read, so a file that changes is still caught.
package final class MappedFile {
    public let path: String
    /// The file's bytes (empty for an empty file).
    public let bytes: UnsafeBufferPointer<UInt8>
    private let mapping: UnsafeMutableRawPointer?

    /// Maps `path`, or returns nil when it is neither a regular file nor a block device (a pipe,
    /// a character device): read those with `InputFile.readAll`, from the file `init(file:)` was
    /// given (opening a FIFO a second time could find its writer gone).
    public convenience init?(path: String) throws(OTAError) {
        try self.init(file: InputFile(path: path, accepting: [.regular, .blockDevice, .stream]))
    }

    /// Maps `file`, or returns nil when it is neither a regular file nor a block device, leaving
    /// it unread.
    public init?(file: InputFile) throws(OTAError) {
        let kind = try SystemCall.status(file.descriptor, path: file.path).st_mode & S_IFMT
        guard kind == S_IFREG || kind == S_IFBLK else { return nil }
        // A block device's size is where a seek to its end lands (its st_size is 0).
        let size = kind == S_IFREG ? Int(try file.size()) : try Self.deviceSize(file)
        let path = file.path
        self.path = path
        guard size > 0 else {
            mapping = nil
            bytes = UnsafeBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw OTAError(.ioMap, "\(path): cannot map \(size) bytes for reading", cause: SystemCall.errnoText())
        }
        mapping = address
        bytes = UnsafeBufferPointer(start: address.assumingMemoryBound(to: UInt8.self), count: size)
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
    }

    private static func deviceSize(_ file: InputFile) throws(OTAError) -> Int {
        let end = lseek(file.descriptor, 0, SEEK_END)
        let error = errno
        guard end >= 0, lseek(file.descriptor, 0, SEEK_SET) == 0 else {
            throw OTAError(.ioFailed, "\(file.path): cannot find the device's size", cause: SystemCall.errnoText(error))
        }
        return Int(end)
    }

    /// Drops the mapped pages from this process's resident set; the bytes stay readable (the
    /// next read faults them back in from the page cache, or from the file). For a caller that
    /// will not read the file for a while and wants its memory back meanwhile.
    public func evict() {
        guard let mapping else { return }
        _ = madvise(mapping, bytes.count, MADV_DONTNEED)
    }
}
