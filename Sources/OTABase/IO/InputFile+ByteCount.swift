#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension InputFile {
    /// The size of a regular file or of a block device (whose `st_size` is 0), found with
    /// `lseek(SEEK_END)`; used where a slot may be either (delta sources).
    public func byteCount() throws(OTAError) -> Int64 {
        if try isRegularFile() { return try size() }
        let fd = descriptor
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else {
            throw OTAError(.ioFailed, "\(path): cannot find the size (lseek)", cause: SystemCall.errnoText())
        }
        return Int64(end)
    }
}
