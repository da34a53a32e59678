public import Foundation
public import OTACore
public import OTARecorder

#if canImport(Glibc)
    import Glibc
#endif

/// Writes the installer's records into the vehicle's tamper-evident log (OTARecorder:
/// hash-chained entries, checkpoints signed with the device key). The record is the installer's
/// own typed `UpgradeRecord`: nothing is mapped or dropped on the way.
public final class ChainedInstallRecorder: InstallRecorder {
    public let directory: String
    private let vin: String
    private let signer: PrivateKey
    private let hash: HashAlgorithm
    /// How long to wait for another writer (a CLI command on the same vehicle) to finish.
    private let lockTimeout: TimeInterval

    /// Records into the log in `directory`, creating it for `vin` on first use. The log is
    /// opened for each record and closed (with a checkpoint) after it, so its writer lock is
    /// held only while writing and no record is left unsigned.
    public init(directory: String, vin: String, signer: PrivateKey, hash: HashAlgorithm, lockTimeout: TimeInterval = 5)
        throws(OTAError)
    {
        self.directory = directory
        self.vin = vin
        self.signer = signer
        self.hash = hash
        self.lockTimeout = lockTimeout
        guard signer.type.canSign else {
            throw OTAError(.recordsKey, "the device key (\(signer.type.rawValue)) cannot sign record checkpoints")
        }
    }

    public func record(_ record: UpgradeRecord) throws(OTAError) {
        let recorder = try openLog(clock: FixedRecorderClock(time: record.time))
        _ = try recorder.append(record.fitted())
        try recorder.close()
    }

    private func openLog(clock: any RecorderClock) throws(OTAError) -> Recorder {
        let deadline = Date().addingTimeInterval(lockTimeout)
        while true {
            do throws(OTAError) {
                if FileSystem.exists(LogLayout(directory: directory).metaPath) {
                    return try Recorder.open(at: directory, signer: signer, clock: clock)
                }
                return try Recorder.create(
                    at: directory, vin: vin, signer: signer, clock: clock,
                    configuration: Recorder.Configuration(hash: hash))
            } catch {
                guard error.code == .recordsBusy, Date() < deadline else { throw error }
                usleep(20_000)
            }
        }
    }
}

/// The installer's clock for the log's own entries (checkpoints, torn tails): the time of the
/// record being written, so a log reads in one time line.
struct FixedRecorderClock: RecorderClock {
    let time: RecordTime
    func now() -> RecordTime { time }
}
