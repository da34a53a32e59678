internal import CArchive
internal import Foundation
package import OTABase

/// Writes a deterministic tar (pax-restricted: plain ustar unless a field needs pax) through
/// libarchive into an `AtomicFileWriter`: fixed metadata (mode 0644, uid/gid 0, mtime 0, no
/// owner names), 512-byte blocks, and no padding after the end-of-archive marker.
package final class ArchiveWriter {
    final class Sink {
        let output: AtomicFileWriter
        var failure: OTAError?
        init(output: AtomicFileWriter) { self.output = output }
    }

    private let archive: OpaquePointer
    private let sink: Sink
    private var entryRemaining: Int64 = 0
    private var finished = false

    public init(output: AtomicFileWriter) throws(OTAError) {
        sink = Sink(output: output)
        guard let archive = archive_write_new() else {
            throw OTAError(.archiveInternal, "cannot allocate an archive writer")
        }
        self.archive = archive
        guard archive_write_set_format_ustar(archive) == ARCHIVE_OK,
            archive_write_set_bytes_per_block(archive, 512) == ARCHIVE_OK,
            archive_write_set_bytes_in_last_block(archive, 1) == ARCHIVE_OK
        else {
            throw failure("cannot configure the tar writer")
        }
        let rc = archive_write_open(
            archive, Unmanaged.passUnretained(sink).toOpaque(), nil,
            { archive, clientData, buffer, length in
                let sink = Unmanaged<Sink>.fromOpaque(clientData!).takeUnretainedValue()
                do throws(OTAError) {
                    try sink.output.write(UnsafeRawBufferPointer(start: buffer, count: length))
                    return length
                } catch {
                    sink.failure = error
                    CArchive_set_error(archive, 5, "write failed")
                    return -1
                }
            }, nil)
        guard rc == ARCHIVE_OK else { throw failure("cannot open the tar writer") }
    }

    deinit {
        archive_write_free(archive)
        withExtendedLifetime(sink) {}
    }

    /// Starts a regular-file entry of exactly `size` bytes.
    public func beginEntry(name: String, size: Int64) throws(OTAError) {
        guard entryRemaining == 0 else {
            throw OTAError(.archiveInternal, "entry started before the previous one was complete")
        }
        guard let entry = archive_entry_new() else {
            throw OTAError(.archiveInternal, "cannot allocate an archive entry")
        }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, name)
        archive_entry_set_size(entry, size)
        archive_entry_set_filetype(entry, CArchive_AE_IFREG)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, 0, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            throw failure("cannot write the header of '\(name)'")
        }
        entryRemaining = size
    }

    /// Writes entry data; the total must equal the size given to `beginEntry`.
    public func write(_ bytes: some ByteStorage) throws(OTAError) {
        try bytes.withBytes { (raw: UnsafeRawBufferPointer) throws(OTAError) in try writeRaw(raw) }
    }

    private func writeRaw(_ bytes: UnsafeRawBufferPointer) throws(OTAError) {
        guard Int64(bytes.count) <= entryRemaining else {
            throw OTAError(.archiveInternal, "more entry data than its declared size")
        }
        var offset = 0
        while offset < bytes.count {
            let written = archive_write_data(archive, bytes.baseAddress! + offset, bytes.count - offset)
            guard written > 0 else { throw failure("cannot write entry data") }
            offset += written
        }
        entryRemaining -= Int64(bytes.count)
    }

    /// Writes the end-of-archive marker and flushes.
    public func finish() throws(OTAError) {
        guard entryRemaining == 0 else { throw OTAError(.archiveInternal, "archive closed in the middle of an entry") }
        guard !finished else { return }
        finished = true
        guard archive_write_close(archive) == ARCHIVE_OK else { throw failure("cannot finish the archive") }
    }

    private func failure(_ what: String) -> OTAError {
        if let failure = sink.failure { return failure }
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        return OTAError(.archiveWrite, "\(what): \(message)")
    }
}
