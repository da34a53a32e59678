#if canImport(Glibc)
    import Glibc
#endif

/// Holds a transfer to `bytesPerSecond` by sleeping in the data callback once it is ahead of
/// the rate (TCP flow control then slows the peer). Our own because libcurl 7.88's
/// `CURLOPT_MAX_RECV_SPEED_LARGE` let 2–2.5 times the cap through on loopback (measured with the
/// curl 7.88.1 command line: 8 MB at `--limit-rate 200000` took 15.7 s, not 40 s).
final class RateLimiter {
    let bytesPerSecond: Int64
    private var start: timespec?
    private var total: Int64 = 0

    /// Nil for no cap (0 or less).
    init?(bytesPerSecond: Int64) {
        guard bytesPerSecond > 0 else { return nil }
        self.bytesPerSecond = bytesPerSecond
    }

    /// Counts `count` bytes moved; sleeps until the average since the first call is back at the cap.
    func consumed(_ count: Int) {
        let now = Self.monotonic()
        guard let start else {
            self.start = now
            total = Int64(count)
            return
        }
        total += Int64(count)
        let elapsed = Double(now.tv_sec - start.tv_sec) + Double(now.tv_nsec - start.tv_nsec) / 1e9
        let due = Double(total) / Double(bytesPerSecond)
        if due > elapsed { usleep(UInt32(min(due - elapsed, 5) * 1_000_000)) }
    }

    static func monotonic() -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now
    }
}
