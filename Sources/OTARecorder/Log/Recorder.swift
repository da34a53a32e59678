import Foundation
public import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// The vehicle's append-only, hash-chained record log (DESIGN.md, Recorder).
///
/// One writer per log (an exclusive `flock` on `lock`). With `.fsync` durability, `append`
/// returns only after the entry's bytes are fsync'd, and a new segment's directory entry is
/// fsync'd when it is created, so an entry whose `append` returned survives power loss. On open,
/// bytes torn off the end of the log by a crash are moved to `quarantine/` and recorded as a
/// `torn-tail` entry of their own: never silently dropped.
///
/// Not thread-safe: give each log one owner (one installer, or one process).
public final class Recorder {
    /// How hard `append` works to make an entry durable.
    public enum Durability: String, Sendable {
        /// write + fsync per entry; fsync of the directory when a segment is created (the vehicle).
        case fsync
        /// write only (bulk generation of test and benchmark logs); a crash may lose entries.
        case none
    }

    public struct Configuration: Sendable {
        public var hash: HashAlgorithm
        /// A segment is closed once it reaches this many bytes.
        public var segmentBytes: Int64
        /// A signed checkpoint is written after this many entries.
        public var checkpointInterval: Int
        public var durability: Durability
        /// Months the vehicle keeps records; at least 6 (the network-log rule).
        public var retentionMonths: Int

        public init(
            hash: HashAlgorithm = .sha256, segmentBytes: Int64 = 4 << 20, checkpointInterval: Int = 256,
            durability: Durability = .fsync, retentionMonths: Int = 6
        ) {
            self.hash = hash
            self.segmentBytes = segmentBytes
            self.checkpointInterval = checkpointInterval
            self.durability = durability
            self.retentionMonths = retentionMonths
        }
    }

    /// Where an entry landed.
    public struct Appended: Sendable, Equatable {
        public let seq: UInt64
        public let hash: String
        public let segment: String
    }

    /// The legal minimum the vehicle keeps records (No.134 §7: network logs 6 months).
    public static let minimumRetentionMonths = 6

    package let layout: LogLayout
    public internal(set) var meta: LogMeta
    public let configuration: Configuration
    var signer: PrivateKey
    var algorithm: SignatureAlgorithm
    let clock: any RecorderClock
    private var lockFD: Int32
    private var segmentFD: Int32 = -1
    public private(set) var segment: String
    var segmentSize: Int64 = 0
    /// The sequence number the next entry gets.
    public private(set) var nextSeq: UInt64
    /// The hash of the last entry.
    public private(set) var lastHash: String
    var sinceCheckpoint = 0
    /// Torn tails found and recorded when the log was opened.
    public internal(set) var tornTails: [Appended] = []
    /// Entries found after the last checkpoint when the log was opened, stated as unsigned.
    public internal(set) var unsignedRanges: [UnsignedRange] = []

    var durable: Bool { configuration.durability == .fsync }

    init(
        layout: LogLayout, meta: LogMeta, configuration: Configuration, signer: PrivateKey,
        clock: any RecorderClock, lockFD: Int32, segment: String, nextSeq: UInt64, lastHash: String
    ) throws(OTAError) {
        self.layout = layout
        self.meta = meta
        self.configuration = configuration
        self.signer = signer
        self.algorithm = try SignatureAlgorithm.forKey(signer.type)
        self.clock = clock
        self.lockFD = lockFD
        self.segment = segment
        self.nextSeq = nextSeq
        self.lastHash = lastHash
    }

    deinit {
        if segmentFD >= 0 { SystemCall.close(segmentFD) }
        if lockFD >= 0 { Self.unlock(lockFD) }
    }

