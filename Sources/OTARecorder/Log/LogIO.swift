import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// The recorder's file steps, on OTACore's `SystemCall` (which retries `EINTR` and names the
/// path and errno's text in every error).
enum LogIO {
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(OTAError) {
        try SystemCall.writeAll(fd, bytes, path: path, code: .ioWrite)
    }

    static func sync(_ fd: Int32, path: String) throws(OTAError) {
        try SystemCall.retrying("fsync", path: path, code: .ioFsync) { fsync(fd) }
    }

    static func syncDirectory(_ path: String) throws(OTAError) {
        try FileSystem.syncDirectory(path)
    }

    /// Removes `path` (`unlink`); `what` names the file in the error.
    static func remove(_ path: String, what: String) throws(OTAError) {
        try SystemCall.retrying(what, path: path, code: .ioUnlink) { unlink(path) }
    }

    /// Replaces `path` with `bytes` via a temporary file and `rename`; with `durable`, the data
    /// is fsync'd before the rename and the directory after it.
    static func replace(_ path: String, with bytes: [UInt8], durable: Bool) throws(OTAError) {
        if durable {
            try AtomicFileWriter.write(bytes, to: path)
            return
        }
        let temporary = path + ".tmp"
        let fd = try SystemCall.open(
            temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644, what: "create", code: .ioCreate)
        do { try writeAll(fd, bytes, path: temporary) } catch {
            SystemCall.close(fd)
            throw error
        }
        SystemCall.close(fd)
        try SystemCall.rename(temporary, to: path, message: "\(path): rename failed")
    }
}
