public import Foundation
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
/// Not thread-safe: give each log one owner (the installer's recorder actor, or one process).
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

        public init(hash: HashAlgorithm = .sha256, segmentBytes: Int64 = 4 << 20, checkpointInterval: Int = 256,
                    durability: Durability = .fsync, retentionMonths: Int = 6) {
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

    public let layout: LogLayout
    public private(set) var meta: LogMeta
    public let configuration: Configuration
    private var signer: PrivateKey
    private var algorithm: SignatureAlgorithm
    private let clock: any RecorderClock
    private var lockFD: Int32
    private var segmentFD: Int32 = -1
    public private(set) var segment: String
    private var segmentSize: Int64 = 0
    /// The sequence number the next entry gets.
    public private(set) var nextSeq: UInt64
    /// The hash of the last entry.
    public private(set) var lastHash: String
    private var sinceCheckpoint = 0
    /// Torn tails found and recorded when the log was opened.
    public private(set) var tornTails: [Appended] = []

    private var durable: Bool { configuration.durability == .fsync }

    private init(layout: LogLayout, meta: LogMeta, configuration: Configuration, signer: PrivateKey,
                 clock: any RecorderClock, lockFD: Int32, segment: String, nextSeq: UInt64, lastHash: String) throws(OTAError) {
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
        if segmentFD >= 0 { Glibc.close(segmentFD) }
        if lockFD >= 0 { Self.unlock(lockFD) }
    }

    /// Creates a new log in `directory` (which must not hold one) for `vin`, signed by `signer`.
    public static func create(at directory: String, vin: String, signer: PrivateKey, clock: any RecorderClock,
                              configuration: Configuration = Configuration()) throws(OTAError) -> Recorder {
        guard configuration.retentionMonths >= minimumRetentionMonths else {
            throw OTAError(.recordsRetentionMinimum, "retention of \(configuration.retentionMonths) months is below the legal minimum of \(minimumRetentionMonths)")
        }
        guard configuration.retentionMonths <= LogMeta.maximumRetentionMonths else {
            throw OTAError(.recordsRetentionMinimum, "retention of \(configuration.retentionMonths) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))")
        }
        _ = try LogMeta.checkedVIN(vin, path: "VIN")
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
        let meta = LogMeta(vin: vin, hash: configuration.hash, keyID: keyID,
                           retentionMonths: configuration.retentionMonths, created: now.text, genesis: LogEntry.zeroHash)
        let recorder = try Recorder(layout: layout, meta: meta, configuration: configuration, signer: signer, clock: clock,
                                    lockFD: lockFD, segment: LogLayout.segmentName(firstSeq: 0), nextSeq: 0, lastHash: LogEntry.zeroHash)
        lockOwned = true
        try recorder.startSegment(firstEntry: .genesis)
        recorder.meta.genesis = recorder.lastHash
        try recorder.checkpoint()
        try LogIO.replace(layout.metaPath, with: recorder.meta.json.bytes + [0x0a], durable: configuration.durability == .fsync)
        return recorder
    }

    /// Opens an existing log for appending; repairs and records a torn tail if there is one.
    public static func open(at directory: String, signer: PrivateKey, clock: any RecorderClock,
                            configuration: Configuration? = nil) throws(OTAError) -> Recorder {
        let layout = LogLayout(directory: directory)
        var meta = try LogMeta.load(layout)
        var configuration = configuration ?? Configuration()
        configuration.hash = meta.hash
        configuration.retentionMonths = max(configuration.retentionMonths, meta.retentionMonths)
        let signerKeyID = try signer.publicKey.keyID(.sha256).hex
        guard configuration.retentionMonths <= LogMeta.maximumRetentionMonths else {
            throw OTAError(.recordsRetentionMinimum, "retention of \(configuration.retentionMonths) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))")
        }
        let lockFD = try lock(layout)
        var lockOwned = false
        defer { if !lockOwned { unlock(lockFD) } }
        var segments = try layout.segments()
        var torn: [(segment: String, offset: Int64, bytes: [UInt8])] = []
        var pendingQuarantine: [String] = []
        if FileSystem.isDirectory(layout.quarantineDirectory) {
            pendingQuarantine = try FileSystem.list(layout.quarantineDirectory).filter { $0.hasPrefix("pending-") }
        }
        // Scan the last segment; drop an empty or wholly torn last segment (a crash while rotating).
        while true {
            guard let last = segments.last else {
                throw OTAError(.recordsMalformed, "\(directory): no segment holds a complete entry")
            }
            var lastEntry: LogEntry? = nil
            var validLength: Int64 = 0
            var since = 0
            var referenced: Set<String> = []
            // The key that signs next: the last checkpoint's (log.json may disagree after a
            // crash in the middle of a key rotation).
            var chainKey: String? = nil
            var tornBytes: [UInt8] = []
            var tornOffset: Int64 = 0
            try SegmentReader.forEachLine(layout.path(last)) { line, offset, terminated throws(OTAError) in
                guard terminated else {
                    tornBytes = Array(line)
                    tornOffset = offset
                    return
                }
                guard let entry = LogEntry.parse(line) else {
                    throw OTAError(.recordsMalformed, "\(layout.path(last)): byte \(offset): not a log entry; run `ota records verify`")
                }
                lastEntry = entry
                validLength = offset + Int64(line.count) + 1
                since = entry.kind == .checkpoint ? 0 : since + 1
                switch entry.kind {
                case .tornTail:
                    if case .tornTail(let body)? = try? EntryBody(entry: entry, vin: meta.vin) { referenced.insert(body.file) }
                case .checkpoint:
                    if case .checkpoint(let body)? = try? EntryBody(entry: entry, vin: meta.vin) { chainKey = body.key }
                default:
                    break
                }
            }
            if !tornBytes.isEmpty { torn.append((last, tornOffset, tornBytes)) }
            // A quarantined tail whose torn-tail entry did not make it before a crash is recorded now.
            let current = tornBytes.isEmpty ? "" : "pending-torn-\(last)-\(tornOffset).bin"
            for pending in pendingQuarantine where pending != current {
                let final = String(pending.dropFirst("pending-".count))
                if !referenced.contains("quarantine/" + final) {
                    let bytes = try FileSystem.read(layout.quarantineDirectory + "/" + pending, limit: 64 << 20)
                    let parts = final.dropFirst("torn-".count).dropLast(".bin".count).split(separator: "-")
                    let offset = Int64(parts.last ?? "0") ?? 0
                    let name = parts.dropLast().joined(separator: "-")
                    torn.insert((name, offset, bytes), at: 0)
                } else {
                    try renamePending(layout, pending)
                }
            }
            pendingQuarantine = []
            if let lastEntry {
                let current = chainKey ?? meta.keyID
                guard signerKeyID == current else {
                    throw OTAError(.recordsWrongKey, "\(directory): the log is signed by another device key (key id \(current))")
                }
                if current != meta.keyID {
                    // A key rotation cut short by a crash: log.json follows the chain (a
                    // rotation counts only once a checkpoint signed by the new key follows it).
                    meta.keyID = current
                    try LogIO.replace(layout.metaPath, with: meta.json.bytes + [0x0a], durable: configuration.durability == .fsync)
                }
                if !tornBytes.isEmpty {
                    try quarantine(layout, segment: last, offset: tornOffset, bytes: tornBytes)
                    try truncate(layout.path(last), to: validLength)
                }
                let recorder = try Recorder(layout: layout, meta: meta, configuration: configuration, signer: signer, clock: clock,
                                            lockFD: lockFD, segment: last, nextSeq: lastEntry.seq + 1, lastHash: lastEntry.hash)
                lockOwned = true
                recorder.sinceCheckpoint = since
                try recorder.openSegmentForAppend()
                for tail in torn {
                    recorder.tornTails.append(try recorder.recordTornTail(segment: tail.segment, offset: tail.offset, bytes: tail.bytes))
                }
                return recorder
            }
            // The last segment holds no complete entry: keep its bytes aside and remove it.
            if !tornBytes.isEmpty { try quarantine(layout, segment: last, offset: tornOffset, bytes: tornBytes) }
            guard unlink(layout.path(last)) == 0 else {
                throw OTAError(.ioUnlink, "\(layout.path(last)): cannot remove an empty segment", cause: LogIO.errnoText())
            }
            try LogIO.syncDirectory(directory)
            segments.removeLast()
            if FileSystem.isDirectory(layout.quarantineDirectory) {
                pendingQuarantine = try FileSystem.list(layout.quarantineDirectory).filter { $0.hasPrefix("pending-") }
            }
            torn.removeAll()
        }
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

    // MARK: Acknowledgement and retention

    /// Records that the fleet store `by` holds everything up to entry `seq` whose hash is `hash`.
    public func acknowledge(through seq: UInt64, hash: String, by store: String = "fleet-store") throws(OTAError) {
        guard !store.isEmpty, store.utf8.count <= 256, store.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw OTAError(.usageInvalid, "an acknowledging store names itself in 1 to 256 printable ASCII characters without spaces")
        }
        guard let entry = try entry(at: seq), entry.hash == hash else {
            throw OTAError(.recordsAckMismatch, "\(layout.directory): entry \(seq) does not have hash \(hash)")
        }
        try LogIO.replace(layout.ackPath, with: Array("\(seq) \(hash) \(store)\n".utf8), durable: durable)
    }

    /// What the fleet store has acknowledged (`ACK`: `<seq> <hash> <store>`), or nil.
    public func acknowledged() throws(OTAError) -> EntryBody.Prune.Acknowledgement? {
        guard FileSystem.exists(layout.ackPath) else { return nil }
        let text = String(decoding: try FileSystem.read(layout.ackPath, limit: 1024), as: UTF8.self)
        let fields = text.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: false) ?? []
        guard fields.count == 2 || fields.count == 3, let seq = UInt64(fields[0]), seq <= EntryBody.maximumSeq,
              JSONObjectReader.isDigest(String(fields[1]))
        else {
            throw OTAError(.recordsMalformed, "\(layout.ackPath): expected '<seq> <hash> <store>'")
        }
        return .init(through: seq, hash: String(fields[1]), by: fields.count == 3 ? String(fields[2]) : "unknown")
    }

    // MARK: Key rotation

    /// Rotates the device key, keeping one chain: an entry announcing `newSigner`'s public key
    /// (and certificate), a checkpoint signed by the current key over it, `log.json` naming the
    /// new key, then a checkpoint signed by the new key, which signs every later one. A
    /// verifier that trusts the old key learns the new one from the chain; the rotation counts
    /// only when those three entries follow each other (a crash in between leaves the old key
    /// in charge; rotate again). For the trust lifecycle (a device key renewed, issue 12).
    @discardableResult
    public func rotateKey(to newSigner: PrivateKey, certificate: String? = nil, reason: String) throws(OTAError) -> Appended {
        guard newSigner.type.canSign else {
            throw OTAError(.recordsKey, "the new device key (\(newSigner.type.rawValue)) cannot sign record checkpoints")
        }
        let newAlgorithm = try SignatureAlgorithm.forKey(newSigner.type)
        let publicKey = try newSigner.publicKey
        let keyID = try publicKey.keyID(.sha256).hex
        guard keyID != meta.keyID else { throw OTAError(.usageInvalid, "the new device key is the current one") }
        guard !reason.isEmpty, reason.utf8.count <= 256 else { throw OTAError(.usageInvalid, "a key rotation states its reason (1 to 256 bytes)") }
        if let certificate {
            guard let first = try Certificate.load(Array(certificate.utf8), source: "new device certificate").first,
                  try first.publicKey.keyID(.sha256).hex == keyID
            else { throw OTAError(.recordsKeyMismatch, "the new device certificate does not hold the new device key") }
        }
        if segmentSize >= configuration.segmentBytes { try rotate() }
        let appended = try write(kind: .keyRotation, body: EntryBody.keyRotation(.init(
            key: keyID, publicKey: try publicKey.der(), certificate: certificate, reason: reason, time: clock.now())).json)
        try checkpoint()
        signer = newSigner
        algorithm = newAlgorithm
        meta.keyID = keyID
        try LogIO.replace(layout.metaPath, with: meta.json.bytes + [0x0a], durable: durable)
        try checkpoint()
        return appended
    }

    /// The outcome of `prune`.
    public struct PruneReport: Sendable, Encodable {
        public var removed: [String] = []
        /// Entries `0 ... through` are gone when something was removed.
        public var through: UInt64?
        /// The oldest kept segment and why it could not go.
        public var kept: String?
        public var reason: String?
    }

    /// Removes the oldest whole segments whose every entry is older than the retention period
    /// (at least 6 months; `months` may ask for longer, never shorter) and acknowledged by the
    /// fleet store. The active segment is never removed. A `prune` entry (a tombstone: what
    /// range, why, asked by whom, acknowledged by whom), signed by the checkpoint after it,
    /// records what went before anything is removed.
    public func prune(now: Date, months: Int? = nil, requestedBy: String = "vehicle") throws(OTAError) -> PruneReport {
        let months = max(months ?? configuration.retentionMonths, configuration.retentionMonths, Self.minimumRetentionMonths)
        if let asked = monthsAsked(months) { throw asked }
        guard months <= LogMeta.maximumRetentionMonths else {
            throw OTAError(.recordsRetentionMinimum, "retention of \(months) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))")
        }
        let cutoff = RecordTime.adding(months: -months, to: now)
        let acknowledged = try self.acknowledged()
        let segments = try layout.segments()
        var report = PruneReport()
        var removable: [String] = []
        var through: UInt64? = nil
        for (index, name) in segments.enumerated() {
            guard index + 1 < segments.count else {
                report.kept = name
                report.reason = "the active segment is never pruned"
                break
            }
            guard let nextFirst = LogLayout.firstSeq(ofSegment: segments[index + 1]), nextFirst > 0 else {
                report.kept = name
                report.reason = "the next segment's name does not give a later entry number"
                break
            }
            let lastSeq = nextFirst - 1
            guard let acknowledged, lastSeq <= acknowledged.through else {
                report.kept = name
                report.reason = "not yet acknowledged by the fleet store (entries up to \(lastSeq); acknowledged \(acknowledged.map { String($0.through) } ?? "none"))"
                break
            }
            let newest = try newestTime(in: name)
            guard let newest, newest < cutoff else {
                report.kept = name
                report.reason = "holds entries younger than \(months) months (newest \(newest.map(RecordTime.format) ?? "unknown"), cutoff \(RecordTime.format(cutoff)))"
                break
            }
            removable.append(name)
            through = lastSeq
        }
        guard let through, !removable.isEmpty else { return report }
        // Record first, then remove: a crash in between leaves a log that still verifies.
        if segmentSize >= configuration.segmentBytes { try rotate() }
        let throughHash = try entry(at: through)?.hash
        _ = try write(kind: .prune, body: EntryBody.prune(.init(
            through: through, throughHash: throughHash, segments: removable, cutoff: RecordTime.format(cutoff), months: Int64(months),
            reason: "retention", requestedBy: requestedBy, acknowledged: acknowledged, time: clock.now())).json)
        try checkpoint()
        for name in removable {
            guard unlink(layout.path(name)) == 0 else {
                throw OTAError(.ioUnlink, "\(layout.path(name)): cannot remove", cause: LogIO.errnoText())
            }
        }
        try LogIO.syncDirectory(layout.directory)
        report.removed = removable
        report.through = through
        return report
    }

    private func monthsAsked(_ months: Int) -> OTAError? {
        months < Self.minimumRetentionMonths
            ? OTAError(.recordsRetentionMinimum, "retention of \(months) months is below the legal minimum of \(Self.minimumRetentionMonths)") : nil
    }

    private func newestTime(in segment: String) throws(OTAError) -> Date? {
        var newest: Date? = nil
        try SegmentReader.forEachLine(layout.path(segment)) { line, _, terminated throws(OTAError) in
            guard terminated, let entry = LogEntry.parse(line), let body = try? EntryBody(entry: entry, vin: meta.vin) else { return }
            let date = body.time.date
            if newest == nil || date > newest! { newest = date }
        }
        return newest
    }

    /// The entry with sequence number `seq`, if the log still holds it.
    public func entry(at seq: UInt64) throws(OTAError) -> LogEntry? {
        let segments = try layout.segments()
        guard let name = segments.last(where: { LogLayout.firstSeq(ofSegment: $0)! <= seq }) else { return nil }
        var found: LogEntry? = nil
        try SegmentReader.forEachLine(layout.path(name)) { line, _, terminated in
            guard found == nil, terminated, let entry = LogEntry.parse(line), entry.seq == seq else { return }
            found = entry
        }
        return found
    }

    // MARK: Writing

    private func write(kind: LogEntry.Kind, body: JSONValue) throws(OTAError) -> Appended {
        let (line, hash) = try LogEntry.encode(seq: nextSeq, prev: lastHash, kind: kind, body: body, hash: meta.hash)
        let path = layout.path(segment)
        try LogIO.writeAll(segmentFD, line, path: path)
        if durable { try LogIO.sync(segmentFD, path: path) }
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
        let signature = try signer.signature(for: LogEntry.checkpointMessage(genesis: meta.genesis, seq: seq, prev: prev))
        return EntryBody.checkpoint(.init(algorithm: algorithm, key: meta.keyID, signature: signature, time: clock.now())).json
    }

    /// Creates a new segment whose first entry is the genesis (entry 0) or a signed checkpoint.
    private func startSegment(firstEntry: LogEntry.Kind) throws(OTAError) {
        let name = LogLayout.segmentName(firstSeq: nextSeq)
        let path = layout.path(name)
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0 { throw OTAError(.ioCreate, "\(path): cannot create segment", cause: LogIO.errnoText()) }
        if segmentFD >= 0 { Glibc.close(segmentFD) }
        segmentFD = fd
        segment = name
        segmentSize = 0
        if durable { try LogIO.syncDirectory(layout.directory) }
        if firstEntry == .genesis {
            _ = try write(kind: .genesis, body: EntryBody.genesis(.init(
                format: LogMeta.format, vin: meta.vin, hash: meta.hash, key: meta.keyID, nonce: Hex.encode(try SecureRandom.bytes(16)),
                time: clock.now())).json)
        } else {
            _ = try checkpoint()
        }
    }

    private func rotate() throws(OTAError) {
        try startSegment(firstEntry: .checkpoint)
    }

    private func openSegmentForAppend() throws(OTAError) {
        let path = layout.path(segment)
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        if fd < 0 { throw OTAError(.ioOpen, "\(path): cannot open segment", cause: LogIO.errnoText()) }
        segmentFD = fd
        var info = stat()
        fstat(fd, &info)
        segmentSize = Int64(info.st_size)
    }

    private func recordTornTail(segment torn: String, offset: Int64, bytes: [UInt8]) throws(OTAError) -> Appended {
        let final = "torn-\(torn)-\(offset).bin"
        let digest = try Hasher.hash(meta.hash, bytes).hex
        let appended = try write(kind: .tornTail, body: EntryBody.tornTail(.init(
            segment: torn, offset: offset, bytes: Int64(bytes.count), digest: digest, file: "quarantine/" + final, time: clock.now())).json)
        try checkpoint()
        try Self.renamePending(layout, "pending-" + final)
        return appended
    }

    private static func renamePending(_ layout: LogLayout, _ pending: String) throws(OTAError) {
        let from = layout.quarantineDirectory + "/" + pending
        guard FileSystem.exists(from) else { return }
        let to = layout.quarantineDirectory + "/" + String(pending.dropFirst("pending-".count))
        guard rename(from, to) == 0 else { throw OTAError(.ioRename, "\(from): rename failed", cause: LogIO.errnoText()) }
        try LogIO.syncDirectory(layout.quarantineDirectory)
    }

    private static func quarantine(_ layout: LogLayout, segment: String, offset: Int64, bytes: [UInt8]) throws(OTAError) {
        try FileSystem.createDirectory(layout.quarantineDirectory, mode: 0o700)
        try AtomicFileWriter.write(bytes, to: layout.quarantineDirectory + "/pending-torn-\(segment)-\(offset).bin", mode: 0o600)
        try LogIO.syncDirectory(layout.directory)
    }

    private static func truncate(_ path: String, to length: Int64) throws(OTAError) {
        let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw OTAError(.ioOpen, "\(path): cannot open to truncate", cause: LogIO.errnoText()) }
        defer { Glibc.close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw OTAError(.ioTruncate, "\(path): truncate failed", cause: LogIO.errnoText()) }
        try LogIO.sync(fd, path: path)
    }

    private static func lock(_ layout: LogLayout) throws(OTAError) -> Int32 {
        let fd = Glibc.open(layout.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw OTAError(.ioOpen, "\(layout.lockPath): cannot open lock file", cause: LogIO.errnoText()) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            Glibc.close(fd)
            throw OTAError(.recordsBusy, "\(layout.directory): another process is writing this log")
        }
        return fd
    }

    /// Releases the log lock. Unlocking before closing matters: a child process being spawned
    /// at this moment holds a copy of the descriptor until it execs, and would otherwise keep
    /// the lock (and make the next open fail with `records.busy`).
    private static func unlock(_ fd: Int32) {
        flock(fd, LOCK_UN)
        Glibc.close(fd)
    }
}
