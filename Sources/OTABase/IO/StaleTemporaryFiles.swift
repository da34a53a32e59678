internal import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Temporary files beside an output that no one will finish: a process stopped by SIGKILL (the
/// out-of-memory killer, a watchdog) or a power cut cannot remove its own, which `InterruptCleanup`
/// does for the other signals, and a bundle's can be gigabytes. Their names carry the writer's
/// process id (`PREFIX<pid>-<random>`), so the next writer of the same output removes those
/// whose process is gone and that have not changed for `minimumAge` seconds (a writer in another
/// PID namespace sharing the directory still writes to its file). A process sweeps each
/// directory and prefix once: the recorder rewrites `HEAD` at every checkpoint, and reading the
/// directory each time would be repeated work for files that only a dead process leaves.
package enum StaleTemporaryFiles {
    /// Directory and prefix pairs this process has swept.
    private static let swept = Mutex<Set<String>>([])

    /// Pairs remembered at most; past it the memory starts over (a second sweep is harmless).
    static let capacity = 1024

    /// Seconds a temporary file must have been left unchanged before it is taken as abandoned.
    static let minimumAge = 60

    /// The name of this process's temporary file: `prefix`, the process id, `-`, `random`.
    package static func name(prefix: String, random: String) -> String {
        "\(prefix)\(getpid())-\(random)"
    }

    /// Removes, from `directory` (`""`: the working directory), the regular files of ours named
    /// `prefix<pid>-…` whose process no longer runs and that are older than `minimumAge`. Best
    /// effort: whatever cannot be read or removed is left. Once per `directory` and `prefix` in a
    /// process.
    package static func sweep(directory: String, prefix: String) {
        let firstTime = swept.withLock { pairs in
            if pairs.count >= capacity { pairs.removeAll() }
            return pairs.insert(directory + "\u{0}" + prefix).inserted
        }
        guard firstTime else { return }
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { return }
        defer { close(directoryFD) }
        guard let listing = fdopendir(dup(directoryFD)) else { return }
        defer { closedir(listing) }
        let now = time(nil)
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard name.hasPrefix(prefix) else { continue }
            let rest = name.utf8.dropFirst(prefix.utf8.count)
            guard let dash = rest.firstIndex(of: UInt8(ascii: "-")),
                let pid = Int32(String(decoding: rest[..<dash], as: UTF8.self)), pid > 0, pid != getpid()
            else { continue }
            guard kill(pid, 0) == -1, errno == ESRCH else { continue }
            var info = stat()
            guard fstatat(directoryFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG,
                info.st_uid == geteuid(), Int(now - info.st_mtim.tv_sec) >= minimumAge
            else { continue }
            _ = unlinkat(directoryFD, name, 0)
        }
    }
}
