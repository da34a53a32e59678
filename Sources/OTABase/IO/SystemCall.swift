#if canImport(Glibc)
    package import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one place libc file calls go through: retries `EINTR` and turns failures into `OTAError`s
/// that name the path (shared by the installer's and recorder's file code).
package enum SystemCall {
    package static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Runs `body` until it does not fail with `EINTR`; returns its result and the errno of a
    /// failure (for use inside closures that cannot throw typed errors).
    package static func retryingRaw<T: BinaryInteger>(_ body: () -> T) -> (T, Int32) {
        while true {
            let result = body()
            if result != -1 { return (result, 0) }
            let error = errno
            if error == EINTR { continue }
            return (result, error)
        }
    }

    /// Throws an I/O error for a failed raw call.
    package static func check<T: BinaryInteger>(
        _ outcome: (T, Int32), _ what: String, path: String, code: OTAError.Code = .ioFailed
    ) throws(OTAError) -> T {
        if outcome.0 == -1 { throw OTAError(code, "\(path): \(what) failed", cause: errnoText(outcome.1)) }
        return outcome.0
    }

    /// Runs `body` until it does not fail with `EINTR`; returns its result or throws on `-1`.
    @discardableResult
    package static func retrying<T: BinaryInteger>(
        _ what: String, path: String, code: OTAError.Code = .ioFailed, _ body: () -> T
    ) throws(OTAError) -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let error = errno
            if error == EINTR { continue }
            throw OTAError(code, "\(path): \(what) failed", cause: errnoText(error))
        }
    }

    /// Writes all of `bytes` to `descriptor`, retrying short writes and `EINTR`: at the file
    /// position (`write`), or at `offset` without moving it (`pwrite`).
    package static func writeAll(
        _ descriptor: Int32, _ bytes: some ByteStorage, at offset: Int64? = nil, path: String,
        code: OTAError.Code = .ioFailed
    ) throws(OTAError) {
        let outcome = bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> (Int, Int32) in
            var done = 0
            while done < raw.count {
                let start = raw.baseAddress! + done, count = raw.count - done
                let step = retryingRaw {
                    if let offset {
                        Glibc.pwrite(descriptor, start, count, off_t(offset) + off_t(done))
                    } else {
                        Glibc.write(descriptor, start, count)
                    }
                }
                if step.0 == -1 { return step }
                done += step.0
            }
            return (done, 0)
        }
        _ = try check(outcome, "write", path: path, code: code)
    }

    /// Opens `path`; a missing file is `io.not-found`, any other failure `code`.
    package static func open(
        _ path: String, _ flags: Int32, mode: mode_t = 0, what: String = "open", code: OTAError.Code = .ioOpen
    ) throws(OTAError) -> Int32 {
        let (descriptor, error) = retryingRaw { Glibc.open(path, flags, mode) }
        guard descriptor >= 0 else {
            throw OTAError(error == ENOENT ? .ioNotFound : code, "\(path): \(what) failed", cause: errnoText(error))
        }
        return descriptor
    }

    /// Reads at `offset` until `buffer` is full or the file ends (`pread`, without moving the
    /// file position); returns how many bytes were read.
    package static func readFully(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String,
        code: OTAError.Code = .ioFailed
    ) throws(OTAError) -> Int {
        var done = 0
        while done < buffer.count {
            let step = retryingRaw {
                Glibc.pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            let count = try check(step, "read", path: path, code: code)
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Reads `descriptor` to its end, refusing more than `limit` bytes (`io.too-large`).
    package static func readAll(_ descriptor: Int32, limit: Int, path: String) throws(OTAError) -> [UInt8] {
        var out: [UInt8] = []
        try readAll(descriptor, appendingTo: &out, limit: limit, path: path)
        return out
    }

    /// Reads `descriptor` to its end onto `out`, refusing to let `out` grow past `limit` bytes
    /// (`io.too-large`).
    package static func readAll(
        _ descriptor: Int32, appendingTo out: inout [UInt8], limit: Int, path: String
    ) throws(OTAError) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let outcome = buffer.withUnsafeMutableBytes { raw in
                retryingRaw { Glibc.read(descriptor, raw.baseAddress, raw.count) }
            }
            let count = try check(outcome, "read", path: path)
            if count == 0 { return }
            if out.count + count > limit {
                throw OTAError(.ioTooLarge, "\(path): larger than the limit of \(limit) bytes")
            }
            out += buffer[0..<count]
        }
    }

    /// Closes `descriptor`. Never retried: Linux releases the descriptor even when `close` reports
    /// `EINTR`, and a second call could close one another thread has just been given. Nothing is
    /// reported: a file whose bytes matter is fsync'd, or its file system synced (`FileSystem.syncFileSystem`),
    /// and that checked.
    package static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    /// The status (`fstat`) of an open descriptor.
    package static func status(_ descriptor: Int32, path: String) throws(OTAError) -> stat {
        var info = stat()
        try retrying("fstat", path: path) { fstat(descriptor, &info) }
        return info
    }

    /// Takes an exclusive `flock` on `descriptor` without waiting: false when another process
    /// (or another open file description) holds it.
    package static func tryLock(_ descriptor: Int32, path: String) throws(OTAError) -> Bool {
        let (result, error) = retryingRaw { flock(descriptor, LOCK_EX | LOCK_NB) }
        if result == 0 { return true }
        if error == EWOULDBLOCK { return false }
        throw OTAError(.ioFailed, "\(path): lock failed", cause: errnoText(error))
    }

    /// Releases a `flock` taken by `tryLock`.
    package static func unlock(_ descriptor: Int32) {
        _ = retryingRaw { flock(descriptor, LOCK_UN) }
    }

    /// Renames `source` to `destination` (`rename`: atomic within one file system). A failure is
    /// `code` with `message` (by default, one naming both paths) and errno's text as the cause.
    package static func rename(
        _ source: String, to destination: String, message: String? = nil, code: OTAError.Code = .ioRename
    ) throws(OTAError) {
        let (result, error) = retryingRaw { Glibc.rename(source, destination) }
        guard result == 0 else {
            throw OTAError(code, message ?? "\(source): cannot rename to \(destination)", cause: errnoText(error))
        }
    }
}
