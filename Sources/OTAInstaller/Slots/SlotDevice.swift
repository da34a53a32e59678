public import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// One of a slot group's two slots.
public enum SlotName: String, Codable, Sendable, CaseIterable, Comparable {
    case a, b

    public var other: SlotName { self == .a ? .b : .a }
    public static func < (lhs: SlotName, rhs: SlotName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Reads a slot at offsets (what a delta applier reads its source from).
public protocol SlotReading: AnyObject {
    func read(at offset: UInt64, count: Int) throws(OTAError) -> [UInt8]
}

/// Writes a slot at offsets (what a delta applier writes its result to).
public protocol SlotWriting: AnyObject {
    /// Writes `bytes` (valid only during the call: a writer that keeps them copies them) at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError)
    /// The same from an array slice: a writer that keeps the bytes past the call (read back and
    /// compared later) keeps the slice, without a copy.
    func write(_ bytes: ArraySlice<UInt8>, at offset: UInt64) throws(OTAError)
}

extension SlotWriting {
    public func write(_ bytes: ArraySlice<UInt8>, at offset: UInt64) throws(OTAError) {
        try bytes.withBytes { (raw) throws(OTAError) in try write(raw, at: offset) }
    }
}

/// A slot's backing store: a regular file in the simulation, a block device (partition) on a
/// vehicle. Both are used the same way: `open`, `pwrite`/`pread`, `fsync`, all through
/// `SystemCall` (retries `EINTR`, names the path in every error).
package final class SlotDevice: SlotReading, SlotWriting {
    public let path: String
    private let descriptor: Int32
    /// Bytes the slot can hold.
    public let capacity: UInt64
    /// A writable slot's early flushes: every `EarlyFlusher.interval` bytes written, what the
    /// slot holds so far is flushed on a thread of the slot's own, so the final `sync` waits for
    /// the last stretch only instead of the device cache's whole flush.
    private let flusher: EarlyFlusher?

    /// - Parameter dataSync: the early flushes' system call (tests make it fail).
    public init(
        path: String, writable: Bool, dataSync: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }
    ) throws(OTAError) {
        self.path = path
        let fd = try SystemCall.open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, what: "opening the slot")
        do {
            let info = try SystemCall.status(fd, path: path)
            if (info.st_mode & S_IFMT) == S_IFBLK {
                capacity = UInt64(try SystemCall.retrying("seeking to the end", path: path) { lseek(fd, 0, SEEK_END) })
            } else {
                capacity = UInt64(info.st_size)
            }
        } catch {
            SystemCall.close(fd)
            throw error
        }
        descriptor = fd
        flusher = writable ? EarlyFlusher(descriptor: fd, dataSync: dataSync) : nil
    }

    deinit {
        _ = flusher?.wait()
        SystemCall.close(descriptor)
    }

