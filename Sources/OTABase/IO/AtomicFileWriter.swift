#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a file under a temporary name in the same directory and renames it into place on
/// `commit()`, so a failure at any point leaves no partial output behind. Only a regular file
/// (or a link to one: the link is replaced) is replaced: the rename would replace any node, so
/// a directory, FIFO, socket or device at `path`, or a link to one, is refused before anything
/// is written (as root, `-o /dev/null` replaced /dev/null).
///
/// Data is fsync'd before the rename and the directory after it, so a committed file survives
/// power loss. Dropping the writer without committing removes the temporary file.
package final class AtomicFileWriter {
    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var committed = false
    private let refusingInputs: Bool
    /// The temporary file, removed if a signal stops the process.
    private let cleanup: InterruptCleanup.Registration
    public private(set) var bytesWritten: Int64 = 0
    /// When set: every this many bytes appended, the kernel is asked to start writing them to
    /// the device (`sync_file_range`, not waiting), so the device writes overlap the caller's
    /// work and `commit`'s fsync waits only for the rest. For large outputs made piece by piece;
    /// the fsync stays what makes them durable.
    package var writeback: Int?
    /// How far the device writes were started.
    private var writebackStart: Int64 = 0
    /// The early flushes, when asked for (`init`'s `flushEvery`).
    private let flusher: EarlyFlusher?
    /// Early flushes started so far.
    package var earlyFlushes: Int { flusher?.count ?? 0 }

    /// - Parameters:
    ///   - flushEvery: when set, every this many bytes appended, what is written so far is
    ///     flushed to stable storage on a thread of the writer's own (`EarlyFlusher`), so
    ///     `commit`'s fsync waits for the last stretch only; a flush's failure fails `commit`.
    ///   - dataSync: the early flushes' system call (tests make it fail).
    ///   - refusingInputs: refuse (`io.output-is-input`), here and again before the rename, when
    ///     `path` names a file this process read (`ReadFiles`): for a command's `-o` output.
    public init(
        path: String, mode: UInt32 = 0o644, flushEvery: Int? = nil,
        dataSync: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }, refusingInputs: Bool = false
    ) throws(OTAError) {
        self.path = path
        self.refusingInputs = refusingInputs
        if refusingInputs { try ReadFiles.refuseOutput(path) }
        var existing = stat()
        if stat(path, &existing) == 0 && existing.st_mode & S_IFMT != S_IFREG {
            throw OTAError(
                .ioNotAFile,
                "\(path): \(FileSystem.kindName(existing.st_mode)), not a regular file: an output replaces only a regular file"
            )
        }
        let directory = pathParent(path)
        let name = pathLastComponent(path)
        // The name has only to be unused (O_EXCL refuses one that exists) and hard to guess: the
        // system generator (getrandom(2)) gives that without starting OpenSSL's random generator,
        // which took 1.0-1.8 ms of `ota-patch`'s serial start, before the old image's hash could
        // begin (docs/PERFORMANCE-LOG.md, "`ota-patch`, fourteenth round").
        var generator = SystemRandomNumberGenerator()
        let random = generator.next()
        let suffix = Hex.encode((0..<6).map { UInt8(truncatingIfNeeded: random >> ($0 * 8)) })
        // Named with this process's id, so a later writer can tell an abandoned one (SIGKILL).
        StaleTemporaryFiles.sweep(directory: directory, prefix: ".\(name).tmp-")
        let temporaryPath =
            (directory.isEmpty ? "" : directory + "/")
            + StaleTemporaryFiles.name(prefix: ".\(name).tmp-", random: suffix)
        self.temporaryPath = temporaryPath
        // Registered before it exists: a signal between the open and a later registration left
        // the file behind (seen under load in CI). Released by its end if the open fails.
        let registration = InterruptCleanup.Registration(temporaryPath)
        let (fd, error) = SystemCall.retryingRaw {
            open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        }
        if fd < 0 {
            throw OTAError(.ioCreate, "\(path): cannot create output file", cause: SystemCall.errnoText(error))
        }
        descriptor = fd
        cleanup = registration
        flusher = flushEvery.map { EarlyFlusher(descriptor: fd, every: $0, dataSync: dataSync) }
    }

    deinit {
        _ = flusher?.wait()
        if !committed {
            if descriptor >= 0 { SystemCall.close(descriptor) }
            unlink(temporaryPath)
        }
        cleanup.release()
    }

    /// Appends bytes.
    public func write(_ bytes: some ByteStorage) throws(OTAError) {
        try SystemCall.writeAll(descriptor, bytes, path: path)
        bytesWritten += Int64(bytes.withUnsafeBytes { $0.count })
        if let writeback, bytesWritten - writebackStart >= Int64(writeback) {
            // A hint: a failure here shows again at commit's fsync.
            _ = Self.syncFileRange?(descriptor, off_t(writebackStart), off_t(bytesWritten - writebackStart), 2)
            writebackStart = bytesWritten
        }
        flusher?.written(upTo: bytesWritten)
    }

    /// Overwrites bytes already written at `offset` (a header whose fields are known only at
    /// the end); the size and the append position do not change.
    public func overwrite(_ bytes: some ByteStorage, at offset: Int64) throws(OTAError) {
        let count = Int64(bytes.withUnsafeBytes { $0.count })
        guard offset >= 0, offset + count <= bytesWritten else {
            throw OTAError(
                .ioOverwrite, "\(path): overwrite of \(count) bytes at \(offset) is past the \(bytesWritten) written")
        }
        try SystemCall.writeAll(descriptor, bytes, at: offset, path: path)
    }

    /// Linux `sync_file_range` (which the Glibc module does not declare, so it is looked up);
    /// flag 2 is SYNC_FILE_RANGE_WRITE: start writing the range's dirty pages, do not wait.
    private static let syncFileRange: (@convention(c) (Int32, off_t, off_t, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, off_t, off_t, UInt32) -> Int32).self)
    }()

    /// Flushes, renames into place and syncs the directory.
    public func commit() throws(OTAError) {
        try flusher?.finish(path: path, code: .ioFailed)
        try SystemCall.retrying("fsync", path: path) { fsync(descriptor) }
        SystemCall.close(descriptor)
        descriptor = -1
        // Inputs read after the writer was made (a bundle's images) are known by now.
        if refusingInputs { try ReadFiles.refuseOutput(path) }
        try SystemCall.retrying("rename", path: path) { rename(temporaryPath, path) }
        committed = true
        cleanup.release()
        try FileSystem.syncDirectory(pathParent(path).isEmpty ? "." : pathParent(path))
    }

    /// Writes `bytes` to `path` atomically in one call; `refusingInputs` as for `init`.
    public static func write(
        _ bytes: some ByteStorage, to path: String, mode: UInt32 = 0o644, refusingInputs: Bool = false
    ) throws(OTAError) {
        let writer = try AtomicFileWriter(path: path, mode: mode, refusingInputs: refusingInputs)
        try writer.write(bytes)
        try writer.commit()
    }
}

extension FileSystem {
    /// fsyncs a directory so a rename or create inside it is durable.
    public static func syncDirectory(_ path: String) throws(OTAError) {
        let (fd, error) = SystemCall.retryingRaw { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if fd < 0 {
            throw OTAError(.ioOpen, "\(path): cannot open directory to sync", cause: SystemCall.errnoText(error))
        }
        defer { SystemCall.close(fd) }
        try SystemCall.retrying("fsync", path: path) { fsync(fd) }
    }

    /// Flushes every file of the file system holding `path` (Linux `syncfs`, which the Glibc
    /// module does not declare, so it is looked up; `sync()` where it is missing): one call for
    /// a directory of many files written without a sync each.
    package static func syncFileSystem(of path: String) throws(OTAError) {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else {
            sync()
            return
        }
        let syncfs = unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
        let fd = try SystemCall.open(path, O_RDONLY | O_CLOEXEC, what: "open to sync")
        defer { SystemCall.close(fd) }
        try SystemCall.retrying("syncfs", path: path) { syncfs(fd) }
    }
}
