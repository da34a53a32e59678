public import OTACore

/// Checks a log's entries one line at a time (streamed: memory does not grow with the log).
///
/// Detects and locates changed, deleted, inserted, reordered and torn entries, bad checkpoint
/// signatures, entries that break the schema, and truncation against the signed checkpoint in
/// `HEAD`. Feed every line of every segment in order with `consume`, then call `finish`.
///
/// Device keys: the verifier starts from the keys it is given; the log's first key (genesis, or
/// the anchoring checkpoint of a pruned log) must be one of them (else `records.key-mismatch`).
/// A key rotation (a `key-rotation` entry, then a checkpoint by the current key, then one by the
/// announced key) hands over to the announced key.
public struct RecordChainVerifier: Sendable {
    public let meta: LogMeta
    private var keys: [String: PublicKey]
    /// The key that signs the next checkpoint.
    private var currentKey: String?
    /// A rotation under way: the announcing entry's number, the new key, and whether the
    /// checkpoint by the current key came after it.
    private var rotation: (seq: UInt64, key: String, publicKey: PublicKey, covered: Bool)?
    private let head: LogEntry?
    private let headLine: [UInt8]?
    public private(set) var report: VerificationReport
    /// Whether the chain's last key must be the one `log.json` names (off for an export's
    /// chain evidence, which carries no `log.json`).
    public var checksMetaKey = true
    /// A checkpoint the caller already holds verified (the fleet store's head): a log that
    /// starts exactly there, with that hash, is a continuation, and the entries before it
    /// are not missing (an upload sends only what the store lacks).
    public var trustedAnchor: (seq: UInt64, hash: String)?
    private var startsAtAnchor = false

    // Chain state: the highest in-order entry and its hash.
    private var started = false
    private var expected: UInt64 = 0
    private var prevHash = LogEntry.zeroHash
    private var lastInOrder: (seq: UInt64, hash: String, prev: String, location: EntryLocation)?
    /// Ranges of sequence numbers skipped so far (deleted, unless they show up later: reordered).
    private var missing: [(from: UInt64, to: UInt64, location: EntryLocation)] = []
    /// A duplicate of the last entry with the same predecessor: which one the chain continues from
    /// decides which was inserted.
    private var fork:
        (first: (hash: String, location: EntryLocation), second: (hash: String, location: EntryLocation), seq: UInt64)?
    private var openReorder: (from: UInt64, to: UInt64, after: UInt64, location: EntryLocation)?
    private var prunedThrough: UInt64?
    private var sawHeadEntry = false
    private var sinceCheckpoint = 0
    /// The last in-order checkpoint that verified (or entry 0): what an `unsigned-tail` entry's
    /// range must start after.
    private var lastAnchor: UInt64?
    /// Whether the entry being consumed is such an anchor.
    private var consumingAnchor = false
    /// The time of the first entry (the anchoring checkpoint of a pruned log).
    private var firstTime: RecordTime?

    /// `head` is the `HEAD` file's line (without `LF`), or nil when there is none; `keys` are
    /// the device keys trusted to sign the start of the log.
    public init(meta: LogMeta, keys: [PublicKey], head: ArraySlice<UInt8>?) throws(OTAError) {
        self.meta = meta
        var known: [String: PublicKey] = [:]
        for key in keys { known[try key.keyID(.sha256).hex] = key }
        guard !known.isEmpty else {
            throw OTAError(.recordsKeyMismatch, "no device key was given to verify the log of \(meta.vin)")
        }
        self.keys = known
        report = VerificationReport(vin: meta.vin, hash: meta.hash.rawValue)
        headLine = head.map(Array.init)
        if let head {
            guard let entry = LogEntry.parse(head), entry.kind == .checkpoint,
                try LogEntry.computeHash(head, meta.hash) == entry.hash
            else {
                self.head = nil
                report.issues.append(
                    VerificationIssue(.malformed, seq: nil, location: "HEAD", "HEAD is not a checkpoint entry"))
                return
            }
            self.head = entry
            report.headSeq = entry.seq
        } else {
            // Every log gets a HEAD when it is created: without it, truncation cannot be judged.
            self.head = nil
            report.issues.append(
                VerificationIssue(
                    .truncated, seq: nil, location: "HEAD",
                    "HEAD (the latest signed checkpoint) is missing: truncation cannot be ruled out"))
        }
    }

