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
        let (recorder, _, _, _) = try makeLog(dir)
        let before = try recorder.layout.segments()
        // Even the oldest segment is only 5 months 29 days old.
        let oldest = Samples.start
        let now = Calendar(identifier: .gregorian).date(byAdding: DateComponents(month: 5, day: 29), to: oldest)!
        let report = try recorder.prune(now: now)
        #expect(report.removed.isEmpty)
        #expect(report.reason?.contains("younger than 6 months") == true)
        #expect(try recorder.layout.segments() == before)
    }

    @Test func `pruning at 6 months and a day removes whole acknowledged segments only and the rest verifies`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, key, _, ackThrough) = try makeLog(dir)
        let before = try recorder.layout.segments()
        var contents: [String: [UInt8]] = [:]
        for name in before { contents[name] = try FileSystem.read(recorder.layout.path(name)) }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let now = utc.date(byAdding: DateComponents(month: 6, day: 1), to: try newestTime(recorder))!
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

    @Test func `a longer retention is honoured and a shorter one is refused`() throws {
        let dir = try TemporaryDirectory("records")
        let (recorder, _, _, _) = try makeLog(dir)
        let now = RecordTime.adding(months: 7, to: try newestTime(recorder))
        #expect(try recorder.prune(now: now, months: 12).removed.isEmpty)
        #expect(try recorder.prune(now: now, months: 3).removed.count == 4, "3 months is raised to the legal 6")
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
        let recorder = try Samples.makeLog(at: dir.path, count: 300, key: key, segmentBytes: 16 << 10)
        let report = try recorder.prune(now: RecordTime.adding(months: 24, to: Samples.start))
        #expect(report.removed.isEmpty)
        #expect(report.reason?.contains("not yet acknowledged") == true)
    }
}
