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
        if create, mkdir(path, 0o700) != 0, errno != EEXIST {
            throw OTAError(.ioMkdir, "\(path): cannot create the installer's private directory", cause: String(cString: strerror(errno)))
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            if error == ELOOP || error == ENOTDIR {
                throw OTAError(.vehiclePrivateDir, "\(path): the installer's private directory is a link or not a directory")
            }
            throw OTAError(
                error == ENOENT ? .ioNotFound : .ioOpen, "\(path): cannot open the installer's private directory", cause: String(cString: strerror(error)))
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            close(fd)
            throw OTAError(.vehiclePrivateDir, "\(path): the installer's private directory must be a directory of ours with mode 0700")
        }
        descriptor = fd
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
        close(descriptor)
    }

    /// Takes an exclusive lock for the life of this object (one installer at a time), waiting
    /// up to `timeout` seconds for another holder to finish.
    func lock(timeout: Double) throws(OTAError) {
        let fd = openat(descriptor, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OTAError(.ioOpen, "\(path)/lock: cannot open", cause: String(cString: strerror(errno))) }
        var waited = 0.0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard waited < timeout else {
                close(fd)
                throw OTAError(.installBusy, "another installer holds \(path)/lock")
            }
            usleep(10_000)
            waited += 0.01
        }
        lockDescriptor = fd  // released when this object is freed or the process exits
    }

    private var lockDescriptor: Int32 = -1

    /// Reads a whole file; nil when it does not exist.
    func read(_ name: String, limit: Int = 16 << 20) throws(OTAError) -> [UInt8]? {
        let fd = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw OTAError(.ioOpen, "\(path)/\(name): cannot open", cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in Glibc.read(fd, raw.baseAddress, raw.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw OTAError(.ioFailed, "\(path)/\(name): read failed", cause: String(cString: strerror(errno)))
            }
            if count == 0 { return out }
            out += buffer[0..<count]
            if out.count > limit { throw OTAError(.ioTooLarge, "\(path)/\(name): larger than \(limit) bytes") }
        }
    }

    /// Replaces `name` atomically: temporary file, fsync, `renameat`, fsync of this directory.
    func write(_ name: String, _ bytes: [UInt8]) throws(OTAError) {
        let temporary = ".\(name).tmp"
        unlinkat(descriptor, temporary, 0)
        let fd = openat(descriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OTAError(.ioCreate, "\(path)/\(temporary): cannot create", cause: String(cString: strerror(errno))) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                let text = String(cString: strerror(errno))
                close(fd)
                throw OTAError(.ioFailed, "\(path)/\(temporary): write failed", cause: text)
            }
            offset += count
        }
        guard fsync(fd) == 0 else {
            let text = String(cString: strerror(errno))
            close(fd)
            throw OTAError(.ioFailed, "\(path)/\(temporary): fsync failed", cause: text)
        }
        close(fd)
        guard renameat(descriptor, temporary, descriptor, name) == 0 else {
            throw OTAError(.ioFailed, "\(path)/\(name): rename failed", cause: String(cString: strerror(errno)))
        }
        guard fsync(descriptor) == 0 else { throw OTAError(.ioFailed, "\(path): directory fsync failed", cause: String(cString: strerror(errno))) }
    }
}
