package import OTABase

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary file next to an output, written once and read back, removed on deinit (build
/// staging for payloads whose size must be known before the tar header is written).
package final class ScratchFile {
    public let path: String
    private var descriptor: Int32
    public private(set) var size: Int64 = 0
    /// Removed if a signal stops the process.
    private let cleanup: InterruptCleanup.Registration

    /// Creates `DIRECTORY/.OUTPUT.NAME.scratch-PID-RANDOM`, exclusively, mode 0600 (and removes
    /// the abandoned ones of the same output: `StaleTemporaryFiles`).
    public init(besides outputPath: String, name: String) throws(OTAError) {
        let directory = pathParent(outputPath)
        let suffix = Hex.encode(try SecureRandom.bytes(6))
        let prefix = ".\(pathLastComponent(outputPath)).\(name).scratch-"
        StaleTemporaryFiles.sweep(directory: directory, prefix: prefix)
        let path =
            (directory.isEmpty ? "" : directory + "/") + StaleTemporaryFiles.name(prefix: prefix, random: suffix)
        self.path = path
        // Registered before it exists (a signal right after the open would leave it otherwise).
        let registration = InterruptCleanup.Registration(path)
        let (fd, error) = SystemCall.retryingRaw {
            open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        descriptor = fd
        if descriptor < 0 {
            // Named as the output: the scratch file's name means nothing to whoever gave it.
            throw OTAError(
                .ioCreate, "\(outputPath): cannot create the output's staging file beside it (\(path))",
                cause: SystemCall.errnoText(error))
        }
        cleanup = registration
    }

    deinit {
        if descriptor >= 0 { SystemCall.close(descriptor) }
        unlink(path)
        cleanup.release()
    }

    public func write(_ bytes: some Collection<UInt8>) throws(OTAError) {
        let array = Array(bytes)
        try SystemCall.writeAll(descriptor, array, path: path)
        size += Int64(array.count)
    }

    /// Opens the written contents for reading from the start.
    public func reader() throws(OTAError) -> InputFile { try InputFile(path: path, followLinks: false) }
}
