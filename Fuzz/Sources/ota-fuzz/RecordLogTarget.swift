import Foundation
import OTACore
import OTARecorder

/// A record log directory as `ota records verify`, the fleet ingest and the vehicle's recorder
/// read it. The input is split at NUL bytes into `log.json`, `HEAD` and up to eight segment
/// files (an empty `log.json` part means the sample log's, an empty `HEAD` part means none).
/// Then: `LogVerifier.verify` (each intact entry's record decoded, as ingest does), and
/// `Recorder.open` with the sample device key (torn-tail repair) followed by one append, and a
/// second verification.
struct RecordLogTarget: FuzzTarget {
    static let name = "records"
    static let summary = "record log directory: LogVerifier.verify, UpgradeRecord(jsonText:), Recorder.open + append"

    let directory: String
    let signer: PrivateKey
    let publicKey: PublicKey
    let meta: [UInt8]

    init() throws(OTAError) {
        directory = try FuzzFixtures.scratch(Self.name)
        signer = try FuzzFixtures.key(.intl, "vehicle/device.key")
        publicKey = try signer.publicKey
        meta = LogMeta(vin: SeedMaker.vin, hash: .sha256, keyID: try publicKey.keyID(.sha256).hex, retentionMonths: 6,
                       created: "2026-11-01T00:00:00.000Z").json.bytes + [0x0a]
    }

    func run(_ input: [UInt8]) {
        let log = directory + "/log"
        try? FileManager.default.removeItem(atPath: log)
        guard (try? FileSystem.createDirectory(log, mode: 0o700)) != nil else { FuzzTargets.violated("cannot make \(log)") }
        let parts = input.split(separator: 0, maxSplits: 9, omittingEmptySubsequences: false).map(Array.init)
        FuzzFixtures.write(parts.first.map { $0.isEmpty ? meta : $0 } ?? meta, to: log + "/log.json")
        if parts.count > 1, !parts[1].isEmpty { FuzzFixtures.write(parts[1], to: log + "/HEAD") }
        for (index, segment) in parts.dropFirst(2).enumerated() {
            let firstLine = segment.split(separator: 0x0a, maxSplits: 1).first.map { ArraySlice($0) } ?? []
            let firstSeq = LogEntry.parse(firstLine)?.seq ?? UInt64(index)
            FuzzFixtures.write(segment, to: log + "/" + LogLayout.segmentName(firstSeq: firstSeq))
        }
        let verifier = LogVerifier(directory: log, publicKey: publicKey)
        _ = try? verifier.verify { entry throws(OTAError) in
            if entry.kind == .record { _ = try UpgradeRecord(jsonText: entry.body) }
        }
        let clock = ManualClock(FuzzFixtures.now)
        let configuration = Recorder.Configuration(segmentBytes: 4096, checkpointInterval: 4, durability: .none)
        guard let recorder = try? Recorder.open(at: log, signer: signer, clock: clock, configuration: configuration) else { return }
        _ = try? recorder.append(SeedMaker.record(step: "fuzz", seq: 0))
        try? recorder.close()
        _ = try? verifier.verify()
    }
}