    /// As above with one device key.
    public init(meta: LogMeta, publicKey: PublicKey, head: ArraySlice<UInt8>?) throws(OTAError) {
        try self.init(meta: meta, keys: [publicKey], head: head)
    }

    /// Whether `checkpoint` (entry `entry`) is signed by the key it names, which must be `key`.
    private func signatureValid(_ entry: LogEntry, _ checkpoint: EntryBody.Checkpoint, key expected: String?)
        throws(OTAError) -> Bool
    {
        guard let expected, checkpoint.key == expected, let publicKey = keys[expected],
            let algorithm = try? SignatureAlgorithm.forKey(publicKey.type), checkpoint.algorithm == algorithm
        else { return false }
        let message = checkpoint.message(genesis: meta.genesis, seq: entry.seq, prev: entry.prev)
        return try publicKey.check(checkpoint.signature, for: message, algorithm: algorithm) == .valid
    }

    /// The first key the log names must be one the caller trusts.
    private mutating func adopt(_ key: String, at seq: UInt64) throws(OTAError) {
        guard keys[key] != nil else {
            throw OTAError(
                .recordsKeyMismatch,
                "the log of \(meta.vin) is signed from entry \(seq) by device key \(key), which is not a key given")
        }
        currentKey = key
    }

    /// Reads a body strictly; a body that breaks the schema is an issue, never a trap.
    private mutating func body(_ entry: LogEntry, _ location: EntryLocation) -> EntryBody? {
        do throws(OTAError) {
            let body = try EntryBody(entry: entry, vin: meta.vin)
            if case .genesis(let genesis) = body, entry.seq != 0 {
                issue(
                    .schema, entry.seq, location,
                    "entry \(entry.seq) is a genesis entry; only entry 0 may be (\(genesis.vin))")
                return nil
            }
            return body
        } catch {
            issue(.schema, entry.seq, location, error.message)
            return nil
        }
    }

    /// Checks what a checkpoint's signature proves and moves the key along a rotation; returns
    /// whether the signature verified.
    private mutating func checkCheckpoint(
        _ entry: LogEntry, _ checkpoint: EntryBody.Checkpoint, intact: Bool, _ location: EntryLocation
    ) throws(OTAError) -> Bool {
        if currentKey == nil, intact { try adopt(checkpoint.key, at: entry.seq) }
        if let pending = rotation, pending.covered, entry.seq == pending.seq + 2, checkpoint.key == pending.key, intact
        {
            keys[pending.key] = pending.publicKey
            rotation = nil
            if try signatureValid(entry, checkpoint, key: pending.key) {
                currentKey = pending.key
                report.keyRotations += 1
                return true
            }
        } else if let pending = rotation, !pending.covered, entry.seq == pending.seq + 1, checkpoint.key == currentKey {
            rotation?.covered = true
        } else {
            rotation = nil
        }
        if !(try signatureValid(entry, checkpoint, key: currentKey)) {
            issue(
                .checkpointSignature, entry.seq, location,
                "checkpoint \(entry.seq) does not verify under the device key \(currentKey ?? "none"): entries before it were rewritten"
            )
            return false
        }
        return true
    }

    /// A prune must keep the retention it states: its cutoff no later than its own time minus its
    /// months (the log's retention at least), and when the log now starts right after it, the
    /// anchoring checkpoint (the one entry left to show when the removed part ended) must be
    /// older than the cutoff.
    private mutating func checkPrune(_ entry: LogEntry, _ prune: EntryBody.Prune, _ location: EntryLocation) {
        if prune.months < Int64(meta.retentionMonths) {
            issue(
                .retention, entry.seq, location,
                "prune \(entry.seq) kept \(prune.months) months; the log keeps \(meta.retentionMonths)")
        }
        guard let cutoff = RecordTime.parseMilliseconds(prune.cutoff) else { return }
        let limit = RecordTime(
            RecordTime.adding(months: -Int(prune.months), to: prune.time.date), source: prune.time.source)
        if cutoff > limit.milliseconds {
            issue(
                .retention, entry.seq, location,
                "prune \(entry.seq) cut off at \(prune.cutoff), later than its own time \(prune.time.text) minus \(prune.months) months (\(limit.text)): records younger than the retention may be gone"
            )
        }
        if let first = report.firstSeq, first > 0, prune.through + 1 == first, let firstTime,
            firstTime.milliseconds >= cutoff
        {
            issue(
                .retention, entry.seq, location,
                "prune \(entry.seq) removed entries up to \(prune.through), but the checkpoint the log now starts from (entry \(first), \(firstTime.text)) is not older than its cutoff \(prune.cutoff)"
            )
        }
    }

