import Foundation
import OTACompliance
import OTACore
import OTARecorder
import Testing

@Suite struct FleetStoreTests {
    @Test func `ingest verifies, stores and is idempotent`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Fleet.start)
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 40, clock: clock)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
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
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        _ = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 20)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let before = try store.count(matching: RecordFilter(kinds: []))
        // Another history for the same vehicle and key (a rewritten log).
        _ = try Fleet.log(
            at: ws.path + "/v1-forged", vin: "VIN00000000000001", key: key, count: 30,
            clock: ManualClock(Fleet.start.addingTimeInterval(5)))
        #expect(throws: OTAError(.recordsChainFork, "")) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1-forged", publicKey: try key.publicKey, into: store)
        }
        #expect(try store.count(matching: RecordFilter(kinds: [])) == before)
    }

    @Test func `a pruned log that skips past the stored head is rejected`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        let clock = ManualClock(Fleet.start)
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 10, clock: clock)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        try Fleet.append(recorder, vin: "VIN00000000000001", from: 10, count: 200, clock: clock)
        // Acknowledge far past what the store holds (a misbehaving vehicle) and prune.
        let ack = recorder.nextSeq - 20
        try recorder.acknowledge(through: ack, hash: try #require(try recorder.entry(at: ack)).hash)
        clock.set(RecordTime.adding(months: 13, to: Fleet.start))
        let pruned = try recorder.prune(now: RecordTime.adding(months: 13, to: Fleet.start))
        #expect(!pruned.removed.isEmpty)
        #expect(throws: OTAError(.recordsChainDiscontinuous, "")) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        }
    }

    @Test func `a log cut back behind the stored head is rejected, not ingested silently`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        let clock = ManualClock(Fleet.start)
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 10, clock: clock)
        // A copy of the log as it was, kept by whoever wants to roll the vehicle's history back.
        try FileManager.default.copyItem(atPath: ws.path + "/v1", toPath: ws.path + "/v1-old")
        try Fleet.append(recorder, vin: "VIN00000000000001", from: 10, count: 30, clock: clock)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let head = try #require(try store.vehicle("VIN00000000000001")).headSeq
        let caught = #expect(throws: OTAError.self) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1-old", publicKey: try key.publicKey, into: store)
        }
        #expect(caught?.code == .recordsBehindStore && caught?.kind == .rejected)
        #expect(try store.vehicle("VIN00000000000001")?.headSeq == head)
    }

    @Test func `a tampered log is rejected whole`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        let recorder = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 30)
        let segment = recorder.layout.path(try recorder.layout.segments()[0])
        var text = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"outcome\":\"failure\"", with: "\"outcome\":\"success\"")
        try AtomicFileWriter.write(Array(text.utf8), to: segment)
        #expect(throws: OTAError(.recordsChanged, "")) {
            _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        }
        #expect(try store.count(matching: RecordFilter(kinds: [])) == 0)
    }

    @Test func `queries answer by VIN, campaign, bundle, ECU, step, outcome and time range`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        for vehicle in 1...3 {
            let vin = "VIN0000000000000\(vehicle)"
            _ = try Fleet.log(at: ws.path + "/\(vin)", vin: vin, key: key, count: 40)
            _ = try FleetIngest.ingest(log: ws.path + "/\(vin)", publicKey: try key.publicKey, into: store)
        }
        let records = RecordFilter(kinds: [.record])
        #expect(try store.count(matching: records) == 120)
        var byVIN = records; byVIN.vin = "VIN00000000000002"
        #expect(try store.count(matching: byVIN) == 40)
        var byCampaign = records; byCampaign.campaign = "CAMP-1"
        #expect(try store.count(matching: byCampaign) == 60)
        var byBundle = records; byBundle.bundle = "bundle-3"
        #expect(try store.count(matching: byBundle) == 30)
        var byECU = records; byECU.ecu = "bms"
        #expect(try store.count(matching: byECU) == 60)
        var byStep = records; byStep.step = .result
        #expect(try store.count(matching: byStep) == 30)
        var failures = records; failures.outcome = .failure
        #expect(try store.count(matching: failures) == 3 * (0..<40).filter { $0 % 7 == 6 }.count)
        var successes = records; successes.outcome = .success
        #expect(try store.count(matching: successes) == 120 - 3 * (0..<40).filter { $0 % 7 == 6 }.count)
        // Day 1 ... day 10 of the year: records with index 0...8 (one a day from 2 January).
        var period = records; period.from = "2026-01-02T00:00:00.000Z"; period.to = "2026-01-11T00:00:00.000Z"
        #expect(try store.count(matching: period) == 27)
        var order: [UInt64] = []
        try store.entries(matching: byVIN) { order.append($0.seq) }
        #expect(order == order.sorted())
    }

    @Test func `a stored body that is not the canonical text the vehicle wrote is refused, not re-encoded`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        _ = try Fleet.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 4)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        var stored: [StoredEntry] = []
        try store.entries(matching: RecordFilter(kinds: [.record])) { stored.append($0) }
        let entry = try #require(stored.first)
        // As stored, the body reads directly and is its own canonical bytes.
        #expect(Array(try entry.document().root.canonicalBytes) == Array(entry.body.utf8))
        _ = try entry.decoded()
        // The same record spelled another way (what a lenient reader accepts and re-encodes): the
        // hash and the checkpoints cover the bytes the vehicle wrote, so these were changed in
        // the store and are reported with the canonical reader's fault.
        #expect(entry.body.contains(#""attempt":"A0""#))
        for (body, fault) in [
            (entry.body.replacingOccurrences(of: ",", with: ", "), "whitespace"),
            (entry.body.replacingOccurrences(of: #""attempt":"A0""#, with: #""attempt":"\u00410""#), "\\u escape"),
        ] {
            var changed = entry
            changed.body = body
            #expect(body != entry.body)
            let reads: [() throws -> Void] = [{ _ = try changed.document() }, { _ = try changed.decoded() }]
            for read in reads {
                let caught = #expect(throws: OTAError.self) { try read() }
                #expect(caught?.code == .recordsMalformed)
                #expect(caught?.message.hasPrefix("stored entry \(entry.seq) of VIN00000000000001:") == true)
                #expect(caught?.message.contains(fault) == true, "\(caught?.message ?? "")")
            }
        }
    }

    @Test func `the register answers what a vehicle ran and which vehicles run a SWIN now`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 3, count: 40)
        // Results are every 4th record; those that failed (index % 7 == 6) change nothing.
        let history = try store.softwareHistory(of: "LSVAU2180N2000002")
        let committed = (0..<40).filter { $0 % 4 == 3 && $0 % 7 != 6 }
        #expect(history.map(\.swinAfter) == committed.map { "SWIN-\($0 / 10 + 1)" })
        #expect(history.allSatisfy { $0.bundle != nil && $0.time.hasPrefix("2026-") })
        let last = try #require(committed.last)
        let running = try store.vehicles(runningSWIN: "SWIN-\(last / 10 + 1)", rxswin: nil)
        #expect(Set(running.map(\.vin)) == ["LSVAU2180N2000001", "LSVAU2180N2000002", "LSVAU2180N2000003"])
        #expect(running.allSatisfy { $0.ecu == ["adas", "bms"][last % 2] })
        #expect(try store.vehicles(runningSWIN: "SWIN-1", rxswin: nil).isEmpty)
    }

    @Test func `a store that does not exist is an error, never a new empty store`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let caught = #expect(throws: OTAError.self) { _ = try SQLiteRecordStore(path: ws.path + "/missing.db") }
        #expect(caught?.code == .recordsStoreMissing)
        #expect(!FileSystem.exists(ws.path + "/missing.db"))
    }
}

