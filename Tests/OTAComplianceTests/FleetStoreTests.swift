import Foundation
import OTACompliance
import OTACore
import OTARecorder
import Testing

struct Workspace {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "ota-fleet-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

enum Fleet {
    static let start = RecordTime.parse("2026-01-01T00:00:00.000Z")!

    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        UpgradeRecord(
            time: RecordTime.format(time), timeSource: "test", vin: vin, bundle: "bundle-\(index / 10)",
            campaign: "CAMP-\(index / 20)", ecu: ["adas", "bms"][index % 2], hardwarePart: "HW-1",
            step: ["verify", "consent", "apply", "confirm"][index % 4], result: index % 7 == 6 ? "failure" : "success",
            errorCode: index % 7 == 6 ? "apply.hash-mismatch" : nil, versionBefore: "1.\(index / 10)", versionAfter: "1.\(index / 10 + 1)",
            swinBefore: "SWIN-\(index / 10)", swinAfter: "SWIN-\(index / 10 + 1)", categories: ["safety"],
            regulatory: [.init(kind: "filing", number: "F-1", authority: "MIIT")], preconditions: ["battery": "80"],
            notice: .init(digest: String(repeating: "11", count: 32), language: "zh-CN"),
            confirmation: index % 4 == 1 ? .init(actor: .driver, channel: "hmi", answer: "accepted", at: RecordTime.format(time)) : nil)
    }

    /// A vehicle log with `count` records, one a day from `start`.
    static func log(at path: String, vin: String, key: PrivateKey, count: Int, clock: ManualClock = ManualClock(start)) throws -> Recorder {
        let recorder = try Recorder.create(at: path, vin: vin, signer: key, clock: clock,
                                           configuration: .init(segmentBytes: 8 << 10, checkpointInterval: 8, durability: .none))
        try append(recorder, vin: vin, from: 0, count: count, clock: clock)
        return recorder
    }

    static func append(_ recorder: Recorder, vin: String, from: Int, count: Int, clock: ManualClock) throws {
        for index in from..<(from + count) {
            clock.advance(seconds: 86_400)
            try recorder.append(record(vin: vin, index: index, time: clock.now().date))
        }
        try recorder.close()
    }
}

@Suite struct FleetStoreTests {
    @Test func `ingest verifies, stores and is idempotent`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Fleet.start)
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 40, clock: clock)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        let first = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(first.added == Int(recorder.nextSeq))
        #expect(first.unsigned == 0)
        let total = try store.count(matching: RecordFilter(kinds: []))
        let again = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(again.added == 0)
        #expect(try store.count(matching: RecordFilter(kinds: [])) == total)
        // The vehicle goes on recording; the next ingest adds only the new entries.
        try Fleet.append(recorder, vin: "VIN00000000000001", from: 40, count: 5, clock: clock)
        let third = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(third.added == Int(recorder.nextSeq) - total)
        #expect(try store.count(matching: RecordFilter()) == 45)
    }

    @Test func `a log that does not continue the stored chain is rejected, not merged`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        _ = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 20)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let before = try store.count(matching: RecordFilter(kinds: []))
        // Another history for the same vehicle and key (a rewritten log).
        _ = try Fleet.log(at: ws.path + "/v1-forged", vin: "VIN00000000000001", key: key, count: 30, clock: ManualClock(Fleet.start.addingTimeInterval(5)))
        #expect(throws: OTAError(.recordsChainFork, "")) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1-forged", publicKey: try key.publicKey, into: store)
        }
        #expect(try store.count(matching: RecordFilter(kinds: [])) == before)
    }

    @Test func `a pruned log that skips past the stored head is rejected`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        let clock = ManualClock(Fleet.start)
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 10, clock: clock)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        try Fleet.append(recorder, vin: "VIN00000000000001", from: 10, count: 200, clock: clock)
        // Acknowledge far past what the store holds (a misbehaving vehicle) and prune.
        let ack = recorder.nextSeq - 20
        try recorder.acknowledge(through: ack, hash: try #require(try recorder.entry(at: ack)).hash)
        let pruned = try recorder.prune(now: RecordTime.adding(months: 13, to: Fleet.start))
        #expect(!pruned.removed.isEmpty)
        #expect(throws: OTAError(.recordsChainDiscontinuous, "")) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        }
    }

    @Test func `a tampered log is rejected whole`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 30)
        let segment = recorder.layout.path(try recorder.layout.segments()[0])
        var text = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"result\":\"failure\"", with: "\"result\":\"success\"")
        try AtomicFileWriter.write(Array(text.utf8), to: segment)
        #expect(throws: OTAError(.recordsChanged, "")) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        }
        #expect(try store.count(matching: RecordFilter(kinds: [])) == 0)
    }

    @Test func `queries answer by VIN, campaign, bundle, ECU, result and time range`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        for vehicle in 1...3 {
            let vin = "VIN0000000000000\(vehicle)"
            _ = try Fleet.log(at: ws.path + "/\(vin)", vin: vin, key: key, count: 40)
            _ = try FleetIngest.ingest(log: ws.path + "/\(vin)", publicKey: try key.publicKey, into: store)
        }
        let records = RecordFilter(kinds: ["record"])
        #expect(try store.count(matching: records) == 120)
        var byVIN = records; byVIN.vin = "VIN00000000000002"
        #expect(try store.count(matching: byVIN) == 40)
        var byCampaign = records; byCampaign.campaign = "CAMP-1"
        #expect(try store.count(matching: byCampaign) == 60)
        var byBundle = records; byBundle.bundle = "bundle-3"
        #expect(try store.count(matching: byBundle) == 30)
        var byECU = records; byECU.ecu = "bms"
        #expect(try store.count(matching: byECU) == 60)
        var failures = records; failures.result = "failure"
        #expect(try store.count(matching: failures) == 3 * (0..<40).filter { $0 % 7 == 6 }.count)
        // Day 1 ... day 10 of the year: records with index 0...8 (one a day from 2 January).
        var period = records; period.from = "2026-01-02T00:00:00.000Z"; period.to = "2026-01-11T00:00:00.000Z"
        #expect(try store.count(matching: period) == 27)
        var order: [UInt64] = []
        try store.entries(matching: byVIN) { order.append($0.seq) }
        #expect(order == order.sorted())
    }

    @Test func `the fleet store refuses to delete upgrade records younger than 10 years`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        _ = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 10)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let cutoff = RecordTime.adding(months: 1, to: Fleet.start)
        let almost = Calendar(identifier: .gregorian).date(byAdding: DateComponents(year: 10, day: -1), to: cutoff)!
        #expect(throws: OTAError(.recordsRetention, "")) { _ = try store.purge(before: cutoff, now: almost, minimumYears: 10) }
        #expect(throws: OTAError(.recordsRetention, "")) { _ = try store.purge(before: cutoff, now: almost, minimumYears: 2) }
        #expect(try store.count(matching: RecordFilter()) == 10)
        let later = RecordTime.adding(years: 10, to: cutoff).addingTimeInterval(86_400)
        #expect(try store.purge(before: cutoff, now: later, minimumYears: 10) > 0)
        #expect(try store.count(matching: RecordFilter()) == 0)
    }
}
