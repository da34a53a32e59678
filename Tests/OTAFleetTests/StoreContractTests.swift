import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import Testing

/// The fleet store's contract, run against SQLite and a real PostgreSQL server alike.
@Suite struct StoreContractTests {
    @Test(arguments: StoreKind.allCases)
    func `ingest stores a verified log once and adds only new entries later`(_ kind: StoreKind) throws {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(FleetFixture.start)
        let recorder = try FleetFixture.log(
            at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 40, clock: clock)
        let first = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(first.added == Int(recorder.nextSeq))
        let again = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(again.added == 0)
        #expect(try store.count(matching: RecordFilter(kinds: [])) == Int(recorder.nextSeq))
        try FleetFixture.append(recorder, vin: "VIN00000000000001", from: 40, count: 5, clock: clock)
        let third = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(third.added == Int(recorder.nextSeq) - first.added)
        #expect(try store.count(matching: RecordFilter(kinds: [.record])) == 45)
        let vehicle = try #require(try store.vehicle("VIN00000000000001"))
        #expect(vehicle.headSeq == recorder.nextSeq - 1)
        #expect(vehicle.keys.map(\.publicKey) == [try key.publicKey.der()])
    }

    @Test(arguments: StoreKind.allCases)
    func
        `a log larger than one write batch and spanning many months is stored whole, with the register of its last change`(
            _ kind: StoreKind
        ) throws
    {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let key = try PrivateKey.generate(.p256)
        // 1,200 records a day apart: more entries than one multi-row INSERT (1,000) and 40 months.
        let recorder = try FleetFixture.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 1200)
        let report = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        #expect(report.added == Int(recorder.nextSeq))
        var entries: [StoredEntry] = []
        try store.entries(matching: RecordFilter(vin: "VIN00000000000001", kinds: [])) { entries.append($0) }
        #expect(entries.count == Int(recorder.nextSeq))
        #expect(
            entries.enumerated().allSatisfy {
                $0.element.seq == UInt64($0.offset)
                    && ($0.offset == 0 || $0.element.prev == entries[$0.offset - 1].hash)
            })
        if let postgres = store as? PostgresRecordStore { #expect(try postgres.partitions().count >= 40) }
        // Chain reads longer than one read page (500 entries on PostgreSQL), ending on a page's
        // edge or inside one: every entry once, in order.
        let head = recorder.nextSeq - 1
        for (from, through) in [(UInt64(0), head), (100, 599), (0, 999), (499, 1001), (700, 700)] {
            var chain: [UInt64] = []
            try store.chain(of: "VIN00000000000001", from: from, through: through) { chain.append($0.seq) }
            #expect(chain == Array(from...through), "\(from)...\(through): \(chain.count) entries")
        }
        // The register (one change per written image, 258 here) in both stores alike; each ECU's
        // current SWIN is its last change's, though the batch held several changes of it.
        let history = try store.softwareHistory(of: "VIN00000000000001")
        #expect(history.count == 258)
        let ecus = Set(history.map(\.ecu))
        #expect(!ecus.isEmpty)
        for ecu in ecus {
            let last = try #require(history.last { $0.ecu == ecu }?.swinAfter)
            let running = try store.vehicles(runningSWIN: last, rxswin: nil)
            #expect(running.contains { $0.ecu == ecu && $0.vin == "VIN00000000000001" }, "\(ecu): \(last)")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func `a rewritten history is refused and nothing of it is stored`(_ kind: StoreKind) throws {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let key = try PrivateKey.generate(.p256)
        _ = try FleetFixture.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 20)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let before = try store.count(matching: RecordFilter(kinds: []))
        _ = try FleetFixture.log(
            at: ws.path + "/forged", vin: "VIN00000000000001", key: key, count: 30,
            clock: ManualClock(FleetFixture.start.addingTimeInterval(5)))
        let caught = #expect(throws: OTAError.self) {
            _ = try FleetIngest.ingest(log: ws.path + "/forged", publicKey: try key.publicKey, into: store)
        }
        #expect(caught?.code == .recordsChainFork)
        #expect(try store.count(matching: RecordFilter(kinds: [])) == before)
    }

    @Test(arguments: StoreKind.allCases)
    func `queries answer by VIN, campaign, bundle, ECU, step, outcome and period`(_ kind: StoreKind) throws {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let key = try PrivateKey.generate(.p256)
        for vehicle in 1...3 {
            let vin = "VIN0000000000000\(vehicle)"
            _ = try FleetFixture.log(at: ws.path + "/\(vin)", vin: vin, key: key, count: 40)
            _ = try FleetIngest.ingest(log: ws.path + "/\(vin)", publicKey: try key.publicKey, into: store)
        }
        let records = RecordFilter(kinds: [.record])
        #expect(try store.count(matching: records) == 120)
        var filter = records; filter.vin = "VIN00000000000002"
        #expect(try store.count(matching: filter) == 40)
        filter = records; filter.campaign = "CAMP-1"
        #expect(try store.count(matching: filter) == 60)
        filter = records; filter.bundle = "bundle-3"
        #expect(try store.count(matching: filter) == 30)
        filter = records; filter.ecu = "bms"
        #expect(try store.count(matching: filter) == 60)
        filter = records; filter.step = .result
        #expect(try store.count(matching: filter) == 30)
        filter = records; filter.outcome = .failure
        #expect(try store.count(matching: filter) == 3 * (0..<40).filter { $0 % 7 == 6 }.count)
        // One record a day from 2 January: 2...10 January holds records 0...8 (crosses no month).
        filter = records; filter.from = "2026-01-02T00:00:00.000Z"; filter.to = "2026-01-11T00:00:00.000Z"
        #expect(try store.count(matching: filter) == 27)
        // Across a month boundary (two partitions on PostgreSQL).
        filter = records; filter.from = "2026-01-30T00:00:00.000Z"; filter.to = "2026-02-03T00:00:00.000Z"
        #expect(try store.count(matching: filter) == 12)
        // Streamed in (VIN, seq) order, bodies byte for byte as the vehicle wrote them.
        var seen: [(String, UInt64)] = []
        filter = records; filter.campaign = "CAMP-0"
        try store.entries(matching: filter) { entry throws(OTAError) in
            seen.append((entry.vin, entry.seq))
            _ = try entry.decoded()
        }
        #expect(seen.count == 60)
        #expect(seen.map { "\($0.0)/\($0.1)" } == seen.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { "\($0.0)/\($0.1)" })
        // The register: which vehicles run a SWIN now.
        let running = try store.vehicles(runningSWIN: "SWIN-4", rxswin: nil)
        #expect(Set(running.map(\.vin)).count == 3)
        #expect(try !store.softwareHistory(of: "VIN00000000000001").isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func `a vehicle reads back with every key in the order they took over, or with none`(_ kind: StoreKind) throws {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let keys = [
            StoredVehicle.Key(keyID: "k2", publicKey: [2, 2], certificate: nil, fromSeq: 57),
            StoredVehicle.Key(
                keyID: "k1", publicKey: [1, 1, 1], certificate: "-----BEGIN CERTIFICATE-----", fromSeq: 0),
        ]
        let rotated = StoredVehicle(
            vin: "VIN00000000000001", hashAlgorithm: .sha256, genesis: "g1", headSeq: 80, headHash: "h1", keyID: "k2",
            keys: keys)
        let bare = StoredVehicle(
            vin: "VIN00000000000002", hashAlgorithm: .sha256, genesis: "g2", headSeq: 0, headHash: "h2", keyID: "k3",
            keys: [])
        try store.transaction { writer throws(OTAError) in
            try writer.setVehicle(rotated)
            try writer.setVehicle(bare)
        }
        let read = try #require(try store.vehicle("VIN00000000000001"))
        #expect(read.keys.map(\.keyID) == ["k1", "k2"])
        #expect(read.keys.map(\.publicKey) == [[1, 1, 1], [2, 2]])
        #expect(read.keys.map(\.certificate) == ["-----BEGIN CERTIFICATE-----", nil])
        #expect(read.keys.map(\.fromSeq) == [0, 57])
        #expect(read.headSeq == 80 && read.headHash == "h1" && read.genesis == "g1" && read.keyID == "k2")
        let readBare = try #require(try store.vehicle("VIN00000000000002"))
        #expect(readBare.keys.isEmpty && readBare.genesis == "g2")
        #expect(try store.vehicle("VIN00000000000003") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func `chain evidence and checkpoints are found around any entry`(_ kind: StoreKind) throws {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let key = try PrivateKey.generate(.p256)
        _ = try FleetFixture.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 30)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let before = try #require(try store.checkpoint(of: "VIN00000000000001", atOrBefore: 12))
        let after = try #require(try store.checkpoint(of: "VIN00000000000001", atOrAfter: 12))
        #expect(before <= 12 && after >= 12 && after > before)
        var chain: [StoredEntry] = []
        try store.chain(of: "VIN00000000000001", from: before, through: after) { chain.append($0) }
        #expect(chain.map(\.seq) == Array(before...after))
        for (earlier, later) in zip(chain, chain.dropFirst()) { #expect(later.prev == earlier.hash) }
        #expect(chain.first?.kind == .checkpoint && chain.last?.kind == .checkpoint)
    }

    @Test(arguments: StoreKind.allCases)
    func `a retention purge deletes only what is 10 years old and leaves a signed tombstone`(_ kind: StoreKind) throws {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let store = try kind.open(in: ws)
        let key = try PrivateKey.generate(.p256)
        _ = try FleetFixture.log(at: ws.path + "/v1", vin: "VIN00000000000001", key: key, count: 60)
        _ = try FleetIngest.ingest(log: ws.path + "/v1", publicKey: try key.publicKey, into: store)
        let total = try store.count(matching: RecordFilter(kinds: []))
        let signer = try SamplePKIFiles().compliance()
        let cutoff = RecordTime.parse("2026-02-15T00:00:00.000Z")!
        let now = RecordTime.adding(years: 10, to: cutoff).addingTimeInterval(86_400)
        // Nine years on, the same purge is refused and deletes nothing.
        #expect(throws: OTAError(.recordsRetention, "")) {
            _ = try FleetPurge.purge(
                .init(before: cutoff, now: RecordTime.adding(years: 9, to: cutoff), reason: "retention"), store: store,
                signer: signer, systemTime: RecordTime.adding(years: 9, to: cutoff))
        }
        #expect(try store.count(matching: RecordFilter(kinds: [])) == total)
        let (old, _) = try store.entriesBefore(RecordTime.format(cutoff))
        let january = try store.entriesBefore("2026-02-01T00:00:00.000Z").count
        #expect(january > 0 && january < old)
        let tombstone = try FleetPurge.purge(
            .init(before: cutoff, now: now, reason: "retention: 10 years", clockOverride: "test clock"),
            store: store, signer: signer, systemTime: now)
        #expect(tombstone.deleted == Int64(old))
        #expect(try store.count(matching: RecordFilter(kinds: [])) == total - old)
        #expect(try store.entriesBefore(RecordTime.format(cutoff)).count == 0)
        #expect(try store.purges() == [tombstone])
        if let postgres = store as? PostgresRecordStore {
            // January went as one partition drop, recorded; February was cut row by row.
            let drops = try postgres.partitionDrops()
            #expect(drops.map(\.partition) == ["entry_p202601"])
            #expect(drops.first?.rows == Int64(january))
            #expect(try !postgres.partitions().contains("entry_p202601"))
            #expect(try postgres.partitions().contains("entry_p202602"))
        }
    }

    @Test
    func `a read by VIN on PostgreSQL plans only the partitions of that vehicle's months, before and after a purge`()
        throws
    {
        let ws = TempDirectory(); defer { ws.cleanup() }
        let url = try PostgresServer.newDatabase()
        var store = try PostgresRecordStore(url: url, connections: 4)
        defer { store.close() }
        let key = try PrivateKey.generate(.p256)
        // VIN …1: a record a day for 1,200 days (40 months from 2026-01); …2: 40 days from
        // 2027-06-01 (June and July 2027); …3: two days from 2027-07-01.
        let logs: [(String, String, Int)] = [
            ("VIN00000000000001", "2026-01-01", 1200), ("VIN00000000000002", "2027-06-01", 40),
            ("VIN00000000000003", "2027-07-01", 2),
        ]
        for (vin, day, count) in logs {
            let clock = ManualClock(RecordTime.parse(day + "T00:00:00.000Z")!)
            _ = try FleetFixture.log(at: ws.path + "/" + vin, vin: vin, key: key, count: count, clock: clock)
            _ = try FleetIngest.ingest(log: ws.path + "/" + vin, publicKey: try key.publicKey, into: store)
        }
        #expect(try store.partitions().count >= 40)
        func expectPlans(_ vin: String, _ months: [String], _ comment: String) throws {
            for read in PostgresRecordStore.VehicleRead.allCases {
                let planned = Set(try store.plannedPartitions(read, vin: vin))
                #expect(planned == Set(months.map { "entry_p" + $0 }), "\(comment) \(vin) \(read): \(planned.sorted())")
            }
        }
        func expectReads(_ vin: String) throws {
            // What the bounded reads return is what the vehicle has: its chain whole, in order.
            let count = try store.count(matching: RecordFilter(vin: vin, kinds: []))
            var entries: [UInt64] = []
            try store.entries(matching: RecordFilter(vin: vin, kinds: [])) { entries.append($0.seq) }
            var chain: [UInt64] = []
            let head = try #require(try store.vehicle(vin)).headSeq
            try store.chain(of: vin, from: 0, through: head) { chain.append($0.seq) }
            let first = try #require(entries.first)
            #expect(entries == Array(first...head) && chain == entries && count == entries.count, "\(vin)")
            #expect(try store.checkpoint(of: vin, atOrAfter: first) != nil, "\(vin)")
        }
        let all = try store.plannedPartitions(.chain, vin: "VIN00000000000001")
        #expect(all.count >= 40, "\(all)")
        try expectPlans("VIN00000000000002", ["202706", "202707"], "stored:")
        try expectPlans("VIN00000000000003", ["202707"], "stored:")
        try expectPlans("VIN00000000000009", [], "unknown:")
        for (vin, _, _) in logs { try expectReads(vin) }
        #expect(try store.count(matching: RecordFilter(vin: "VIN00000000000009", kinds: [])) == 0)
        #expect(try store.checkpoint(of: "VIN00000000000009", atOrBefore: 5) == nil)

        // A store of schema 1 (no vehicle_month) learns the months when it is opened.
        store.close()
        let (status, output) = Shell.run([
            "psql", url.replacingOccurrences(of: "postgres://ota@/", with: "postgresql://ota@/"), "-qAt", "-c",
            "DROP TABLE vehicle_month; UPDATE ota_schema SET version = 1",
        ])
        #expect(status == 0, "\(output)")
        store = try PostgresRecordStore(url: url, connections: 4)
        try expectPlans("VIN00000000000002", ["202706", "202707"], "migrated:")
        try expectPlans("VIN00000000000003", ["202707"], "migrated:")

        // A purge before 2027-07-05 drops June 2027 and older and cuts July row by row: …2 keeps
        // July; …3 had nothing after the cutoff, and its July stays listed (a month listed
        // without entries costs one partition; the next purge drops it) while it reads as empty.
        let cutoff = RecordTime.parse("2027-07-05T00:00:00.000Z")!
        let now = RecordTime.adding(years: 10, to: cutoff).addingTimeInterval(86_400)
        _ = try FleetPurge.purge(
            .init(before: cutoff, now: now, reason: "retention: 10 years", clockOverride: "test clock"),
            store: store, signer: try SamplePKIFiles().compliance(), systemTime: now)
        try expectPlans("VIN00000000000002", ["202707"], "purged:")
        try expectPlans("VIN00000000000003", ["202707"], "purged:")
        // …1 recorded daily to 15 April 2029: July 2027 to April 2029 are left.
        try expectPlans(
            "VIN00000000000001", (202707...202904).filter { (1...12).contains($0 % 100) }.map(String.init), "purged:")
        #expect(try store.count(matching: RecordFilter(vin: "VIN00000000000003", kinds: [])) == 0)
        try expectReads("VIN00000000000002")
        #expect(
            try store.count(matching: RecordFilter(vin: "VIN00000000000002", kinds: []))
                == store.count(
                    matching: RecordFilter(vin: "VIN00000000000002", from: "2027-07-05T00:00:00.000Z", kinds: [])))
    }

    @Test func `the PostgreSQL store refuses a schema it does not know`() throws {
        let url = try PostgresServer.newDatabase()
        let store = try PostgresRecordStore(url: url)
        store.close()
        let (status, output) = Shell.run([
            "psql", url.replacingOccurrences(of: "postgres://ota@/", with: "postgresql://ota@/"), "-qAt", "-c",
            "UPDATE ota_schema SET version = 99",
        ])
        #expect(status == 0, "\(output)")
        let caught = #expect(throws: OTAError.self) { _ = try PostgresRecordStore(url: url) }
        #expect(caught?.code == .recordsStore)
        #expect(caught?.message.contains("schema 99") == true)
    }

    @Test func `a store URL names what is wrong with it`() throws {
        for (url, words) in [
            ("postgres://localhost/db", "no user"), ("postgres://ota@/db", "no host"),
            ("postgres://ota@h:99999/db", "port"),
            ("postgres://ota@h", "no database"), ("postgres://ota@h/db?sslmode=x", "unknown query parameter"),
        ] {
            let caught = #expect(throws: OTAError.self) { _ = try PostgresLocation(url: url) }
            #expect(caught?.code == .usageInvalid)
            #expect(caught?.message.contains(words) == true, "\(url): \(caught?.message ?? "")")
        }
        #expect(
            try PostgresLocation(url: "postgres://ota:pw@db.example:6543/fleet").endpoint
                == .tcp(host: "db.example", port: 6543))
        #expect(
            try PostgresLocation(url: "postgres://ota@/fleet?host=/run/pg").endpoint
                == .unixSocket(path: "/run/pg/.s.PGSQL.5432"))
        #expect(try PostgresLocation(url: "postgres://ota:secret@h/db").redacted == "postgres://ota@h:5432/db")
    }
}
