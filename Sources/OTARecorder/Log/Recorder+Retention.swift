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

    /// Removes the oldest whole segments whose every entry is older than the retention period
    /// (at least 6 months; `months` may ask for longer, never shorter) and acknowledged by the
    /// fleet store. The active segment is never removed. A `prune` entry (a tombstone: what
    /// range, why, asked by whom, acknowledged by whom), signed by the checkpoint after it,
    /// records what went before anything is removed.
    public func prune(now: Date, months: Int? = nil, requestedBy: String = "vehicle") throws(OTAError) -> PruneReport {
        let months = max(
            months ?? configuration.retentionMonths, configuration.retentionMonths, Self.minimumRetentionMonths)
        guard months <= LogMeta.maximumRetentionMonths else {
            throw OTAError(
                .recordsRetentionMinimum,
                "retention of \(months) months is past the largest a log may state (\(LogMeta.maximumRetentionMonths))")
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
                report.reason =
                    "not yet acknowledged by the fleet store (entries up to \(lastSeq); acknowledged \(acknowledged.map { String($0.through) } ?? "none"))"
                break
            }
            let newest = try newestTime(in: name)
            guard let newest, newest < cutoff else {
                report.kept = name
                report.reason =
                    "holds entries younger than \(months) months (newest \(newest.map(RecordTime.format) ?? "unknown"), cutoff \(RecordTime.format(cutoff)))"
                break
            }
            removable.append(name)
            through = lastSeq
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
                    reason: "retention", requestedBy: requestedBy, acknowledged: acknowledged, time: clock.now())
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

    private func newestTime(in segment: String) throws(OTAError) -> Date? {
        var newest: Date? = nil
        try SegmentReader.forEachLine(layout.path(segment)) { line, _, terminated throws(OTAError) in
            guard terminated, let entry = LogEntry.parse(line), let body = try? EntryBody(entry: entry, vin: meta.vin)
            else { return }
            let date = body.time.date
            if newest == nil || date > newest! { newest = date }
        }
        return newest
    }
}