    /// An `unsigned-tail` entry must state exactly the entries between the last checkpoint and
    /// itself (what the recorder found when it opened the log); the range is listed in the report.
    private mutating func checkUnsigned(
        _ entry: LogEntry, _ statement: EntryBody.UnsignedTail, _ location: EntryLocation
    ) {
        let range = UnsignedRange(from: statement.from, through: statement.through, recordedAt: entry.seq)
        if report.unsignedRanges.count < 1000 { report.unsignedRanges.append(range) }
        let expectedFrom = lastAnchor.map { $0 + 1 } ?? statement.from
        guard statement.through + 1 == entry.seq, statement.hash == entry.prev, statement.from == expectedFrom else {
            issue(
                .inserted, entry.seq, location,
                "entry \(entry.seq) states \(range.entries) (hash \(statement.hash.prefix(16))…) were found unsigned, but the entries between the last checkpoint and it are \(expectedFrom)...\(entry.seq == 0 ? 0 : entry.seq - 1) (hash \(entry.prev.prefix(16))…)"
            )
            return
        }
    }

    private mutating func issue(
        _ kind: VerificationIssue.Kind, _ seq: UInt64?, through: UInt64? = nil, _ location: EntryLocation,
        _ message: String
    ) {
        appendIssue(VerificationIssue(kind, seq: seq, through: through, location: location.description, message))
    }

    /// Bounds the report: a wrecked log need not list a million issues.
    mutating func appendIssue(_ issue: VerificationIssue) {
        if report.issues.count < 1000 { report.issues.append(issue) }
    }

