import Foundation
import OTARecorder

/// Plausible records for simulations: each update walks through the installer's steps and
/// ends with its result record (every fact); one update in 9 is refused and one in 13 rolled back.
enum Simulation {
    /// Vehicles one simulation can name: the VIN's serial is its last seven digits.
    static let maximumVehicles = 10_000_000

    /// The VIN of simulated vehicle `index` (below `maximumVehicles`): world manufacturer `LSV`,
    /// descriptor `SMB21`, the check digit, model year `T` (2026), then the index as a
    /// seven-digit serial. Only A-Z without I, O, Q and 0-9, as every VIN.
    static func vin(_ index: Int) -> String {
        let digits = String(index)
        let serial = String(repeating: "0", count: max(0, 7 - digits.count)) + digits
        return VehicleIdentification.withCheckDigit("LSVSMB21" + "0" + "T" + serial)
    }

    static let steps: [RecordStep] = [.verify, .precondition, .consent, .applyStart, .applyImage, .commit, .result]

    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        let step = steps[index % steps.count]
        let update = index / steps.count
        let ecuName = ["adas", "bms", "ivi", "gateway"][update % 4]
        let stamp = RecordTime(time, source: .gnss)
        let refused = update % 9 == 8
        let rolledBack = update % 13 == 12
        var outcome: RecordOutcome = .success
        var errorCode: String? = nil
        if refused, step == .precondition || step == .result { outcome = .rejected; errorCode = "precondition.battery" }
        if rolledBack, step == .commit || step == .result { outcome = .rolledBack; errorCode = "boot.fallback" }
        if step == .applyStart { outcome = .pending }
        let facts = UpdateFacts(
            bundle: "bundle-2026.\(update)", campaign: "CAMP-2026-\(update % 4)",
            manifestDigest: String(repeating: "3d", count: 32),
            categories: update % 4 == 0 ? [.drivingAssistance, .safety] : [.securityFix],
            references: [.init(kind: .filing, number: "OTA-2026-\(1000 + update % 4)", authority: "MIIT")],
            signers: [.init(subject: "CN=Release Signer 1,O=Example OEM", keyID: String(repeating: "5e", count: 32))])
        let ecu = ECUFacts(
            ecu: ecuName, hardwarePart: "HW-\(update % 4)-A2", kind: update % 2 == 0 ? .full : .delta,
            versionBefore: "3.\(update)",
            versionAfter: "3.\(update + 1)", securityVersionBefore: UInt64(update),
            securityVersionAfter: UInt64(update + 1),
            rxswinBefore: "R156-X1-\(update)", rxswinAfter: "R156-X1-\(update + 1)", swinBefore: "SWIN-\(update)",
            swinAfter: "SWIN-\(update + 1)",
            imageHashBefore: String(repeating: "a1", count: 32), imageHashAfter: String(repeating: "b2", count: 32))
        let readings = PreconditionReadings(
            parked: true, gear: "P", batteryPercent: refused ? 12 : 81, driving: false, doorsUnlockable: true)
        let notice = NoticeShown(digest: String(repeating: "c3", count: 32), language: "zh-CN")
        let answer = Confirmation(party: .owner, channel: "head-unit", answer: .accepted, at: stamp)
        var record = UpgradeRecord(
            time: stamp, vin: vin, attempt: "sim\(update)", phase: .install, step: step, outcome: outcome,
            errorCode: errorCode,
            update: UpdateFacts(bundle: facts.bundle, campaign: facts.campaign, manifestDigest: facts.manifestDigest))
        if let errorCode { record.reasons = [RecordReason(code: errorCode, message: "simulated \(errorCode)")] }
        switch step {
        case .verify: record.update = facts; record.ecus = [ecu]
        case .precondition: record.preconditions = readings
        case .consent: record.notice = notice; record.confirmation = answer
        case .applyImage: record.ecus = [ecu]
        case .result:
            record.update = facts
            record.ecus = [ecu]
            record.preconditions = readings
            record.notice = notice
            record.confirmation = answer
            record.resultNotices = [
                NoticeShown(digest: String(repeating: "e4", count: 32), language: "en"),
                NoticeShown(digest: String(repeating: "f5", count: 32), language: "zh-CN"),
            ]
            record.started = RecordTime(time.addingTimeInterval(-6 * 3600), source: .gnss)
            record.finished = stamp
            record.durationMs = 6 * 3_600_000
        default: break
        }
        return record
    }
}
