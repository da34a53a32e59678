public import OTACore

/// Checks a log's entries one line at a time (streamed: memory does not grow with the log).
///
/// Detects and locates changed, deleted, inserted, reordered and torn entries, bad checkpoint
/// signatures, and truncation against the signed checkpoint in `HEAD`. Feed every line of every
/// segment in order with `consume`, then call `finish`.
public struct RecordChainVerifier: Sendable {
    public let meta: LogMeta
    private let publicKey: PublicKey
    private let algorithm: SignatureAlgorithm
    private let head: LogEntry?
    public private(set) var report: VerificationReport

    // Chain state: the highest in-order entry and its hash.
    private var started = false
    private var expected: UInt64 = 0
    private var prevHash = LogEntry.zeroHash
    private var lastInOrder: (seq: UInt64, hash: String, prev: String, location: EntryLocation)?
    /// Ranges of sequence numbers skipped so far (deleted, unless they show up later: reordered).
    private var missing: [(from: UInt64, to: UInt64, location: EntryLocation)] = []
    /// A duplicate of the last entry with the same predecessor: which one the chain continues from
    /// decides which was inserted.
    private var fork: (first: (hash: String, location: EntryLocation), second: (hash: String, location: EntryLocation), seq: UInt64)?
    private var openReorder: (from: UInt64, to: UInt64, after: UInt64, location: EntryLocation)?
    private var prunedThrough: UInt64?
    private var sawHeadEntry = false
    private var sinceCheckpoint = 0

    /// `head` is the `HEAD` file's line (without `LF`), or nil when there is none.
    public init(meta: LogMeta, publicKey: PublicKey, head: ArraySlice<UInt8>?) throws(OTAError) {
        self.meta = meta
        self.publicKey = publicKey
        self.algorithm = try SignatureAlgorithm.forKey(publicKey.type)
        guard try publicKey.keyID(.sha256).hex == meta.keyID else {
            throw OTAError(.recordsKeyMismatch, "the log names device key \(meta.keyID), which is not the key given")
        }
        report = VerificationReport(vin: meta.vin, hash: meta.hash.rawValue)
        if let head {
            guard let entry = LogEntry.parse(head), entry.kind == .checkpoint,
                  try LogEntry.computeHash(head, meta.hash) == entry.hash
            else {
                self.head = nil
                report.issues.append(VerificationIssue(.malformed, seq: nil, location: "HEAD", "HEAD is not a checkpoint entry"))
                return
            }
            self.head = entry
            report.headSeq = entry.seq
            if !(try checkSignature(entry)) {
                report.issues.append(VerificationIssue(.checkpointSignature, seq: entry.seq, location: "HEAD", "the checkpoint in HEAD (entry \(entry.seq)) is not signed by the device key"))
            }
        } else {
            // Every log gets a HEAD when it is created: without it, truncation cannot be judged.
            self.head = nil
            report.issues.append(VerificationIssue(.truncated, seq: nil, location: "HEAD", "HEAD (the latest signed checkpoint) is missing: truncation cannot be ruled out"))
        }
    }

    private func checkSignature(_ entry: LogEntry) throws(OTAError) -> Bool {
        guard let body = try? entry.json(), body["key"]?.stringValue == meta.keyID,
              body["alg"]?.stringValue == algorithm.rawValue,
              let signatureHex = body["sig"]?.stringValue, let signature = Hex.decode(signatureHex)
        else { return false }
        let message = LogEntry.checkpointMessage(vin: meta.vin, seq: entry.seq, prev: entry.prev)
        return try publicKey.check(signature, for: message, algorithm: algorithm) == .valid
    }

    private mutating func issue(_ kind: VerificationIssue.Kind, _ seq: UInt64?, through: UInt64? = nil, _ location: EntryLocation, _ message: String) {
        // Bound the report: a wrecked log need not list a million issues.
        if report.issues.count < 1000 {
            report.issues.append(VerificationIssue(kind, seq: seq, through: through, location: location.description, message))
        }
    }