    /// Checks one line (without its `LF`); `terminated` is false for bytes at the end of a file
    /// with no `LF`. Returns the entry when it is in order and its bytes are intact.
    @discardableResult
    public mutating func consume(_ line: ArraySlice<UInt8>, terminated: Bool, at position: EntryLocation)
        throws(OTAError) -> VerifiedEntry?
    {
        let location = position
        guard terminated else {
            resolveFork(with: nil)
            issue(
                .tornTail, lastInOrder.map { $0.seq + 1 }, location,
                "\(line.count) bytes without an end of line after entry \(lastInOrder.map { String($0.seq) } ?? "none") (a write cut short by a crash)"
            )
            return nil
        }
        guard let entry = LogEntry.parse(line) else {
            resolveFork(with: nil)
            issue(
                .malformed, lastInOrder.map { $0.seq + 1 }, location,
                "not a log entry (after entry \(lastInOrder.map { String($0.seq) } ?? "none"))")
            return nil
        }
        resolveFork(with: entry)
        report.entries += 1
        let intact = try LogEntry.hashMatches(line, meta.hash)
        if !intact {
            issue(.changed, entry.seq, location, "entry \(entry.seq) was changed: its bytes no longer match its hash")
        }
        let body = body(entry, location)
        consumingAnchor = false
        switch body {
        case .checkpoint(let checkpoint):
            report.checkpoints += 1
            consumingAnchor = try checkCheckpoint(entry, checkpoint, intact: intact, location) && intact
        case .record:
            report.records += 1
            rotation = nil
        case .prune(let prune):
            prunedThrough = max(prunedThrough ?? 0, prune.through)
            rotation = nil
            if intact { checkPrune(entry, prune, location) }
        case .genesis(let genesis):
            consumingAnchor = intact
            if intact {
                try adopt(genesis.key, at: entry.seq)
                if genesis.vin != meta.vin || genesis.hash != meta.hash || genesis.format != LogMeta.format {
                    issue(
                        .meta, 0, location,
                        "the genesis entry names \(genesis.vin), \(genesis.hash.rawValue), \(genesis.format); log.json names \(meta.vin), \(meta.hash.rawValue), \(LogMeta.format)"
                    )
                }
                if entry.hash != meta.genesis {
                    issue(.meta, 0, location, "log.json names genesis \(meta.genesis); entry 0 is \(entry.hash)")
                }
            }
            rotation = nil
        case .keyRotation(let announced):
            rotation = nil
            if intact {
                if let publicKey = try? PublicKey(der: announced.publicKey, source: "entry \(entry.seq) public key"),
                    try publicKey.keyID(.sha256).hex == announced.key
                {
                    rotation = (entry.seq, announced.key, publicKey, false)
                } else {
                    issue(
                        .schema, entry.seq, location,
                        "key rotation \(entry.seq): the public key does not match its key id")
                }
            }
        case .unsignedTail(let statement):
            rotation = nil
            if intact { checkUnsigned(entry, statement, location) }
        case .tornTail, nil:
            rotation = nil
        }
        if let head, entry.seq == head.seq {
            sawHeadEntry = true
            if entry.hash != head.hash {
                issue(.changed, entry.seq, location, "entry \(entry.seq) differs from the signed checkpoint in HEAD")
            }
        }

        if !started {
            started = true
            report.firstSeq = entry.seq
            firstTime = body?.time
            if entry.seq == 0 {
                if entry.kind != .genesis || entry.prev != LogEntry.zeroHash {
                    issue(.unanchored, 0, location, "entry 0 is not a genesis entry")
                }
            } else {
                report.anchoredAt = entry.seq
                startsAtAnchor = trustedAnchor.map { $0.seq == entry.seq && $0.hash == entry.hash } ?? false
                if entry.kind != .checkpoint {
                    issue(
                        .unanchored, entry.seq, location,
                        "the log starts at entry \(entry.seq), which is not a signed checkpoint")
                }
            }
            accept(entry, location)
            return intact ? body.map { VerifiedEntry(entry: entry, body: $0) } : nil
        }

        if entry.seq == expected {
            if entry.prev != prevHash {
                if let last = lastInOrder, last.seq + 1 == entry.seq, intact {
                    issue(
                        .changed, last.seq, last.location,
                        "entry \(last.seq) was changed: entry \(entry.seq) (\(location)) holds a different hash for it")
                }
            }
            accept(entry, location)
            return intact ? body.map { VerifiedEntry(entry: entry, body: $0) } : nil
        }
        if entry.seq > expected {
            missing.append((expected, entry.seq - 1, location))
            accept(entry, location)
            return nil
        }
        // entry.seq < expected: reordered (it was missing) or inserted (seen already).
        if let index = missing.firstIndex(where: { entry.seq >= $0.from && entry.seq <= $0.to }) {
            let range = missing[index]
            missing.remove(at: index)
            if entry.seq > range.from { missing.append((range.from, entry.seq - 1, range.location)) }
            if entry.seq < range.to { missing.append((entry.seq + 1, range.to, range.location)) }
            noteReordered(entry.seq, location)
            return nil
        }
        if let last = lastInOrder, entry.seq == last.seq, entry.prev == last.prev {
            if entry.hash == last.hash {
                issue(.inserted, entry.seq, location, "entry \(entry.seq) appears twice; this copy was inserted")
            } else {
                fork = ((last.hash, last.location), (entry.hash, location), entry.seq)
            }
            return nil
        }
        issue(
            .inserted, entry.seq, location,
            "entry \(entry.seq) does not belong here (it already appeared, or was forged), found after entry \(lastInOrder.map { String($0.seq) } ?? "none")"
        )
        return nil
    }

    private mutating func accept(_ entry: LogEntry, _ location: EntryLocation) {
        flushReorder()
        expected = entry.seq + 1
        prevHash = entry.hash
        lastInOrder = (entry.seq, entry.hash, entry.prev, location)
        if consumingAnchor { lastAnchor = entry.seq }
        report.lastSeq = entry.seq
        report.lastHash = entry.hash
        sinceCheckpoint = entry.kind == .checkpoint ? 0 : sinceCheckpoint + 1
    }