    /// Creates a new log in `directory` (which must not hold one) for `vin`, signed by `signer`.
    public static func create(
        at directory: String, vin: String, signer: PrivateKey, clock: any RecorderClock,
        configuration: Configuration = Configuration()
    ) throws(OTAError) -> Recorder {
        guard configuration.retentionMonths >= minimumRetentionMonths else {
            throw OTAError(
                .recordsRetentionMinimum,
                "retention of \(configuration.retentionMonths) months is below the legal minimum of \(minimumRetentionMonths)"
            )
        }
        guard configuration.retentionMonths <= LogMeta.maximumRetentionMonths else {
            throw OTAError(
                .recordsRetentionMinimum,
                "retention of \(configuration.retentionMonths) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))"
            )
        }
        _ = try LogMeta.checkedVIN(vin, path: "VIN")
        // Before anything is made: a key that cannot sign left a directory with a lock and no log.
        guard signer.type.canSign else {
            throw OTAError(.keyCannotSign, "a \(signer.type.rawValue) key cannot sign a record log")
        }
        let layout = LogLayout(directory: directory)
        try FileSystem.createDirectory(directory, mode: 0o700)
        if FileSystem.exists(layout.metaPath) {
            throw OTAError(.recordsExists, "\(directory): already holds a record log")
        }
        let lockFD = try lock(layout)
        var lockOwned = false
        defer { if !lockOwned { unlock(lockFD) } }
        // `log.json` is written last: a directory without it is a creation that crashed before
        // `create` returned, so nothing in it was ever reported written. Clear what it left.
        for name in try layout.segments() { unlink(layout.path(name)) }
        unlink(layout.headPath)
        unlink(layout.ackPath)
        let now = clock.now()
        let keyID = try signer.publicKey.keyID(.sha256).hex
        let meta = LogMeta(
            vin: vin, hash: configuration.hash, keyID: keyID,
            retentionMonths: configuration.retentionMonths, created: now.text, genesis: LogEntry.zeroHash)
        let recorder = try Recorder(
            layout: layout, meta: meta, configuration: configuration, signer: signer, clock: clock,
            lockFD: lockFD, segment: LogLayout.segmentName(firstSeq: 0), nextSeq: 0, lastHash: LogEntry.zeroHash)
        lockOwned = true
        try recorder.startSegment(firstEntry: .genesis)
        recorder.meta.genesis = recorder.lastHash
        try recorder.checkpoint()
        try LogIO.replace(
            layout.metaPath, with: recorder.meta.json.bytes + [0x0a], durable: configuration.durability == .fsync)
        return recorder
    }

    /// Appends an upgrade record; returns once it is durable (with `.fsync`).
    @discardableResult
    public func append(_ record: UpgradeRecord) throws(OTAError) -> Appended {
        guard record.vin == meta.vin else {
            throw OTAError(.recordsVinMismatch, "record for VIN \(record.vin) appended to the log of \(meta.vin)")
        }
        // What is written must read back: a record the schema refuses would make the log fail
        // verification, so it is refused here instead.
        let body = EntryBody.record(record).json
        _ = try UpgradeRecord(json: body, vin: meta.vin, source: "record")
        if segmentSize >= configuration.segmentBytes { try rotate() }
        let appended = try write(kind: .record, body: body)
        if sinceCheckpoint >= configuration.checkpointInterval { try checkpoint() }
        return appended
    }

    /// Writes a signed checkpoint over the chain so far and copies it to `HEAD`.
    @discardableResult
    public func checkpoint() throws(OTAError) -> Appended {
        let appended = try write(kind: .checkpoint, body: try checkpointBody(seq: nextSeq, prev: lastHash))
        return appended
    }

    /// Writes a checkpoint if anything was appended since the last one; the log stays usable.
    public func close() throws(OTAError) {
        if sinceCheckpoint > 0 { try checkpoint() }
    }

    /// The entry with sequence number `seq`, if the log still holds it.
    public func entry(at seq: UInt64) throws(OTAError) -> LogEntry? {
        let segments = try layout.segments()
        guard let name = segments.last(where: { LogLayout.firstSeq(ofSegment: $0)! <= seq }) else { return nil }
        var found: LogEntry? = nil
        try SegmentReader.readLines(layout.path(name)) { line, _, terminated in
            guard terminated, let entry = LogEntry.parse(line), entry.seq == seq else { return .next }
            found = entry
            return .stop
        }
        return found
    }