    /// Checks one line (without its `LF`); `terminated` is false for bytes at the end of a file
    /// with no `LF`. Returns the entry when it is in order and its bytes are intact.
    @discardableResult
    public mutating func consume(_ line: ArraySlice<UInt8>, terminated: Bool, at position: EntryLocation) throws(OTAError) -> LogEntry? {
        let location = position
        guard terminated else {
            resolveFork(with: nil)
            issue(.tornTail, lastInOrder.map { $0.seq + 1 }, location,
                  "\(line.count) bytes without an end of line after entry \(lastInOrder.map { String($0.seq) } ?? "none") (a write cut short by a crash)")
            return nil
        }
        guard let entry = LogEntry.parse(line) else {
            resolveFork(with: nil)
            issue(.malformed, lastInOrder.map { $0.seq + 1 }, location, "not a log entry (after entry \(lastInOrder.map { String($0.seq) } ?? "none"))")
            return nil
        }
        resolveFork(with: entry)
        report.entries += 1
        let intact = try LogEntry.hashMatches(line, meta.hash)
        if !intact {
            issue(.changed, entry.seq, location, "entry \(entry.seq) was changed: its bytes no longer match its hash")
        }
        if entry.kind == .checkpoint {
            report.checkpoints += 1
            if !(try checkSignature(entry)) {
                issue(.checkpointSignature, entry.seq, location, "checkpoint \(entry.seq) does not verify under the device key: entries before it were rewritten")
            }
        } else if entry.kind == .record {
            report.records += 1
        }
        if entry.kind == .prune, let through = try? entry.json()["through"]?.integerValue {
            prunedThrough = max(prunedThrough ?? 0, UInt64(through))
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
            if entry.seq == 0 {
                if entry.kind != .genesis || entry.prev != LogEntry.zeroHash {
                    issue(.unanchored, 0, location, "entry 0 is not a genesis entry")
                }
            } else {
                report.anchoredAt = entry.seq
                if entry.kind != .checkpoint {
                    issue(.unanchored, entry.seq, location, "the log starts at entry \(entry.seq), which is not a signed checkpoint")
                }
            }
            accept(entry, location)
            return intact ? entry : nil
        }

        if entry.seq == expected {
            if entry.prev != prevHash {
                if let last = lastInOrder, last.seq + 1 == entry.seq, intact {
                    issue(.changed, last.seq, last.location,
                          "entry \(last.seq) was changed: entry \(entry.seq) (\(location)) holds a different hash for it")
                }
            }
            accept(entry, location)
            return intact ? entry : nil
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
        issue(.inserted, entry.seq, location, "entry \(entry.seq) does not belong here (it already appeared, or was forged), found after entry \(lastInOrder.map { String($0.seq) } ?? "none")")
        return nil
    }

    private mutating func accept(_ entry: LogEntry, _ location: EntryLocation) {
        flushReorder()
        expected = entry.seq + 1
        prevHash = entry.hash
        lastInOrder = (entry.seq, entry.hash, entry.prev, location)
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
        issue(.reordered, open.from, through: open.to == open.from ? nil : open.to, open.location, "\(what) out of order: found after entry \(open.after)")
    }

    /// Resolves a fork with the line that follows it: call before `consume` of that line.
    private mutating func resolveFork(with next: LogEntry?) {
        guard let pending = fork else { return }
        fork = nil
        if let next, next.prev == pending.second.hash {
            issue(.inserted, pending.seq, pending.first.location, "entry \(pending.seq) at \(pending.first.location) was inserted: the chain continues from the one at \(pending.second.location)")
            prevHash = pending.second.hash
            if let last = lastInOrder { lastInOrder = (last.seq, pending.second.hash, last.prev, pending.second.location) }
            report.lastHash = pending.second.hash
        } else {
            issue(.inserted, pending.seq, pending.second.location, "entry \(pending.seq) at \(pending.second.location) was inserted: it repeats the place of the one at \(pending.first.location)")
        }
    }

    /// Ends verification; returns the report (intact when it has no issues).
    public mutating func finish() -> VerificationReport {
        resolveFork(with: nil)
        flushReorder()
        for range in missing {
            let what = range.from == range.to ? "entry \(range.from) is" : "entries \(range.from)...\(range.to) are"
            issue(.deleted, range.from, through: range.to == range.from ? nil : range.to, range.location, "\(what) missing (deleted) before this line")
        }
        missing.removeAll()
        if !started {
            issue(.truncated, 0, EntryLocation("log"), "the log holds no entries")
        }
        if let first = report.firstSeq, first > 0 {
            if prunedThrough == nil || prunedThrough! + 1 < first {
                issue(.deleted, 0, through: first - 1, EntryLocation("log"), "entries 0...\(first - 1) are missing and no prune record covers them")
            }
        }
        if let head {
            let last = report.lastSeq
            if last == nil || last! < head.seq {
                issue(.truncated, (last ?? 0) + 1, through: head.seq, EntryLocation("end of log"),
                      "the log ends at entry \(last.map(String.init) ?? "none") but the signed checkpoint in HEAD covers entries up to \(head.seq)")
            } else if !sawHeadEntry {
                issue(.deleted, head.seq, EntryLocation("HEAD"), "the checkpoint in HEAD (entry \(head.seq)) is not in the log")
            }
        }
        report.unsignedTail = sinceCheckpoint
        return report
    }
}
