internal import Dispatch
internal import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Flushes what has been written to a file or device so far to stable storage (`fdatasync`) on
/// a thread of its own, while its owner goes on writing: every `every` bytes the owner reports
/// written (`written(upTo:)`), one flush at a time, a request made while one runs dropped.
///
/// Starting the device writes (`sync_file_range`, `posix_fadvise`) is not enough where the
/// device has a large write cache (a virtual disk whose host caches the image, an eMMC's cache):
/// the final fsync then waits for the cache's whole flush. Flushed early, it waits for the last
/// stretch only. The kernel reports a write error to one sync call only, so a flush's error is
/// kept for `finish`, which the owner calls before its own final sync and which throws it as the
/// owner's error.
package final class EarlyFlusher: Sendable {
    /// Bytes written between two requests, for `ota-patch`'s output and the installer's slots:
    /// chosen on five tuning pairs, checked on the third held-out set (docs/PERFORMANCE.md,
    /// "Early flushes"; measured on a virtual disk only).
    package static let interval = 2 << 20

    private let descriptor: Int32
    /// Bytes written between two requests made by `written(upTo:)`.
    private let every: Int64
    private let dataSync: @Sendable (Int32) -> Int32
    private let queue = DispatchQueue(label: "ota.io.flush")
    private let state = Mutex<(running: Bool, failure: Int32, count: Int, requestedAt: Int64)>((false, 0, 0, 0))

    /// - Parameters:
    ///   - every: bytes written between two flushes requested by `written(upTo:)`.
    ///   - dataSync: the system call (tests make it fail).
    package init(
        descriptor: Int32, every: Int = EarlyFlusher.interval,
        dataSync: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }
    ) {
        self.descriptor = descriptor
        self.every = Int64(every)
        self.dataSync = dataSync
    }

    /// Notes that the file holds bytes up to `end`, and starts a flush (unless one is running)
    /// when `every` bytes or more were written since the last request.
    package func written(upTo end: Int64) {
        let due = state.withLock { state in
            guard end - state.requestedAt >= every else { return false }
            state.requestedAt = end
            return true
        }
        if due { request() }
    }

    /// Starts a flush unless one is running.
    private func request() {
        let start = state.withLock { state in
            if state.running { return false }
            state.running = true
            state.count += 1
            return true
        }
        guard start else { return }
        queue.async { [self] in
            var error: Int32 = 0
            while dataSync(descriptor) != 0 {
                error = errno
                if error != EINTR { break }
                error = 0
            }
            state.withLock { state in
                state.running = false
                if state.failure == 0 { state.failure = error }
            }
        }
    }

    /// Flushes started so far.
    package var count: Int { state.withLock { $0.count } }

    /// Waits for the flush running, if any; returns the first failed flush's `errno`, 0 if none
    /// failed. The descriptor must stay open until this returns.
    package func wait() -> Int32 {
        queue.sync {}
        return state.withLock { $0.failure }
    }

    /// Waits for the flush running, if any, and throws the first failed flush's error as the
    /// owner's (`code`, naming `path`): the owner calls this before its own final sync.
    package func finish(path: String, code: OTAError.Code) throws(OTAError) {
        let error = wait()
        if error != 0 { throw OTAError(code, "\(path): fdatasync failed", cause: SystemCall.errnoText(error)) }
    }
}