    private mutating func noteReordered(_ seq: UInt64, _ location: EntryLocation) {
        let after = lastInOrder?.seq ?? 0
        if var open = openReorder, open.to + 1 == seq, open.after == after {
            open.to = seq
            openReorder = open
            return
        }
        flushReorder()
        openReorder = (seq, seq, after, location)
    }

    private mutating func flushReorder() {
        guard let open = openReorder else { return }
        openReorder = nil
        let what = open.from == open.to ? "entry \(open.from) is" : "entries \(open.from)...\(open.to) are"
        issue(
            .reordered, open.from, through: open.to == open.from ? nil : open.to, open.location,
            "\(what) out of order: found after entry \(open.after)")
    }

    /// Resolves a fork with the line that follows it: call before `consume` of that line.
    private mutating func resolveFork(with next: LogEntry?) {
        guard let pending = fork else { return }
        fork = nil
        if let next, next.prev == pending.second.hash {
            issue(
                .inserted, pending.seq, pending.first.location,
                "entry \(pending.seq) at \(pending.first.location) was inserted: the chain continues from the one at \(pending.second.location)"
            )
            prevHash = pending.second.hash
            if let last = lastInOrder {
                lastInOrder = (last.seq, pending.second.hash, last.prev, pending.second.location)
            }
            report.lastHash = pending.second.hash
        } else {
            issue(
                .inserted, pending.seq, pending.second.location,
                "entry \(pending.seq) at \(pending.second.location) was inserted: it repeats the place of the one at \(pending.first.location)"
            )
        }
    }

    /// Ends verification; returns the report (intact when it has no issues).
    public mutating func finish() -> VerificationReport {
        resolveFork(with: nil)
        flushReorder()
        for range in missing {
            let what = range.from == range.to ? "entry \(range.from) is" : "entries \(range.from)...\(range.to) are"
            issue(
                .deleted, range.from, through: range.to == range.from ? nil : range.to, range.location,
                "\(what) missing (deleted) before this line")
        }
        missing.removeAll()
        if !started {
            issue(.truncated, 0, EntryLocation("log"), "the log holds no entries")
        }
        if let first = report.firstSeq, first > 0, !startsAtAnchor {
            if prunedThrough == nil || prunedThrough! + 1 < first {
                issue(
                    .deleted, 0, through: first - 1, EntryLocation("log"),
                    "entries 0...\(first - 1) are missing and no prune record covers them")
            }
        }
        if let head, let headLine {
            if case .checkpoint(let checkpoint)? = try? EntryBody(entry: head, vin: meta.vin) {
                if (try? signatureValid(head, checkpoint, key: checkpoint.key)) != true {
                    issue(
                        .checkpointSignature, head.seq, EntryLocation("HEAD"),
                        "the checkpoint in HEAD (entry \(head.seq)) is not signed by a device key of this log")
                }
            } else {
                issue(
                    .schema, head.seq, EntryLocation("HEAD"),
                    "HEAD is not a well-formed checkpoint (\(headLine.count) bytes)")
            }
            let last = report.lastSeq
            if last == nil || last! < head.seq {
                issue(
                    .truncated, (last ?? 0) + 1, through: head.seq, EntryLocation("end of log"),
                    "the log ends at entry \(last.map(String.init) ?? "none") but the signed checkpoint in HEAD covers entries up to \(head.seq)"
                )
            } else if !sawHeadEntry {
                issue(
                    .deleted, head.seq, EntryLocation("HEAD"),
                    "the checkpoint in HEAD (entry \(head.seq)) is not in the log")
            }
        }
        if checksMetaKey, let currentKey, currentKey != meta.keyID {
            issue(
                .meta, nil, EntryLocation("log.json"),
                "log.json names device key \(meta.keyID); the chain is signed by \(currentKey)")
        }
        report.keyID = currentKey
        report.unsignedTail = sinceCheckpoint
        return report
    }
}
