public import Foundation
public import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Retention: what the fleet store acknowledged, and pruning the oldest acknowledged segments
/// past the retention period behind a signed tombstone.
extension Recorder {
    /// Records that the fleet store `by` holds everything up to entry `seq` whose hash is `hash`.
    public func acknowledge(through seq: UInt64, hash: String, by store: String = "fleet-store") throws(OTAError) {
        guard !store.isEmpty, store.utf8.count <= 256, store.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw OTAError(
                .usageInvalid,
                "an acknowledging store names itself in 1 to 256 printable ASCII characters without spaces")
        }
        guard let entry = try entry(at: seq), entry.hash == hash else {
            throw OTAError(.recordsAckMismatch, "\(layout.directory): entry \(seq) does not have hash \(hash)")
        }
        try LogIO.replace(layout.ackPath, with: Array("\(seq) \(hash) \(store)\n".utf8), durable: durable)
    }

    /// What the fleet store has acknowledged (`ACK`: `<seq> <hash> <store>`), or nil.
    package func acknowledged() throws(OTAError) -> EntryBody.Prune.Acknowledgement? {
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

    /// The outcome of `prune`.
    public struct PruneReport: Sendable, Encodable {
        public var removed: [String] = []
        /// Entries `0 ... through` are gone when something was removed.
        public var through: UInt64?
        /// The oldest kept segment and why it could not go.
        public var kept: String?
        public var reason: String?
    }

    /// How far a prune's time may be from the recorder's clock without an override.
    public static let pruneClockSkew: TimeInterval = 86_400

    /// Removes the oldest whole segments whose every entry, and the checkpoint that starts the
    /// next segment (which then anchors the log), are older than the retention period (at least
    /// 6 months; `months` may ask for longer, never shorter) and acknowledged by the fleet store.
    /// The active segment is never removed. A `prune` entry (a tombstone: what range, why, asked
    /// by whom, acknowledged by whom, its time, cutoff and months), signed by the checkpoint
    /// after it, records what went before anything is removed.
    ///
    /// `now` (default the recorder's clock) must be within a day of the recorder's clock and not
    /// before the newest signed time in the log, so a clock set ahead cannot prune records minutes
    /// old (`records.retention`, nothing written); `clockOverride` states why a doubted time is
    /// right, and the prune entry records it with the doubts.
    public func prune(
        now: Date? = nil, months: Int? = nil, requestedBy: String = "vehicle", clockOverride: String? = nil
    ) throws(OTAError) -> PruneReport {
        let months = max(
            months ?? configuration.retentionMonths, configuration.retentionMonths, Self.minimumRetentionMonths)
        guard months <= LogMeta.maximumRetentionMonths else {
            throw OTAError(
                .recordsRetentionMinimum,
                "retention of \(months) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))")
        }
        if let clockOverride, clockOverride.isEmpty || clockOverride.utf8.count > 512 {
            throw OTAError(.usageInvalid, "a clock override states its reason (1 to 512 bytes)")
        }
        let clockTime = clock.now()
        // The prune's time as the entry states it (milliseconds), from which the cutoff follows.
        let time = RecordTime(now ?? clockTime.date, source: clockTime.source)
        let date = time.date
        var doubts: [String] = []
        if abs(date.timeIntervalSince(clockTime.date)) > Self.pruneClockSkew {
            doubts.append(
                "the prune's time \(time.text) is more than a day from the vehicle's clock (\(clockTime.text))")
        }
        let active = try activeSegmentTimes()
        if let newest = active.newestSigned, date < newest.date {
            doubts.append("the prune's time \(time.text) is before the newest signed time in the log (\(newest.text))")
        }
        var override: String? = nil
        if !doubts.isEmpty {
            guard let clockOverride else {
                throw OTAError(
                    .recordsRetention,
                    doubts.joined(separator: "; ")
                        + ": nothing pruned; if the time is right, prune again with a clock override stating why (it is recorded)"
                )
            }
            override = clockOverride + " [" + doubts.joined(separator: "; ") + "]"
        }
        let cutoff = RecordTime.adding(months: -months, to: date)
        let acknowledged = try self.acknowledged()
        let segments = try layout.segments()
        var report = PruneReport()
        // First what the segment names and the acknowledgement allow (nothing read): the
        // candidates, oldest first, each with its last entry number.
        var candidates: [(name: String, lastSeq: UInt64)] = []
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
                report.reason =
                    "not yet acknowledged by the fleet store (entries up to \(lastSeq); acknowledged \(acknowledged.map { String($0.through) } ?? "none"))"
                break
            }
            candidates.append((name, lastSeq))
        }
        // Then the times, each segment read once: the newest time of a candidate, and the first
        // time of the segment after it (the anchor), with that segment's newest in the same pass
        // when it is a candidate too (the active segment's first came with its newest signed time).
        var removable: [String] = []
        var through: UInt64? = nil
        var known: SegmentTimes? = nil
        for (index, candidate) in candidates.enumerated() {
            let newest: Date?
            if let known { newest = known.newest } else { newest = try times(in: candidate.name, newest: true).newest }
            guard let newest, newest < cutoff else {
                report.kept = candidate.name
                report.reason =
                    "holds entries younger than \(months) months (newest \(newest.map(RecordTime.format) ?? "unknown"), cutoff \(RecordTime.format(cutoff)))"
                break
            }
            // The next segment's first checkpoint anchors the log once this one is gone: a
            // verifier checks that it, too, is older than the cutoff (all it can see).
            let next = segments[index + 1]
            let nextIsCandidate = index + 1 < candidates.count
            let nextTimes: SegmentTimes
            if !nextIsCandidate && next == segment {
                nextTimes = SegmentTimes(first: active.first, newest: nil)
            } else {
                nextTimes = try times(in: next, newest: nextIsCandidate)
            }
            guard let anchor = nextTimes.first, anchor < cutoff else {
                report.kept = candidate.name
                report.reason =
                    "the checkpoint that would anchor the log (\(next)) is younger than \(months) months (\(nextTimes.first.map(RecordTime.format) ?? "unknown"), cutoff \(RecordTime.format(cutoff)))"
                break
            }
            known = nextTimes
            removable.append(candidate.name)
            through = candidate.lastSeq
        }
        guard let through, !removable.isEmpty else { return report }
        // Record first, then remove: a crash in between leaves a log that still verifies.
        if segmentSize >= configuration.segmentBytes { try rotate() }
        let throughHash = try entry(at: through)?.hash
        _ = try write(
            kind: .prune,
            body: EntryBody.prune(
                .init(
                    through: through, throughHash: throughHash, segments: removable, cutoff: RecordTime.format(cutoff),
                    months: Int64(months),
                    reason: "retention", requestedBy: requestedBy, acknowledged: acknowledged, clockOverride: override,
                    time: time)
            ).json)
        try checkpoint()
        for name in removable {
            try LogIO.remove(layout.path(name), what: "remove")
        }
        try LogIO.syncDirectory(layout.directory)
        report.removed = removable
        report.through = through
        return report
    }

    /// The times a prune needs of a segment's entries (nil: no entry read, or not asked for).
    private struct SegmentTimes {
        var first: Date?
        var newest: Date?
    }

    /// The active segment's first entry time and the newest time of the entries its last
    /// checkpoint covers, in one pass.
    private func activeSegmentTimes() throws(OTAError) -> (first: Date?, newestSigned: RecordTime?) {
        var first: Date? = nil
        var newest: RecordTime? = nil
        var running: RecordTime? = nil
        try SegmentReader.forEachLine(layout.path(segment)) { line, _, terminated throws(OTAError) in
            guard terminated, let entry = LogEntry.parse(line), let body = try? EntryBody(entry: entry, vin: meta.vin)
            else { return }
            if first == nil { first = body.time.date }
            if running == nil || body.time > running! { running = body.time }
            if entry.kind == .checkpoint { newest = running }
        }
        return (first, newest)
    }

    /// A segment's first entry time and, if `newest`, its newest entry time, in one pass; without
    /// `newest` the pass stops at the first entry.
    private func times(in segment: String, newest wanted: Bool) throws(OTAError) -> SegmentTimes {
        var times = SegmentTimes()
        try SegmentReader.readLines(layout.path(segment)) { line, _, terminated throws(OTAError) in
            guard terminated, let entry = LogEntry.parse(line), let body = try? EntryBody(entry: entry, vin: meta.vin)
            else { return .next }
            let date = body.time.date
            if times.first == nil { times.first = date }
            guard wanted else { return .stop }
            if times.newest == nil || date > times.newest! { times.newest = date }
            return .next
        }
        return times
    }
}
