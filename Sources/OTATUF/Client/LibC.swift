#if canImport(Glibc)
    import Glibc
#endif

/// `unlink(2)`, true on success.
func unlinkFile(_ path: String) -> Bool { unlink(path) == 0 }

/// Wall-clock seconds since 1970, read through libc's `clock_gettime` (so tools such as
/// libfaketime that shift time for a test see every read).
public func wallClockSeconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec)
}
