import Foundation
import OTACore
import OTARecorder
import Synchronization
import Testing

@testable import OTAFleet

/// The refusal log cannot be turned into a flood of writes and syncs by clients that keep being
/// refused, and still accounts for every refusal: the ones over its budget are summed up in a
/// line before the next one written, and counted.
@Suite struct RefusalLogTests {
    /// A clock the test moves by hand.
    final class Clock: Sendable {
        private let seconds = Mutex(0.0)
        func advance(_ by: Double) { seconds.withLock { $0 += by } }
        var now: Date { Date(timeIntervalSinceReferenceDate: 800_000_000 + seconds.withLock { $0 }) }
    }

    static func log(burst: Int, perSecond: Double, clock: Clock) -> RefusalLog {
        let directory = NSTemporaryDirectory() + "ota-refusals-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return RefusalLog(
            path: directory + "/refused-uploads.jsonl", budget: RefusalBudget(burst: burst, perSecond: perSecond),
            now: { clock.now })
    }

    static let refusal = OTAError(.fleetClientCertificate, "no client certificate", cause: "tls: none")

    static func object(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func `a flood of refusals writes the burst, then one summary line before the next refusal`() throws {
        let clock = Clock()
        let log = Self.log(burst: 5, perSecond: 2, clock: clock)
        var outcomes: [RefusalLog.Outcome] = []
        for _ in 0..<1000 {
            outcomes.append(log.record(Self.refusal, vin: nil, subject: "(none)", at: "tls-front", requestPath: "/"))
        }
        #expect(outcomes.filter { $0 == .written }.count == 5)
        #expect(outcomes.filter { $0 == .suppressed }.count == 995)
        #expect(log.entries().count == 5)

        clock.advance(1)
        let upload = OTAError(.recordsChainFork, "forked history")
        #expect(log.record(upload, vin: "LSVREFUSED0000001", subject: "CN=vehicle") == .written)
        let lines = log.entries()
        try #require(lines.count == 7)
        let summary = try Self.object(lines[5])
        #expect(summary["suppressed"] as? Int == 995)
        #expect((summary["codes"] as? [String: Int]) == ["fleet.client-certificate": 995])
        #expect(summary["since"] as? String == RecordTime.format(Date(timeIntervalSinceReferenceDate: 800_000_000)))
        #expect(try Self.object(lines[6])["code"] as? String == "records.chain-fork")
    }

    @Test func `lines come back at the budget's rate, never above the burst`() {
        let clock = Clock()
        let log = Self.log(burst: 3, perSecond: 2, clock: clock)
        for _ in 0..<3 { #expect(log.record(Self.refusal, vin: nil, subject: "a") == .written) }
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .suppressed)
        clock.advance(0.4)  // 0.8 of a line
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .suppressed)
        clock.advance(0.1)
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .written)
        clock.advance(3600)  // an hour of quiet refills the burst only
        for _ in 0..<3 { #expect(log.record(Self.refusal, vin: nil, subject: "a") == .written) }
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .suppressed)
    }

    @Test func `an unwritable log reports failed and keeps the suppressed count for the next line`() throws {
        let clock = Clock()
        let directory = NSTemporaryDirectory() + "ota-refusals-\(UUID().uuidString)"
        let log = RefusalLog(
            path: directory + "/refused-uploads.jsonl", budget: RefusalBudget(burst: 1, perSecond: 1),
            now: { clock.now })
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .failed)
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .suppressed)
        clock.advance(1)
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .failed)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        clock.advance(1)
        #expect(log.record(Self.refusal, vin: nil, subject: "a") == .written)
        let lines = log.entries()
        try #require(lines.count == 2)
        #expect(try Self.object(lines[0])["suppressed"] as? Int == 1)
    }
}
