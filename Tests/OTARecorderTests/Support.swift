import Foundation
import OTACore
import OTARecorder

/// Sample records with every field filled, varied by `index`.
enum Samples {
    static let start = RecordTime.parse("2026-01-01T00:00:00.000Z")!

    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        let steps: [RecordStep] = [.verify, .approval, .precondition, .consent, .applyImage, .commit, .result]
        let step = steps[index % steps.count]
        let stamp = RecordTime(time, source: .test)
        let failed = index % 97 == 0
        return UpgradeRecord(
            time: stamp, vin: vin, attempt: "A\(index / 7)", phase: .install, step: step,
            outcome: failed ? .failure : .success,
            errorCode: failed ? "slot.hash-mismatch" : nil,
            reasons: failed
                ? [
                    RecordReason(
                        code: "slot.hash-mismatch", message: "the written image does not match its signed hash")
                ] : [],
            update: UpdateFacts(
                bundle: "bundle-2026.\(index / 70)", campaign: "CAMP-\(index / 700)",
                manifestDigest: String(repeating: "9a", count: 32),
                categories: [.safety, .securityFix],
                references: [.init(kind: .filing, number: "F-2026-\(index / 700)", authority: "MIIT")],
                signers: [.init(subject: "CN=Release Signer", keyID: String(repeating: "4b", count: 32))],
                approval: step == .approval
                    ? .init(number: "AD-2026-1", authority: "MIIT", validUntil: "2027-01-01T00:00:00.000Z") : nil),
            ecus: [
                ECUFacts(
                    ecu: ["adas", "bms", "ivi"][index % 3], hardwarePart: "HW-\(index % 3)-A", kind: .full,
                    versionBefore: "1.\(index / 70)", versionAfter: "1.\(index / 70 + 1)", securityVersionBefore: 1,
                    securityVersionAfter: 2,
                    rxswinBefore: "RX-\(index / 70)", rxswinAfter: "RX-\(index / 70 + 1)",
                    swinBefore: "SWIN-\(index / 70)",
                    swinAfter: "SWIN-\(index / 70 + 1)", imageHashBefore: String(repeating: "ab", count: 32),
                    imageHashAfter: String(repeating: "cd", count: 32))
            ],
            preconditions: PreconditionReadings(
                parked: true, gear: "P", batteryPercent: 78, driving: false, doorsUnlockable: true),
            notice: NoticeShown(digest: String(repeating: "0f", count: 32), language: index % 2 == 0 ? "zh-CN" : "en"),
            confirmation: step == .consent
                ? Confirmation(party: .owner, channel: "head-unit", answer: .accepted, at: stamp) : nil,
            started: stamp, finished: RecordTime(time.addingTimeInterval(30), source: .test), durationMs: 30_000)
    }

    /// A log of `count` records (bulk durability), closed with a checkpoint.
    static func makeLog(
        at directory: String, vin: String = "LSVAU2180N2000001", count: Int, key: PrivateKey,
        segmentBytes: Int64 = 256 << 10, hash: HashAlgorithm = .sha256,
        clock: ManualClock = ManualClock(start)
    ) throws -> Recorder {
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