    /// Creates a file-backed slot of `capacity` bytes (sparse, zero-filled).
    public static func createFile(path: String, capacity: UInt64) throws(OTAError) {
        let fd = try SystemCall.open(
            path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o600, what: "creating the slot",
            code: .ioCreate)
        defer { SystemCall.close(fd) }
        try SystemCall.retrying("sizing the slot", path: path) { ftruncate(fd, off_t(capacity)) }
        try SystemCall.retrying("fsync", path: path, code: .ioFsync) { fsync(fd) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError) {
        guard offset + UInt64(bytes.count) <= capacity else {
            throw OTAError(.slotTooSmall, "\(path): write past the slot's \(capacity) bytes")
        }
        try SystemCall.writeAll(descriptor, bytes, at: Int64(offset), path: path, code: .slotIo)
        flusher?.written(upTo: Int64(offset) + Int64(bytes.count))
    }

    public func read(at offset: UInt64, count: Int) throws(OTAError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let done = try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(OTAError) in try read(into: raw, at: offset) }
        }.get()
        buffer.removeLast(count - done)
        return buffer
    }

    /// Reads up to `buffer.count` bytes at `offset` into `buffer`; returns how many (fewer only
    /// at the end of the device).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(OTAError) -> Int {
        try SystemCall.readFully(descriptor, into: buffer, at: Int64(offset), path: path, code: .slotIo)
    }

    /// Starts writing the range back to the device now and lets the kernel drop it from the
    /// page cache once written (`posix_fadvise` DONTNEED). A hint: the final `sync` is what
    /// makes the bytes durable; this only spreads the device writes over the install instead
    /// of leaving them all to that `sync`, and keeps a large image from filling the cache.
    public func startWriteback(offset: UInt64, count: UInt64) {
        _ = posix_fadvise(descriptor, off_t(offset), off_t(count), POSIX_FADV_DONTNEED)
    }

    /// Early flushes started so far.
    package var earlyFlushes: Int { flusher?.count ?? 0 }

    /// Makes everything written durable: waits for the early flush running, reports the first
    /// one that failed (the kernel reports a write error to one sync call only), then fsyncs.
    public func sync() throws(OTAError) {
        try flusher?.finish(path: path, code: .slotIo)
        try SystemCall.retrying("fsync", path: path, code: .slotIo) { fsync(descriptor) }
    }

    /// Hash of the first `size` bytes, read back from the device in 1 MiB pieces.
    public func hash(_ algorithm: HashAlgorithm, size: UInt64) throws(OTAError) -> Digest {
        let hasher = try Hasher(algorithm)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        while offset < size {
            let want = Int(min(UInt64(buffer.count), size - offset))
            let got = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(OTAError) in
                    try read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: offset)
                }
            }.get()
            if got == 0 { throw OTAError(.slotShort, "\(path): ends at \(offset) bytes; \(size) expected") }
            hasher.update(buffer[0..<got])
            offset += UInt64(got)
        }
        return hasher.finalize()
    }
}

/// Applies a delta: reads the source image (the active slot, hash already checked) and writes
/// the target into the inactive slot, fed the patch bytes in order (`OTADeltaApplier`, OTADelta's
/// streaming decoder).
public protocol DeltaApplier: Sendable {
    /// True when the applier itself hashes the whole source and refuses a mismatch, at the latest
    /// from its session's `finish` (OTADelta does, on a second thread while it decodes); the
    /// installer then skips its own pass over the slot. Output may reach the inactive slot before
    /// the source is known to be right: sound because that slot is marked `writing` before its
    /// first byte, and the installer switches to it only after `finish` succeeded and the slot,
    /// read back, matches the signed target hash.
    var verifiesSource: Bool { get }

    /// True when its session's `finish` returns only if the bytes it handed to the target hash to
    /// `targetHash` (OTADelta: the patch header must declare that hash, checked before any
    /// output, and the decoder hashes its output); the installer then compares the slot, read
    /// back, with the bytes written instead of hashing it again. False: the installer hashes
    /// the slot as read back and compares that with the signed target hash.
    var verifiesTarget: Bool { get }

    /// Starts applying a patch of `patchSize` bytes (the signed size of the payload, which the
    /// installer enforces as it decodes it) that rebuilds `targetSize` bytes, signed to hash to
    /// `targetHash`, from the source's first `sourceSize`.
    func begin(
        source: any SlotReading, sourceSize: UInt64, target: any SlotWriting, targetSize: UInt64,
        targetHash: Digest, patchSize: UInt64
    ) throws(OTAError) -> any DeltaApplySession
}

extension DeltaApplier {
    public var verifiesSource: Bool { false }
    public var verifiesTarget: Bool { false }
}

/// One delta being applied. An applier may write the target on a thread of its own, behind
/// `consume` (OTADelta does); the installer then touches the target only after `finish` or
/// `cancel` returned.
public protocol DeltaApplySession: AnyObject {
    /// Feeds the next verified, decrypted and decompressed patch bytes.
    func consume(_ patch: [UInt8]) throws(OTAError)
    /// Completes the target; returns the number of target bytes written. Whatever it returns or
    /// throws, nothing more is written to the target after it.
    func finish() throws(OTAError) -> UInt64
    /// Gives the delta up after a failure elsewhere (the bundle, the payload): returns once no
    /// write to the target is running and none will start.
    func cancel()
}

extension DeltaApplySession {
    /// For a session that writes the target only inside `consume` and `finish`.
    public func cancel() {}
}
