internal import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The regular files a command-line process (`ota`, `ota-diff`, `ota-patch`) has opened for
/// reading (`InputFile`), by device and inode, so that an output a command names (`-o`) never
/// replaces one of its own inputs: `ota-diff OLD
/// NEW -o OLD`, `ota bundle build … -o IMAGE` or `ota approve BUNDLE … -o BUNDLE` replaced the
/// input with the output, exit 0. Writers that may replace their input on purpose (co-signing a
/// bundle in place, patching an image in place) do not ask.
package enum ReadFiles {
    struct Identity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// Files recorded at most (a long-running process stops recording past it; a command reads
    /// a handful).
    static let capacity = 4096

    private static let files = Mutex<[Identity: String]>([:])
    private static let tracking = Atomic<Bool>(false)

    /// Starts recording, for a command-line process (`ota`, `ota-diff`), which runs one command:
    /// in a library user (the agent, a test process) a file read by an earlier operation is no
    /// input of a later one (a bundle verified, then built again to the same path).
    package static func startTracking() {
        tracking.store(true, ordering: .releasing)
    }

    /// Records a regular file opened for reading as `path`.
    static func record(_ info: stat, path: String) {
        guard tracking.load(ordering: .acquiring) else { return }
        files.withLock { files in
            if files.count < capacity {
                files[Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))] = path
            }
        }
    }

    /// The path an input was read under, when `info` is one.
    static func input(matching info: stat) -> String? {
        files.withLock { $0[Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))] }
    }

    /// Throws `io.output-is-input` when `path` names (through links) a regular file this process
    /// read, and that file is still there under the name it was read by: an inode is reused once
    /// its file is deleted (a test process read a CRL, the CRL went, and a bundle got its inode).
    package static func refuseOutput(_ path: String) throws(OTAError) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, let input = input(matching: info) else {
            return
        }
        var read = stat()
        guard stat(input, &read) == 0, read.st_dev == info.st_dev, read.st_ino == info.st_ino else { return }
        throw OTAError(
            .ioOutputIsInput,
            "\(path): is \(input == path ? "an input" : "the input \(input)") of this command; the output would replace it: write it elsewhere"
        )
    }
}
