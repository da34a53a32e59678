internal import OTABase

#if canImport(Glibc)
    import Glibc
#endif

/// An image for the encoder: a regular file or block device mapped, anything else (a pipe, a
/// character device) read into memory, at most `streamLimit` bytes of it: an endless stream such as
/// `/dev/zero` is refused (`io.too-large`) instead of growing until the allocation traps.
struct ImageBytes {
    private let mapped: MappedFile?
    private let read: [UInt8]

    /// A quarter of the memory this process may use (at least 64 MiB): the machine's, a
    /// cgroup's `memory.max` or an address-space limit (`ulimit -v`), the least of them. A growing
    /// array reserves up to twice what it holds and the encoder needs several bytes a byte of the
    /// old image, so an image read into memory larger than that leaves the encoder no room.
    static var streamLimit: Int {
        var budget = Int.max
        let pages = Int(sysconf(Int32(_SC_PHYS_PAGES)))
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        if pages > 0 && pageSize > 0 { budget = pages / 4 * pageSize }
        if let text = try? FileSystem.read("/sys/fs/cgroup/memory.max", limit: 64),
            let cgroup = Int(String(decoding: text.prefix { $0 != 0x0a }, as: UTF8.self))
        {
            budget = min(budget, cgroup / 4)
        }
        var addressSpace = rlimit()
        // RLIM_INFINITY is all ones.
        if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &addressSpace) == 0 && addressSpace.rlim_cur != rlim_t.max
        {
            budget = min(budget, Int(clamping: addressSpace.rlim_cur / 4))
        }
        return max(budget, 64 << 20)
    }

    init(path: String, streamLimit: Int = Self.streamLimit) throws(OTAError) {
        // Opened once: a FIFO opened a second time could find its writer gone (an empty image).
        let file = try InputFile(path: path, accepting: [.regular, .blockDevice, .stream])
        mapped = try MappedFile(file: file)
        guard mapped == nil else {
            read = []
            return
        }
        do {
            read = try file.readAll(limit: streamLimit)
        } catch  where error.code == .ioTooLarge {
            throw OTAError(
                .ioTooLarge,
                "\(path): a stream of more than \(streamLimit) bytes: an image that is neither a regular file "
                    + "nor a block device is read into memory, at most a quarter of the memory this process may "
                    + "use; give a regular file or a block device (they are mapped)")
        }
    }

    var count: Int { mapped?.bytes.count ?? read.count }

    /// Drops a mapped image's pages from memory until it is read again (bytes read into memory
    /// stay).
    func evict() { mapped?.evict() }

    func withBuffer<T>(_ body: (UnsafeBufferPointer<UInt8>) throws(OTAError) -> T) throws(OTAError) -> T {
        if let mapped { return try body(mapped.bytes) }
        let result: Result<T, OTAError> = read.withUnsafeBufferPointer { buffer in
            do throws(OTAError) { return .success(try body(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
