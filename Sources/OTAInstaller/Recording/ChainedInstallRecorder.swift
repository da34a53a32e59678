public import Foundation
public import OTACore
internal import OTARecorder
#if canImport(Glibc)
import Glibc
#endif

/// Writes install records into the vehicle's tamper-evident log (OTARecorder: hash-chained
/// entries, checkpoints signed with the device key), mapping the installer's fields onto the
/// regulated record fields. No location and no names: fields outside the record schema are
/// not stored here (they stay in the installer's own `records.jsonl`).
public final class ChainedInstallRecorder: InstallRecorder {
    public let directory: String
    private let vin: String
    private let signer: PrivateKey
    private let hash: HashAlgorithm
    /// How long to wait for another writer (a CLI command on the same vehicle) to finish.
    private let lockTimeout: TimeInterval

    /// Records into the log in `directory`, creating it for `vin` on first use. The log is
    /// opened for each record and closed after it, so its writer lock is held only while writing.
    public init(directory: String, vin: String, signer: PrivateKey, hash: HashAlgorithm, lockTimeout: TimeInterval = 5) throws(OTAError) {
        self.directory = directory
        self.vin = vin
        self.signer = signer
        self.hash = hash
        self.lockTimeout = lockTimeout
        guard signer.type.canSign else { throw OTAError(.recordsKey, "the device key (\(signer.type.rawValue)) cannot sign record checkpoints") }
    }

    public func record(_ record: InstallRecord) throws(OTAError) {
        let recorder = try openLog()
        _ = try recorder.append(Self.upgradeRecord(record))
        try recorder.close()
    }

    private func openLog() throws(OTAError) -> Recorder {
        let deadline = Date().addingTimeInterval(lockTimeout)
        while true {
            do throws(OTAError) {
                let clock = SystemClock(source: "rtc")
                if FileSystem.exists(LogLayout(directory: directory).metaPath) {
                    return try Recorder.open(at: directory, signer: signer, clock: clock)
                }
                return try Recorder.create(at: directory, vin: vin, signer: signer, clock: clock, configuration: Recorder.Configuration(hash: hash))
            } catch {
                guard error.code == "records.busy", Date() < deadline else { throw error }
                usleep(20_000)
            }
        }
    }

    /// Maps an installer record onto the record schema.
    static func upgradeRecord(_ record: InstallRecord) -> UpgradeRecord {
        let fields = record.fields
        let preconditionKeys = ["parked", "gear", "batteryPercent", "driving", "doorsUnlockable"]
        var preconditions: [String: String] = [:]
        for key in preconditionKeys { if let value = fields[key] { preconditions[key] = value } }
        var notice: UpgradeRecord.Notice? = nil
        if let digest = fields["noticeDigest"] { notice = UpgradeRecord.Notice(digest: digest, language: fields["language"] ?? "") }
        var confirmation: UpgradeRecord.Confirmation? = nil
        if let answer = fields["answer"] {
            let actor = UpgradeRecord.Confirmation.Actor(rawValue: fields["by"] ?? "") ?? .driver
            confirmation = UpgradeRecord.Confirmation(actor: actor, channel: fields["channel"] ?? "", answer: answer,
                                                      at: fields["answeredAt"] ?? RecordTime.format(record.time))
        }
        return UpgradeRecord(
            time: RecordTime.format(record.time), timeSource: "rtc", vin: record.vin, bundle: record.bundle ?? "-", campaign: record.campaign ?? "-",
            ecu: fields["ecu"], hardwarePart: fields["hardwareId"], step: record.step, result: record.result.rawValue, errorCode: record.code,
            versionBefore: fields["versionBefore"], versionAfter: fields["versionAfter"], imageHashBefore: fields["imageHashBefore"],
            imageHashAfter: fields["imageHashAfter"], swinBefore: fields["swinBefore"], swinAfter: fields["swinAfter"],
            preconditions: preconditions, notice: notice, confirmation: confirmation)
    }
}

/// Records to several recorders in order; each must succeed.
public final class RecorderChain: InstallRecorder {
    public let recorders: [any InstallRecorder]

    public init(_ recorders: [any InstallRecorder]) { self.recorders = recorders }

    public func record(_ record: InstallRecord) throws(OTAError) {
        for recorder in recorders { try recorder.record(record) }
    }
}