@Suite struct FleetPurgeTests {
    static let almostTenYears = Calendar(identifier: .gregorian).date(
        byAdding: DateComponents(year: 10, day: -1), to: RecordTime.adding(months: 1, to: Fleet.start))!

    @Test func `the fleet store refuses to delete upgrade records younger than 10 years`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1, count: 10)
        let cutoff = RecordTime.adding(months: 1, to: Fleet.start)
        let signer = try SamplePKI().compliance()
        for years in [10, 2] {
            #expect(throws: OTAError(.recordsRetention, "")) {
                _ = try FleetPurge.purge(
                    .init(before: cutoff, now: Self.almostTenYears, years: years, reason: "test"), store: store,
                    signer: signer,
                    systemTime: Self.almostTenYears)
            }
        }
        #expect(try store.count(matching: RecordFilter()) == 10)
        #expect(try store.purges().isEmpty)
    }

    @Test func `a clock far in the future cannot purge without a recorded override`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1, count: 10)
        let cutoff = RecordTime.adding(months: 1, to: Fleet.start)
        let signer = try SamplePKI().compliance()
        let future = RecordTime.parse("2037-06-01T00:00:00Z")!
        // `--now 2037` against today's system clock, and a system clock gone to 2037.
        for system in [Date(), future] {
            let caught = #expect(throws: OTAError.self) {
                _ = try FleetPurge.purge(
                    .init(before: cutoff, now: future, reason: "retention"), store: store, signer: signer,
                    systemTime: system)
            }
            #expect(caught?.code == .recordsPurgeClock)
        }
        #expect(try store.count(matching: RecordFilter()) == 10)
        let tombstone = try FleetPurge.purge(
            .init(
                before: cutoff, now: future, reason: "retention",
                clockOverride: "archive migration, clock checked by hand"),
            store: store, signer: signer, systemTime: future)
        #expect(tombstone.deleted > 0 && tombstone.clockOverride?.hasPrefix("archive migration") == true)
        #expect(try store.count(matching: RecordFilter(kinds: [])) < 20)
        let stored = try store.purges()
        #expect(stored.count == 1 && stored[0] == tombstone)
        try FleetPurge.verify(stored[0], trust: try SamplePKI().trust(), at: Fleet.checkTime)
    }

    @Test func `a purge within the store's own time line deletes and leaves a signed tombstone`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1, count: 10)
        let cutoff = RecordTime.adding(months: 1, to: Fleet.start)
        let later = RecordTime.adding(years: 10, to: cutoff).addingTimeInterval(86_400)
        // The store was last active (ingested) at the real time of this test; a purge ten years
        // later is only honest if the store kept working until then: model that with an ingest.
        let signer = try SamplePKI().compliance()
        #expect(throws: OTAError(.recordsPurgeClock, "")) {
            _ = try FleetPurge.purge(
                .init(before: cutoff, now: later, reason: "retention"), store: store, signer: signer, systemTime: later)
        }
        let key = try SamplePKI().deviceKey()
        _ = try Fleet.log(at: ws.path + "/late", vin: "LSVAU2180N2000009", key: key, count: 2)
        _ = try FleetIngest.ingest(
            log: ws.path + "/late", publicKey: try key.publicKey, into: store,
            now: RecordTime(later.addingTimeInterval(-3600), source: .backend))
        let tombstone = try FleetPurge.purge(
            .init(before: cutoff, now: later, reason: "retention: 10 years"), store: store, signer: signer,
            systemTime: later)
        #expect(tombstone.deleted > 0 && tombstone.clockOverride == nil && tombstone.by.contains("Compliance Signer"))
        var forged = tombstone
        forged.deleted = 1
        #expect(throws: OTAError(.recordsExportAltered, "")) {
            try FleetPurge.verify(forged, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        }
    }
}
