internal import CArchive
package import OTABase

/// Reads a tar archive sequentially with libarchive, straight from a file descriptor: entries are
/// handed to the caller as streams and never touch the file system. Only the `tar` format is
/// enabled (no compression filters, no other formats), and the raw bytes pass through
/// `TarFraming` on their way in.
package final class ArchiveReader {
    /// One archive entry's header, as libarchive parsed it.
    public struct Entry: Sendable {
        public let name: String
        public let size: Int64?
        public let isRegularFile: Bool
        public let isHardLink: Bool
        public let isSymbolicLink: Bool
        public let isSparse: Bool
        public let fileTypeDescription: String
    }

    /// Raw bytes come from here. libarchive keeps the pointer it is given until the next
    /// callback, so the buffer is allocated once and owned for the reader's lifetime (never a
    /// pointer escaping a `withUnsafeBytes` closure).
    final class Source {
        let file: InputFile
        let buffer: UnsafeMutableRawBufferPointer
        var framing = TarFraming()
        var failure: OTAError?
        private(set) var bytesRead: UInt64 = 0
        private var reachedEnd = false

        init(file: InputFile, bufferSize: Int) {
            self.file = file
            self.buffer = .allocate(byteCount: bufferSize, alignment: 16)
        }

        deinit { buffer.deallocate() }

        /// Reads the next piece for libarchive; returns its length (0 at end, -1 on failure).
        func next(_ pointer: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
            if failure != nil { return -1 }
            do throws(OTAError) {
                let count = try file.read(into: buffer)
                if count == 0 {
                    if !reachedEnd {
                        try framing.finish()
                        reachedEnd = true
                    }
                    return 0
                }
                try framing.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                bytesRead += UInt64(count)
                pointer.pointee = UnsafeRawPointer(buffer.baseAddress)
                return count
            } catch {
                failure = error
                return -1
            }
        }
    }

    public let path: String
    private let archive: OpaquePointer
    private let source: Source
    private var currentEntryName = ""

    /// Opens `file` for reading as a plain tar.
    public init(file: InputFile, bufferSize: Int = 64 * 1024) throws(OTAError) {
        path = file.path
        source = Source(file: file, bufferSize: bufferSize)
        guard let archive = archive_read_new() else {
            throw OTAError(.archiveInternal, "\(file.path): cannot allocate an archive reader")
        }
        self.archive = archive
        guard archive_read_support_format_tar(archive) == ARCHIVE_OK else {
            throw OTAError(.archiveInternal, "\(file.path): libarchive lacks tar support")
        }
        let rc = archive_read_open(
            archive, Unmanaged.passUnretained(source).toOpaque(), nil,
            { _, clientData, buffer in
                let source = Unmanaged<Source>.fromOpaque(clientData!).takeUnretainedValue()
                return source.next(buffer!)
            }, nil)
        guard rc == ARCHIVE_OK else { throw failure("cannot open") }
    }

    deinit {
        archive_read_free(archive)
        withExtendedLifetime(source) {}
    }

    /// Total raw bytes read from the file so far.
    public var bytesRead: UInt64 { source.bytesRead }

    /// The next entry header, or nil at the end of the archive.
    public func nextEntry() throws(OTAError) -> Entry? {
        var entryPointer: OpaquePointer? = nil
        let rc = archive_read_next_header(archive, &entryPointer)
        if rc == ARCHIVE_EOF {
            // libarchive stops at the first zero block; drain so framing sees the rest.
            try drainToEnd()
            return nil
        }
        guard rc == ARCHIVE_OK, let entry = entryPointer else { throw failure("cannot read the next entry header") }
        let name = archive_entry_pathname_utf8(entry).map { String(cString: $0) } ?? ""
        currentEntryName = name
        let type = archive_entry_filetype(entry)
        return Entry(
            name: name,
            size: archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil,
            isRegularFile: type == CArchive_AE_IFREG,
            isHardLink: archive_entry_hardlink(entry) != nil,
            isSymbolicLink: type == CArchive_AE_IFLNK || archive_entry_symlink(entry) != nil,
            isSparse: archive_entry_sparse_count(entry) > 0,
            fileTypeDescription: Self.describe(type))
    }

    /// Reads up to `buffer.count` bytes of the current entry's data; 0 at its end.
    public func read(into buffer: inout [UInt8]) throws(OTAError) -> Int {
        let count = buffer.count
        let rc = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, count) }
        guard rc >= 0 else { throw failure("cannot read entry '\(currentEntryName)'") }
        return rc
    }

    /// Fills `buffer[offset..<offset+count]` from the current entry; returns how many bytes came
    /// (fewer only at the end of the entry).
    public func read(into buffer: inout [UInt8], offset: Int, count: Int) throws(OTAError) -> Int {
        precondition(offset >= 0 && offset + count <= buffer.count)
        var total = 0
        while total < count {
            let start = offset + total
            let want = count - total
            let rc = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress! + start, want) }
            guard rc >= 0 else { throw failure("cannot read entry '\(currentEntryName)'") }
            if rc == 0 { break }
            total += rc
        }
        return total
    }

    /// Reads the current entry fully into memory, refusing more than `limit` bytes.
    public func readAll(limit: Int) throws(OTAError) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try read(into: &buffer)
            if count == 0 { return out }
            guard out.count + count <= limit else {
                throw OTAError(
                    .bundleEntryTooLarge,
                    "\(path): entry '\(currentEntryName)' is larger than its limit of \(limit) bytes")
            }
            out += buffer[0..<count]
        }
    }

    private func drainToEnd() throws(OTAError) {
        // Pull the rest of the file through the framing check (end marker, no trailing bytes).
        var scratch: UnsafeRawPointer? = nil
        while true {
            let count = source.next(&scratch)
            if count == 0 { return }
            if count < 0 { throw source.failure ?? OTAError(.bundleFraming, "\(path): unreadable tail") }
        }
    }

    private func failure(_ what: String) -> OTAError {
        if let framing = source.failure { return framing.prefixed(path) }
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        return OTAError(.bundleArchive, "\(path): \(what): \(message)")
    }

    private static func describe(_ type: UInt32) -> String {
        switch type & CArchive_AE_IFMT {
        case CArchive_AE_IFREG: "regular file"
        case CArchive_AE_IFDIR: "directory"
        case CArchive_AE_IFLNK: "symbolic link"
        default: "special file (mode \(String(type, radix: 8)))"
        }
    }
}
