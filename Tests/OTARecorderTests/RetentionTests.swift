import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

@Suite struct RetentionTests {
    /// A log of 300 records an hour apart over small segments; the fleet store has acknowledged
    /// everything up to the end of the fourth segment (segments 0...3).
    func makeLog(_ dir: TemporaryDirectory) throws -> (Recorder, PrivateKey, ManualClock, ackThrough: UInt64) {
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        let recorder = try Recorder.create(
            at: dir.path, vin: "LSVAU2180N2000001", signer: key, clock: clock,
            configuration: .init(segmentBytes: 16 << 10, checkpointInterval: 32, durability: .none))
        for index in 0..<300 {
            clock.advance(seconds: 3600)
            try recorder.append(Samples.record(vin: "LSVAU2180N2000001", index: index, time: clock.now().date))
        }
        let segments = try recorder.layout.segments()
        #expect(segments.count > 6)
        let ackThrough = LogLayout.firstSeq(ofSegment: segments[4])! - 1
        try recorder.acknowledge(through: ackThrough, hash: try #require(try recorder.entry(at: ackThrough)).hash)
        return (recorder, key, clock, ackThrough)
    }

    func newestTime(_ recorder: Recorder) throws -> Date {
        let text = try #require(try recorder.entry(at: recorder.nextSeq - 1)?.json()["time"]?["at"]?.stringValue)
        return try #require(RecordTime.parse(text))
    }

    @Test func `pruning at 5 months 29 days refuses`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, _, clock, _) = try makeLog(dir)
        let before = try recorder.layout.segments()
        // Even the oldest segment is only 5 months 29 days old.
        let oldest = Samples.start
        let now = Calendar(identifier: .gregorian).date(byAdding: DateComponents(month: 5, day: 29), to: oldest)!
        clock.set(now)
        let report = try recorder.prune(now: now)
        #expect(report.removed.isEmpty)
        #expect(report.reason?.contains("younger than 6 months") == true)
        #expect(try recorder.layout.segments() == before)
    }

    @Test func `pruning at 6 months and a day removes whole acknowledged segments only and the rest verifies`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, clock, ackThrough) = try makeLog(dir)
        let before = try recorder.layout.segments()
        var contents: [String: [UInt8]] = [:]
        for name in before { contents[name] = try FileSystem.read(recorder.layout.path(name)) }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let now = utc.date(byAdding: DateComponents(month: 6, day: 1), to: try newestTime(recorder))!
        clock.set(now)
        let report = try recorder.prune(now: now)
        #expect(report.removed == Array(before.prefix(4)), "only the acknowledged segments go")
        #expect(report.through == ackThrough)
        let after = try recorder.layout.segments()
        #expect(after == Array(before.dropFirst(4)))
        // Kept segments are untouched, except the active one, which gained the prune entry.
        for name in after.dropLast() { #expect(try FileSystem.read(recorder.layout.path(name)) == contents[name]) }
        let verification = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(verification.intact, "\(verification.issues)")
        #expect(verification.anchoredAt == ackThrough + 1)
    }

    func time(_ recorder: Recorder, at seq: UInt64) throws -> Date {
        let entry = try #require(try recorder.entry(at: seq))
        return try EntryBody(entry: entry, vin: "LSVAU2180N2000001").time.date
    }

    /// The segment after a pruned one starts with the checkpoint that then anchors the log: a
    /// segment whose entries are all past the cutoff stays while that checkpoint is not.
    @Test func `a segment stays while the checkpoint that would anchor the log is younger than the cutoff`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, _, clock, _) = try makeLog(dir)
        let before = try recorder.layout.segments()
        let firstOfNext = try #require(LogLayout.firstSeq(ofSegment: before[1]))
        let newestOfFirst = try time(recorder, at: firstOfNext - 1)
        let anchor = try time(recorder, at: firstOfNext)
        try #require(anchor > newestOfFirst.addingTimeInterval(60))
        let cutoff = newestOfFirst.addingTimeInterval(anchor.timeIntervalSince(newestOfFirst) / 2)
        let now = RecordTime.adding(months: 6, to: cutoff)
        try #require(RecordTime.adding(months: -6, to: now) > newestOfFirst)
        clock.set(now)
        let report = try recorder.prune(now: now)
        #expect(report.removed.isEmpty)
        #expect(report.kept == before[0])
        #expect(report.reason?.contains("the checkpoint that would anchor the log (\(before[1]))") == true)
        #expect(try recorder.layout.segments() == before)
    }

    /// With everything acknowledged, every segment but the active one goes; the active segment's
    /// first checkpoint is the anchor.
    @Test func `with everything acknowledged all but the active segment are pruned and the rest verifies`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, clock, _) = try makeLog(dir)
        let before = try recorder.layout.segments()
        let last = try #require(LogLayout.firstSeq(ofSegment: before.last!)) - 1
        try recorder.acknowledge(through: last, hash: try #require(try recorder.entry(at: last)).hash)
        let now = RecordTime.adding(months: 6, to: try newestTime(recorder)).addingTimeInterval(86_400)
        clock.set(now)
        let report = try recorder.prune(now: now)
        #expect(report.removed == Array(before.dropLast()))
        #expect(report.through == last)
        #expect(report.kept == before.last && report.reason == "the active segment is never pruned")
        #expect(try recorder.layout.segments() == [before.last!])
        let verification = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(verification.intact, "\(verification.issues)")
        #expect(verification.anchoredAt == last + 1)
    }

    @Test func `a longer retention is honoured and a shorter one is refused`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, _, clock, _) = try makeLog(dir)
        let now = RecordTime.adding(months: 7, to: try newestTime(recorder))
        clock.set(now)
        #expect(try recorder.prune(now: now, months: 12).removed.isEmpty)
        #expect(try recorder.prune(now: now, months: 3).removed.count == 4, "3 months is raised to the legal 6")
    }

    /// The audit's finding: any `now` was taken, so records minutes old went by passing a time
    /// ahead. The prune's time must be within a day of the recorder's clock and not before the
    /// newest signed time in the log; nothing is written or removed otherwise.
    @Test func `a prune whose time is far from the clock, or behind the log, removes nothing`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, clock, _) = try makeLog(dir)
        let newest = try newestTime(recorder)
        clock.set(newest.addingTimeInterval(60))
        let before = try recorder.layout.segments()
        let end = recorder.nextSeq
        for now in [RecordTime.adding(months: 7, to: newest), newest.addingTimeInterval(-2 * 3600)] {
            do {
                let report = try recorder.prune(now: now)
                Issue.record("pruned at \(now): \(report.removed)")
            } catch {
                #expect(error.code == .recordsRetention, "\(error.message)")
            }
        }
        #expect(try recorder.layout.segments() == before)
        #expect(recorder.nextSeq == end, "nothing is written for a refused prune")
        #expect(try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify().intact)
    }

    /// A prune entry states its cutoff, its months and its time: verify checks they agree (the
    /// cutoff no later than the time minus the months), and that the checkpoint the log now
    /// starts from was written before the cutoff, so nothing younger was removed. A log pruned
    /// with a clock set ahead (as the unchecked `now` allowed) is reported.
    @Test func `verify reports a prune whose cutoff is past its own time minus its months`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, clock, _) = try makeLog(dir)
        let newest = try newestTime(recorder)
        clock.set(newest.addingTimeInterval(60))
        try recorder.close()
        let layout = recorder.layout
        let meta = try LogMeta.load(layout)
        // What a prune with `--now` seven months ahead wrote: the entry's time from the clock,
        // the cutoff from the given time. Written here with the device key, as the recorder did.
        let cutoff = RecordTime.format(RecordTime.adding(months: -6, to: RecordTime.adding(months: 7, to: newest)))
        let through = LogLayout.firstSeq(ofSegment: try layout.segments()[1])! - 1
        let body = EntryBody.prune(
            .init(
                through: through, throughHash: try recorder.entry(at: through)?.hash,
                segments: [try layout.segments()[0]], cutoff: cutoff, months: 6, reason: "retention",
                requestedBy: "operator", acknowledged: nil, time: RecordTime(clock.now().date, source: .test))
        ).json
        var seq = recorder.nextSeq
        var prev = recorder.lastHash
        var lines: [UInt8] = []
        let (line, hash) = try LogEntry.encode(seq: seq, prev: prev, kind: .prune, body: body, hash: meta.hash)
        lines += line
        seq += 1
        prev = hash
        let signature = try key.signature(for: LogEntry.checkpointMessage(genesis: meta.genesis, seq: seq, prev: prev))
        let checkpoint = EntryBody.checkpoint(
            .init(algorithm: .ecdsaP256SHA256, key: meta.keyID, signature: signature, time: clock.now(), version: .v2)
        ).json
        let (checkpointLine, _) = try LogEntry.encode(
            seq: seq, prev: prev, kind: .checkpoint, body: checkpoint, hash: meta.hash)
        lines += checkpointLine
        let active = try layout.segments().last!
        let removed = try layout.segments()[0]
        let handle = try #require(FileHandle(forWritingAtPath: layout.path(active)))
        handle.seekToEndOfFile()
        handle.write(Data(lines))
        handle.closeFile()
        try AtomicFileWriter.write(checkpointLine, to: layout.headPath)
        unlink(layout.path(removed))
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.contains { $0.kind.code == .recordsRetention }, "\(report.issues)")
    }

    /// A prune time the checks doubt (the vehicle's clock reset, say) is taken only with a
    /// reason; the prune entry keeps it with the doubts, and the log still verifies.
    @Test func `a clock override is recorded in the prune entry`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, clock, _) = try makeLog(dir)
        let newest = try newestTime(recorder)
        clock.set(newest.addingTimeInterval(60))
        let now = RecordTime.adding(months: 7, to: newest)
        let reason = "real-time clock reset; time from the workshop's NTP server"
        let report = try recorder.prune(now: now, clockOverride: reason)
        #expect(report.removed.count == 4)
        let entry = try #require(try recorder.entry(at: recorder.nextSeq - 2))
        #expect(entry.kind == .prune)
        let override = try #require(try entry.json()["clockOverride"]?.stringValue)
        #expect(
            override.hasPrefix(reason) && override.contains("more than a day from the vehicle's clock"), "\(override)")
        let verification = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(verification.intact, "\(verification.issues)")
    }

    @Test func `segments deleted without a prune record are reported`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, _, _) = try makeLog(dir)
        let segments = try recorder.layout.segments()
        unlink(recorder.layout.path(segments[0]))
        unlink(recorder.layout.path(segments[1]))
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.contains { $0.kind == .deleted && $0.concerns(0) })
    }

    @Test func `nothing unacknowledged is pruned`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        let recorder = try Samples.makeLog(at: dir.path, count: 300, key: key, segmentBytes: 16 << 10, clock: clock)
        clock.set(RecordTime.adding(months: 24, to: Samples.start))
        let report = try recorder.prune(now: RecordTime.adding(months: 24, to: Samples.start))
        #expect(report.removed.isEmpty)
        #expect(report.reason?.contains("not yet acknowledged") == true)
    }
}
