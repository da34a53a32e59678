#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file opened for reading, sequentially or at offsets (`pread`), closed on deinit.
package final class InputFile {
    public let path: String
    package let descriptor: Int32

    /// Opens `path` for reading; `followLinks: false` refuses a symbolic link (`O_NOFOLLOW`).
    ///
    /// Only the `accepted` kinds of file are opened (by default regular files): the open itself
    /// cannot block (`O_NONBLOCK`, so a FIFO with no writer does not hang it), and what was opened
    /// is checked with `fstat` before anything is read. Anything else is refused with `notAFile`.
    public init(
        path: String, followLinks: Bool = true, accepting accepted: Kinds = .regular,
        notAFile: OTAError.Code = .ioNotAFile
    ) throws(OTAError) {
        self.path = path
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK
        if !followLinks { flags |= O_NOFOLLOW }
        let (fd, error) = SystemCall.retryingRaw { open(path, flags) }
        if fd < 0 {
            let code: OTAError.Code = error == ENOENT ? .ioNotFound : .ioOpen
            throw OTAError(code, "\(path): cannot open for reading", cause: SystemCall.errnoText(error))
        }
        let info: stat
        do throws(OTAError) { info = try SystemCall.status(fd, path: path) } catch {
            SystemCall.close(fd)
            throw error
        }
        let kind = info.st_mode & S_IFMT
        let allowed =
            (kind == S_IFREG && accepted.contains(.regular)) || (kind == S_IFBLK && accepted.contains(.blockDevice))
            || ((kind == S_IFIFO || kind == S_IFCHR) && accepted.contains(.stream))
        guard allowed else {
            SystemCall.close(fd)
            throw OTAError(notAFile, "\(path): \(FileSystem.kindName(info.st_mode)), not a regular file")
        }
        if kind == S_IFREG { ReadFiles.record(info, path: path) }
        // Reads block as usual from here (O_NONBLOCK only kept the open from waiting).
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        // A FIFO's read ends at once while no writer has opened it yet: wait for the writer's
        // first bytes or its close, as a blocking open would have (Linux reports no hang-up to
        // this descriptor for writers gone before it was opened).
        if kind == S_IFIFO { try Self.waitForWriter(fd, path: path) }
        descriptor = fd
    }

    /// Waits until the FIFO open on `descriptor` has bytes to read or its writers have closed it;
    /// closes `descriptor` when the wait fails.
    private static func waitForWriter(_ descriptor: Int32, path: String) throws(OTAError) {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let (result, error) = SystemCall.retryingRaw { poll(&request, 1, -1) }
        if result < 0 {
            SystemCall.close(descriptor)
            throw OTAError(
                .ioFailed, "\(path): waiting for the FIFO's writer failed", cause: SystemCall.errnoText(error))
        }
    }

    deinit { SystemCall.close(descriptor) }

    /// Kinds of file an `InputFile` may open.
    public struct Kinds: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let regular = Kinds(rawValue: 1)
        public static let blockDevice = Kinds(rawValue: 2)
        /// Pipes and character devices, read as streams (a delta's input from a pipe).
        public static let stream = Kinds(rawValue: 4)
    }

    /// The file's current size in bytes.
    public func size() throws(OTAError) -> Int64 {
        Int64(try SystemCall.status(descriptor, path: path).st_size)
    }

    /// Whether this is a regular file (not a directory, device or pipe).
    public func isRegularFile() throws(OTAError) -> Bool {
        (try SystemCall.status(descriptor, path: path).st_mode & S_IFMT) == S_IFREG
    }

    /// Reads up to `buffer.count` bytes from the current position; 0 means end of file.
    public func read(into buffer: inout [UInt8]) throws(OTAError) -> Int {
        let capacity = buffer.count
        let fd = descriptor
        let outcome = buffer.withUnsafeMutableBytes { raw in
            SystemCall.retryingRaw { Glibc.read(fd, raw.baseAddress, capacity) }
        }
        return try SystemCall.check(outcome, "read", path: path)
    }

    /// Reads up to `buffer.count` bytes from the current position into memory the caller owns;
    /// 0 means end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) -> Int {
        let fd = descriptor
        let outcome = SystemCall.retryingRaw { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        return try SystemCall.check(outcome, "read", path: path)
    }

    /// Fills `buffer` completely unless the file ends first; returns the count read.
    public func readFully(into buffer: inout [UInt8]) throws(OTAError) -> Int {
        var total = 0
        let fd = descriptor
        while total < buffer.count {
            let outcome = buffer.withUnsafeMutableBytes { raw in
                SystemCall.retryingRaw { Glibc.read(fd, raw.baseAddress! + total, raw.count - total) }
            }
            let count = try SystemCall.check(outcome, "read", path: path)
            if count == 0 { break }
            total += count
        }
        return total
    }

    /// Reads up to `count` bytes at `offset` without moving the file position.
    public func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var total = 0
        let fd = descriptor
        while total < count {
            let outcome = buffer.withUnsafeMutableBytes { raw in
                SystemCall.retryingRaw {
                    pread(fd, raw.baseAddress! + total, count - total, off_t(offset) + off_t(total))
                }
            }
            let got = try SystemCall.check(outcome, "pread", path: path)
            if got == 0 { break }
            total += got
        }
        buffer.removeLast(count - total)
        return buffer
    }

    /// Reads up to `buffer.count` bytes at `offset` into `buffer` (no allocation); returns the
    /// count read, less than asked only at the end of the file.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) -> Int {
        var total = 0
        let fd = descriptor
        while total < buffer.count {
            let outcome = SystemCall.retryingRaw {
                pread(fd, buffer.baseAddress! + total, buffer.count - total, off_t(offset) + off_t(total))
            }
            let got = try SystemCall.check(outcome, "pread", path: path)
            if got == 0 { break }
            total += got
        }
        return total
    }

    /// Reads the whole file, refusing one larger than `limit` bytes.
    public func readAll(limit: Int) throws(OTAError) -> [UInt8] {
        // A regular file's size is known: read straight into one buffer of that size (no
        // regrowth: a 2 GiB image costs 2 GiB, not up to twice that while the array grows).
        let expected = (try? isRegularFile()) == true ? Int(try size()) : 0
        if expected > limit { throw OTAError(.ioTooLarge, "\(path): larger than the limit of \(limit) bytes") }
        var out = [UInt8](repeating: 0, count: expected)
        let got = try readFully(into: &out)
        out.removeLast(expected - got)
        // Whatever follows (a pipe, or a file that grew) is appended in pieces.
        try SystemCall.readAll(descriptor, appendingTo: &out, limit: limit, path: path)
        return out
    }
}

