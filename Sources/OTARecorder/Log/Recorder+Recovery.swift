import Foundation
public import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Opening a log after a crash: the last segment is scanned, a torn tail is moved to
/// `quarantine/` and recorded as an entry of its own, never silently dropped; entries after the
/// last checkpoint have their chain checked and are stated as unsigned before a checkpoint signs
/// them (the hash chain is unkeyed: anyone who can write the directory can append such lines).
extension Recorder {
    /// Opens an existing log for appending; repairs and records a torn tail if there is one, and
    /// records an `unsigned-tail` entry for entries found after the last checkpoint (whose chain
    /// must hold: a broken one is refused, `ota records verify` locates it).
    public static func open(
        at directory: String, signer: PrivateKey, clock: any RecorderClock,
        configuration: Configuration? = nil
    ) throws(OTAError) -> Recorder {
        let layout = LogLayout(directory: directory)
        var meta = try LogMeta.load(layout)
        var configuration = configuration ?? Configuration()
        configuration.hash = meta.hash
        configuration.retentionMonths = max(configuration.retentionMonths, meta.retentionMonths)
        let signerPublicKey = try signer.publicKey
        let signerKeyID = try signerPublicKey.keyID(.sha256).hex
        let signerAlgorithm = try SignatureAlgorithm.forKey(signer.type)
        guard configuration.retentionMonths <= LogMeta.maximumRetentionMonths else {
            throw OTAError(
                .recordsRetentionMinimum,
                "retention of \(configuration.retentionMonths) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))"
            )
        }
        let lockFD = try lock(layout)
        var lockOwned = false
        defer { if !lockOwned { unlock(lockFD) } }
        var segments = try layout.segments()
        var torn: [(segment: String, offset: Int64, bytes: [UInt8])] = []
        var pendingQuarantine: [String] = []
        if FileSystem.isDirectory(layout.quarantineDirectory) {
            pendingQuarantine = try FileSystem.listing(layout.quarantineDirectory).names.filter {
                $0.hasPrefix("pending-")
            }
        }
        // Scan the last segment; drop an empty or wholly torn last segment (a crash while rotating).
        while true {
            guard let last = segments.last else {
                throw OTAError(.recordsMalformed, "\(directory): no segment holds a complete entry")
            }
            var lastEntry: LogEntry? = nil
            var validLength: Int64 = 0
            // Entries after the last checkpoint that verifies (or after the segment's first
            // entry), and the first thing wrong with their chain.
            var unsigned: [LogEntry] = []
            var chainProblem: OTAError? = nil
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
                    throw OTAError(
                        .recordsMalformed,
                        "\(layout.path(last)): byte \(offset): not a log entry; run `ota records verify`")
                }
                let previous = lastEntry
                lastEntry = entry
                validLength = offset + Int64(line.count) + 1
                guard let previous else {
                    // The recorder starts every segment with the genesis or a checkpoint.
                    guard entry.kind == .genesis || entry.kind == .checkpoint else {
                        throw OTAError(
                            .recordsUnanchored,
                            "\(layout.path(last)): starts with a \(entry.kind.rawValue) entry, not a checkpoint; run `ota records verify`"
                        )
                    }
                    if case .checkpoint(let body)? = try? EntryBody(entry: entry, vin: meta.vin) {
                        chainKey = body.key
                        if body.key == signerKeyID,
                            !(try signed(entry, body, by: signerPublicKey, algorithm: signerAlgorithm, meta: meta))
                        {
                            throw OTAError(
                                .recordsCheckpointSignature,
                                "\(layout.path(last)): checkpoint \(entry.seq) does not verify under the device key; run `ota records verify`"
                            )
                        }
                    }
                    return
                }
                if entry.kind == .checkpoint, case .checkpoint(let body)? = try? EntryBody(entry: entry, vin: meta.vin)
                {
                    var valid = true
                    if body.key == signerKeyID {
                        valid = try signed(entry, body, by: signerPublicKey, algorithm: signerAlgorithm, meta: meta)
                    }
                    if valid {
                        // Signed by this recorder's key (or by another key, which `open` refuses
                        // below): everything before it is covered.
                        chainKey = body.key
                        unsigned.removeAll()
                        chainProblem = nil
                        return
                    }
                }
                unsigned.append(entry)
                if chainProblem == nil {
                    chainProblem = try chainBreak(entry, after: previous, line: line, hash: meta.hash)
                }
                if entry.kind == .tornTail, case .tornTail(let body)? = try? EntryBody(entry: entry, vin: meta.vin) {
                    referenced.insert(body.file)
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
                if let chainProblem {
                    throw OTAError(
                        chainProblem.code,
                        "\(layout.path(last)): \(chainProblem.message), after the last checkpoint; the recorder does not sign over it: run `ota records verify`"
                    )
                }
                let current = chainKey ?? meta.keyID
                guard signerKeyID == current else {
                    throw OTAError(
                        .recordsWrongKey, "\(directory): the log is signed by another device key (key id \(current))")
                }
                if current != meta.keyID {
                    // A key rotation cut short by a crash: log.json follows the chain (a
                    // rotation counts only once a checkpoint signed by the new key follows it).
                    meta.keyID = current
                    try LogIO.replace(
                        layout.metaPath, with: meta.json.bytes + [0x0a], durable: configuration.durability == .fsync)
                }
                if !tornBytes.isEmpty {
                    try quarantine(layout, segment: last, offset: tornOffset, bytes: tornBytes)
                    try truncate(layout.path(last), to: validLength)
                }
                let recorder = try Recorder(
                    layout: layout, meta: meta, configuration: configuration, signer: signer, clock: clock,
                    lockFD: lockFD, segment: last, nextSeq: lastEntry.seq + 1, lastHash: lastEntry.hash)
                lockOwned = true
                recorder.sinceCheckpoint = unsigned.count
                try recorder.openSegmentForAppend()
                if let first = unsigned.first, let end = unsigned.last {
                    recorder.unsignedRanges.append(try recorder.recordUnsigned(from: first.seq, through: end))
                }
                for tail in torn {
                    recorder.tornTails.append(
                        try recorder.recordTornTail(segment: tail.segment, offset: tail.offset, bytes: tail.bytes))
                }
                return recorder
            }
            // The last segment holds no complete entry: keep its bytes aside and remove it.
            if !tornBytes.isEmpty { try quarantine(layout, segment: last, offset: tornOffset, bytes: tornBytes) }
            try LogIO.remove(layout.path(last), what: "remove an empty segment")
            try LogIO.syncDirectory(directory)
            segments.removeLast()
            if FileSystem.isDirectory(layout.quarantineDirectory) {
                pendingQuarantine = try FileSystem.listing(layout.quarantineDirectory).names.filter {
                    $0.hasPrefix("pending-")
                }
            }
            torn.removeAll()
        }
    }

    /// Whether `checkpoint` (entry `entry`) is signed by `key` over the chain before it.
    private static func signed(
        _ entry: LogEntry, _ checkpoint: EntryBody.Checkpoint, by key: PublicKey, algorithm: SignatureAlgorithm,
        meta: LogMeta
    ) throws(OTAError) -> Bool {
        guard checkpoint.algorithm == algorithm else { return false }
        let message = checkpoint.message(genesis: meta.genesis, seq: entry.seq, prev: entry.prev)
        return try key.check(checkpoint.signature, for: message, algorithm: algorithm) == .valid
    }

    /// What is wrong with `entry` (the whole `line`) as the successor of `previous`, if anything.
    private static func chainBreak(
        _ entry: LogEntry, after previous: LogEntry, line: ArraySlice<UInt8>, hash: HashAlgorithm
    )
        throws(OTAError) -> OTAError?
    {
        if !(try LogEntry.hashMatches(line, hash)) {
            return OTAError(.recordsChanged, "entry \(entry.seq)'s bytes do not match its hash")
        }
        if entry.seq != previous.seq + 1 {
            return OTAError(
                entry.seq > previous.seq ? .recordsDeleted : .recordsInserted,
                "entry \(entry.seq) follows entry \(previous.seq)")
        }
        if entry.prev != previous.hash {
            return OTAError(.recordsChanged, "entry \(entry.seq) does not chain onto entry \(previous.seq)")
        }
        return nil
    }

    /// States entries `from ... through.seq` as found unsigned, then checkpoints.
    private func recordUnsigned(from: UInt64, through: LogEntry) throws(OTAError) -> UnsignedRange {
        let appended = try write(
            kind: .unsignedTail,
            body: EntryBody.unsignedTail(.init(from: from, through: through.seq, hash: through.hash, time: clock.now()))
                .json)
        try checkpoint()
        return UnsignedRange(from: from, through: through.seq, recordedAt: appended.seq)
    }

    private func recordTornTail(segment torn: String, offset: Int64, bytes: [UInt8]) throws(OTAError) -> Appended {
        let final = "torn-\(torn)-\(offset).bin"
        let digest = try Hasher.hash(meta.hash, bytes).hex
        let appended = try write(
            kind: .tornTail,
            body: EntryBody.tornTail(
                .init(
                    segment: torn, offset: offset, bytes: Int64(bytes.count), digest: digest,
                    file: "quarantine/" + final, time: clock.now())
            ).json)
        try checkpoint()
        try Self.renamePending(layout, "pending-" + final)
        return appended
    }

    private static func renamePending(_ layout: LogLayout, _ pending: String) throws(OTAError) {
        let from = layout.quarantineDirectory + "/" + pending
        guard FileSystem.exists(from) else { return }
        let to = layout.quarantineDirectory + "/" + String(pending.dropFirst("pending-".count))
        try SystemCall.rename(from, to: to, message: "\(from): rename failed")
        try LogIO.syncDirectory(layout.quarantineDirectory)
    }

    private static func quarantine(_ layout: LogLayout, segment: String, offset: Int64, bytes: [UInt8]) throws(OTAError)
    {
        try FileSystem.createDirectory(layout.quarantineDirectory, mode: 0o700)
        try AtomicFileWriter.write(
            bytes, to: layout.quarantineDirectory + "/pending-torn-\(segment)-\(offset).bin", mode: 0o600)
        try LogIO.syncDirectory(layout.directory)
    }

    private static func truncate(_ path: String, to length: Int64) throws(OTAError) {
        let fd = try SystemCall.open(path, O_WRONLY | O_CLOEXEC, what: "open to truncate")
        defer { SystemCall.close(fd) }
        try SystemCall.retrying("truncate", path: path, code: .ioTruncate) { ftruncate(fd, off_t(length)) }
        try LogIO.sync(fd, path: path)
    }
}
