import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Thin libc file helpers for the recorder: one place for `EINTR` and error text.
enum LogIO {
    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(OTAError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw OTAError(.ioWrite, "\(path): write failed", cause: errnoText())
            }
            offset += written
        }
    }

    static func sync(_ fd: Int32, path: String) throws(OTAError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw OTAError(.ioFsync, "\(path): fsync failed", cause: errnoText())
        }
    }

    static func syncDirectory(_ path: String) throws(OTAError) {
        try FileSystem.syncDirectory(path)
    }

    /// Replaces `path` with `bytes` via a temporary file and `rename`; with `durable`, the data
    /// is fsync'd before the rename and the directory after it.
    static func replace(_ path: String, with bytes: [UInt8], durable: Bool) throws(OTAError) {
        if durable {
            try AtomicFileWriter.write(bytes, to: path)
            return
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw OTAError(.ioCreate, "\(temporary): cannot create", cause: errnoText()) }
        do { try writeAll(fd, bytes, path: temporary) } catch { close(fd); throw error }
        close(fd)
        if rename(temporary, path) != 0 { throw OTAError(.ioRename, "\(path): rename failed", cause: errnoText()) }
    }
}