    // MARK: Writing

    func write(kind: LogEntry.Kind, body: JSONValue) throws(OTAError) -> Appended {
        let (line, hash) = try LogEntry.encode(seq: nextSeq, prev: lastHash, kind: kind, body: body, hash: meta.hash)
        let path = layout.path(segment)
        do throws(OTAError) {
            try LogIO.writeAll(segmentFD, line, path: path)
            if durable { try LogIO.sync(segmentFD, path: path) }
        } catch {
            // A line that failed (a full disk) is taken back, so it neither stays as a torn tail
            // the next open quarantines nor counts as written: the caller may append it again.
            if ftruncate(segmentFD, off_t(segmentSize)) == 0, durable { _ = fsync(segmentFD) }
            throw error
        }
        let appended = Appended(seq: nextSeq, hash: hash, segment: segment)
        segmentSize += Int64(line.count)
        nextSeq += 1
        lastHash = hash
        if kind == .checkpoint {
            sinceCheckpoint = 0
            // HEAD follows the checkpoint only after the checkpoint itself is durable.
            try LogIO.replace(layout.headPath, with: line, durable: durable)
        } else {
            sinceCheckpoint += 1
        }
        return appended
    }

    private func checkpointBody(seq: UInt64, prev: String) throws(OTAError) -> JSONValue {
        var checkpoint = EntryBody.Checkpoint(
            algorithm: algorithm, key: meta.keyID, signature: [], time: clock.now(), version: .v3)
        checkpoint.signature = try signer.signature(
            for: checkpoint.message(genesis: meta.genesis, seq: seq, prev: prev))
        return EntryBody.checkpoint(checkpoint).json
    }

    /// Creates a new segment whose first entry is the genesis (entry 0) or a signed checkpoint.
    private func startSegment(firstEntry: LogEntry.Kind) throws(OTAError) {
        let name = LogLayout.segmentName(firstSeq: nextSeq)
        let path = layout.path(name)
        let fd = try SystemCall.open(
            path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, mode: 0o600, what: "create segment",
            code: .ioCreate)
        if segmentFD >= 0 { SystemCall.close(segmentFD) }
        segmentFD = fd
        segment = name
        segmentSize = 0
        if durable { try LogIO.syncDirectory(layout.directory) }
        if firstEntry == .genesis {
            _ = try write(
                kind: .genesis,
                body: EntryBody.genesis(
                    .init(
                        format: LogMeta.format, vin: meta.vin, hash: meta.hash, key: meta.keyID,
                        nonce: Hex.encode(try SecureRandom.bytes(16)),
                        time: clock.now())
                ).json)
        } else {
            _ = try checkpoint()
        }
    }

    func rotate() throws(OTAError) {
        try startSegment(firstEntry: .checkpoint)
    }

    func openSegmentForAppend() throws(OTAError) {
        let path = layout.path(segment)
        let fd = try SystemCall.open(path, O_WRONLY | O_APPEND | O_CLOEXEC, what: "open segment")
        segmentFD = fd
        segmentSize = Int64(try SystemCall.status(fd, path: path).st_size)
    }

    static func lock(_ layout: LogLayout) throws(OTAError) -> Int32 {
        let fd = try SystemCall.open(layout.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600, what: "open lock file")
        let taken: Bool
        do throws(OTAError) { taken = try SystemCall.tryLock(fd, path: layout.lockPath) } catch {
            SystemCall.close(fd)
            throw error
        }
        if !taken {
            SystemCall.close(fd)
            throw OTAError(.recordsBusy, "\(layout.directory): another process is writing this log")
        }
        return fd
    }

    /// Releases the log lock. Unlocking before closing matters: a child process being spawned
    /// at this moment holds a copy of the descriptor until it execs, and would otherwise keep
    /// the lock (and make the next open fail with `records.busy`).
    static func unlock(_ fd: Int32) {
        SystemCall.unlock(fd)
        SystemCall.close(fd)
    }
}
