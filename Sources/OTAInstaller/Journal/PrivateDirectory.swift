import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// The installer's working directory: created 0700, opened once without following links, owned by
/// us and closed to everyone else. Every file inside is reached relative to the open descriptor
/// (`openat`, `renameat`), so swapping a path component for a link after opening changes nothing.
final class PrivateDirectory {
    let path: String
    private let descriptor: Int32

    init(path: String, create: Bool) throws(OTAError) {
        self.path = path
        if create {
            let made = SystemCall.retryingRaw { mkdir(path, 0o700) }
            if made.0 != 0, made.1 != EEXIST {
                throw OTAError(
                    .ioMkdir, "\(path): cannot create the installer's private directory",
                    cause: SystemCall.errnoText(made.1))
            }
        }
        let (fd, error) = SystemCall.retryingRaw { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            if error == ELOOP || error == ENOTDIR {
                throw OTAError(
                    .vehiclePrivateDir, "\(path): the installer's private directory is a link or not a directory")
            }
            throw OTAError(
                error == ENOENT ? .ioNotFound : .ioOpen, "\(path): cannot open the installer's private directory",
                cause: SystemCall.errnoText(error))
        }
        let info: stat
        do throws(OTAError) { info = try SystemCall.status(fd, path: path) } catch {
            SystemCall.close(fd)
            throw error
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            SystemCall.close(fd)
            throw OTAError(
                .vehiclePrivateDir,
                "\(path): the installer's private directory must be a directory of ours with mode 0700")
        }
        descriptor = fd
    }

    deinit {
        if lockDescriptor >= 0 { SystemCall.close(lockDescriptor) }
        SystemCall.close(descriptor)
    }

    /// Takes an exclusive lock for the life of this object (one installer at a time), waiting
    /// up to `timeout` seconds for another holder to finish.
    func lock(timeout: Double) throws(OTAError) {
        let fd = try SystemCall.retrying("open", path: "\(path)/lock", code: .ioOpen) {
            openat(descriptor, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        var waited = 0.0
        while try !lockTaken(fd) {
            guard waited < timeout else {
                SystemCall.close(fd)
                throw OTAError(.installBusy, "another installer holds \(path)/lock")
            }
            usleep(10_000)
            waited += 0.01
        }
        lockDescriptor = fd  // released when this object is freed or the process exits
    }

    private var lockDescriptor: Int32 = -1

    private func lockTaken(_ fd: Int32) throws(OTAError) -> Bool {
        do { return try SystemCall.tryLock(fd, path: "\(path)/lock") } catch {
            SystemCall.close(fd)
            throw error
        }
    }

    /// Reads a whole file; nil when it does not exist.
    func read(_ name: String, limit: Int = 16 << 20) throws(OTAError) -> [UInt8]? {
        let (fd, error) = SystemCall.retryingRaw { openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 {
            if error == ENOENT { return nil }
            throw OTAError(.ioOpen, "\(path)/\(name): cannot open", cause: SystemCall.errnoText(error))
        }
        defer { SystemCall.close(fd) }
        return try SystemCall.readAll(fd, limit: limit, path: "\(path)/\(name)")
    }

    /// Replaces `name` atomically: temporary file, fsync, `renameat`, fsync of this directory.
    func write(_ name: String, _ bytes: [UInt8]) throws(OTAError) {
        let temporary = ".\(name).tmp"
        _ = SystemCall.retryingRaw { unlinkat(descriptor, temporary, 0) }
        let fd = try SystemCall.retrying("create", path: "\(path)/\(temporary)", code: .ioCreate) {
            openat(descriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        do throws(OTAError) {
            // Named as the file being replaced: the temporary name means nothing to the reader.
            try SystemCall.writeAll(fd, bytes, path: "\(path)/\(name)")
            try SystemCall.retrying("fsync", path: "\(path)/\(name)") { fsync(fd) }
        } catch {
            SystemCall.close(fd)
            _ = unlinkat(descriptor, temporary, 0)
            throw error
        }
        SystemCall.close(fd)
        do throws(OTAError) {
            try SystemCall.retrying("rename", path: "\(path)/\(name)") {
                renameat(descriptor, temporary, descriptor, name)
            }
        } catch {
            _ = unlinkat(descriptor, temporary, 0)
            throw error
        }
        try SystemCall.retrying("directory fsync", path: path) { fsync(descriptor) }
    }
}
