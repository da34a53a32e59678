import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import Testing

/// A temporary directory, removed by `cleanup`.
struct TempDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "ota-fleet-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The two fleet store back ends every store test runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    func open(in directory: TempDirectory) throws -> any RecordStore {
        switch self {
        case .sqlite: try SQLiteRecordStore(path: directory.path + "/fleet.db", mode: .create)
        case .postgres: try PostgresRecordStore(url: try PostgresServer.newDatabase(), connections: 4)
        }
    }
}

/// Vehicle logs made by the real recorder: one record a day from 2026-01-01, every 7th failing,
/// campaigns changing every 20 records, ECUs alternating, SWINs moving with each bundle.
enum FleetFixture {
    static let start = RecordTime.parse("2026-01-01T00:00:00.000Z")!

    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        let steps: [RecordStep] = [.verify, .consent, .applyImage, .result]
        let failed = index % 7 == 6
        return UpgradeRecord(
            time: RecordTime(time, source: .test), vin: vin, attempt: "A\(index / 4)", phase: .install,
            step: steps[index % 4],
            outcome: failed ? .failure : .success, errorCode: failed ? "slot.hash-mismatch" : nil,
            update: UpdateFacts(bundle: "bundle-\(index / 10)", campaign: "CAMP-\(index / 20)"),
            ecus: [
                ECUFacts(
                    ecu: ["adas", "bms"][index % 2], versionBefore: "1.\(index / 10)",
                    versionAfter: "1.\(index / 10 + 1)",
                    swinBefore: "SWIN-\(index / 10)", swinAfter: "SWIN-\(index / 10 + 1)")
            ])
    }

    /// A log of `count` records at `path`, checkpointed every 8 entries.
    static func log(at path: String, vin: String, key: PrivateKey, count: Int, clock: ManualClock = ManualClock(start))
        throws -> Recorder
    {
        let recorder = try Recorder.create(
            at: path, vin: vin, signer: key, clock: clock,
            configuration: .init(segmentBytes: 8 << 10, checkpointInterval: 8, durability: .none))
        try append(recorder, vin: vin, from: 0, count: count, clock: clock)
        return recorder
    }

    static func append(_ recorder: Recorder, vin: String, from: Int, count: Int, clock: ManualClock) throws {
        for index in from..<(from + count) {
            clock.advance(seconds: 86_400)
            _ = try recorder.append(record(vin: vin, index: index, time: clock.now().date))
        }
        _ = try recorder.checkpoint()
    }
}