/// Convenience file reads and checks.
package enum FileSystem {
    /// Reads a whole (small) file, refusing one larger than `limit`.
    public static func read(_ path: String, limit: Int = 16 << 20) throws(OTAError) -> [UInt8] {
        try InputFile(path: path).readAll(limit: limit)
    }

    /// `path` with every symbolic link resolved (`realpath`), or `path` itself when it cannot be
    /// (it does not exist: the open that follows reports it).
    package static func resolvingLinks(_ path: String) -> String {
        realPath(path) ?? path
    }

    /// `path` with every symbolic link and `..` resolved (`realpath`), or nil when it does not
    /// exist or cannot be resolved.
    package static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// What a file of `mode` (`st_mode`) is, for messages: "a directory", "a FIFO", ...
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in a directory (not `.` or `..`), sorted; throws if it cannot be opened, or if a
    /// name is not UTF-8 (`io.name-not-utf8`): such a name has no `String` that opens it.
    public static func list(_ path: String) throws(OTAError) -> [String] {
        let listing = try listing(path)
        if let name = listing.namesNotUTF8.first {
            throw OTAError(
                .ioNameNotUTF8,
                "\(path): the entry \"\(name)\" is not named in UTF-8 (bytes shown as \\xNN); rename or remove it")
        }
        return listing.names
    }

    /// A directory's entries, the names that are not UTF-8 kept apart (for readers that skip or
    /// report them rather than refuse the directory).
    package static func listing(_ path: String) throws(OTAError) -> DirectoryListing {
        guard let dir = opendir(path) else {
            throw OTAError(
                errno == ENOENT ? .ioNotFound : .ioOpen, "\(path): cannot list directory", cause: SystemCall.errnoText()
            )
        }
        defer { closedir(dir) }
        var listing = DirectoryListing()
        while let entry = readdir(dir) {
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let bytes = UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self).prefix { $0 != 0 })
                if UTF8Bytes.invalidOffset(bytes) != nil {
                    listing.namesNotUTF8.append(UTF8Bytes.escaped(bytes))
                } else {
                    let name = String(decoding: bytes, as: UTF8.self)
                    if name != "." && name != ".." { listing.names.append(name) }
                }
            }
        }
        listing.names.sort()
        listing.namesNotUTF8.sort()
        return listing
    }

    /// Creates a directory and its parents (mode 0700 by default for private material).
    public static func createDirectory(_ path: String, mode: UInt32 = 0o755) throws(OTAError) {
        if isDirectory(path) { return }
        let parent = pathParent(path)
        if !parent.isEmpty && parent != path && !isDirectory(parent) {
            try createDirectory(parent, mode: mode)
        }
        if mkdir(path, mode_t(mode)) != 0 && errno != EEXIST {
            throw OTAError(.ioMkdir, "\(path): cannot create directory", cause: SystemCall.errnoText())
        }
    }
}

/// Minimal path arithmetic on `/`-separated strings.
package struct PathComponents {
    package let value: String
    package init(_ value: String) { self.value = value }

    package var parent: String {
        guard let slash = value.lastIndex(of: "/") else { return "" }
        if slash == value.startIndex { return "/" }
        return String(value[..<slash])
    }

    package var lastComponent: String {
        guard let slash = value.lastIndex(of: "/") else { return value }
        return String(value[value.index(after: slash)...])
    }
}

package func pathParent(_ path: String) -> String { PathComponents(path).parent }
package func pathLastComponent(_ path: String) -> String { PathComponents(path).lastComponent }
