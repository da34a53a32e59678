import Foundation
import OTACore
import OTARecorder

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "records") {
        path = NSTemporaryDirectory() + "ota-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Sample records with every field filled, varied by `index`.
enum Samples {
    static let start = RecordTime.parse("2026-01-01T00:00:00.000Z")!

    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        let steps = ["verify", "policy", "consent", "apply", "switch", "boot", "confirm"]
        let step = steps[index % steps.count]
        return UpgradeRecord(
            time: RecordTime.format(time), timeSource: "test", vin: vin,
            bundle: "bundle-2026.\(index / 70)", campaign: "CAMP-\(index / 700)",
            ecu: ["adas", "bms", "ivi"][index % 3], hardwarePart: "HW-\(index % 3)-A",
            step: step, result: index % 97 == 0 ? "failure" : "success",
            errorCode: index % 97 == 0 ? "apply.hash-mismatch" : nil,
            versionBefore: "1.\(index / 70)", versionAfter: "1.\(index / 70 + 1)",
            imageHashBefore: String(repeating: "ab", count: 32), imageHashAfter: String(repeating: "cd", count: 32),
            swinBefore: "SWIN-\(index / 70)", swinAfter: "SWIN-\(index / 70 + 1)",
            categories: ["safety", "security-fix"],
            regulatory: [.init(kind: "filing", number: "F-2026-\(index / 700)", authority: "MIIT")],
            preconditions: ["battery": "78", "gear": "P", "parked": "true"],
            notice: .init(digest: String(repeating: "0f", count: 32), language: index % 2 == 0 ? "zh-CN" : "en"),
            confirmation: step == "consent" ? .init(actor: .owner, channel: "hmi", answer: "accepted", at: RecordTime.format(time)) : nil,
            started: RecordTime.format(time), finished: RecordTime.format(time.addingTimeInterval(30)), durationMs: 30_000)
    }

    /// A log of `count` records (bulk durability), closed with a checkpoint.
    static func makeLog(at directory: String, vin: String = "LSVAU2180N2000001", count: Int, key: PrivateKey,
                        segmentBytes: Int64 = 256 << 10, hash: HashAlgorithm = .sha256,
                        clock: ManualClock = ManualClock(start)) throws -> Recorder {
        let recorder = try Recorder.create(
            at: directory, vin: vin, signer: key, clock: clock,
            configuration: .init(hash: hash, segmentBytes: segmentBytes, checkpointInterval: 256, durability: .none))
        for index in 0..<count {
            clock.advance(seconds: 60)
            try recorder.append(record(vin: vin, index: index, time: clock.now().date))
        }
        try recorder.close()
        return recorder
    }
}
