import ArgumentParser
import OTACompliance
import OTACore
import OTARecorder

struct RecordsIngest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Verify vehicle logs and load them into the fleet store (SQLite; created if missing).",
        discussion:
            "Idempotent; a log that does not continue the stored chain, or ends before it, is rejected, not merged. Nothing is stored from a log that does not verify."
    )

    @Option(help: "The fleet store (SQLite file).") var store: String
    @Option(help: "One device certificate (or public key) for every new vehicle.") var key: String?
    @Option(help: "A directory of device certificates or keys named <VIN>.pem.") var keys: String?
    @Option(
        help:
            "A trust store whose vehicle role judges device-key rotations (a new certificate that chains, an outgoing key not revoked)."
    )
    var trust: String?
    @Argument(help: "Log directories.") var logs: [String]
    @OptionGroup var output: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        guard (key == nil) != (keys == nil) else { throw ValidationError("give --key or --keys") }
    }

    func run() throws {
        let database = try SQLiteRecordStore(path: store, mode: .create)
        let rotationTrust = try trust.map { (path: String) throws(OTAError) in try TrustStore(directory: path) }
        let shared = try key.map { (path: String) throws(OTAError) in try RecordsSupport.deviceKey(path) }
        var reports: [FleetIngest.Report] = []
        var added = 0
        var rejected: [OTAError] = []
        let display = progressOptions.display(json: output.json)
        defer { display.finish() }
        // Each log is read twice (verified, then verified again and stored).
        let total = display.isSilent ? 0 : 2 * (try RecordsSupport.segmentBytes(logs))
        var done: UInt64 = 0
        // Each log is its own transaction: one bad log does not hold back the others.
        for log in logs {
            let base = done
            let progress: ((UInt64) -> Void)? =
                display.isSilent ? nil : { display.update(WorkProgress(step: "ingest", done: base + $0, total: total)) }
            let result = ingestOne(
                log, shared: shared, database: database, rotationTrust: rotationTrust, progress: progress)
            if !display.isSilent { done += 2 * ((try? LogLayout(directory: log).segmentBytes()) ?? 0) }
            switch result {
            case .success(let report):
                added += report.added
                if reports.count < 1000 { reports.append(report) }
            case .failure(let error):
                if error.kind != .rejected || logs.count == 1 { throw error }
                rejected.append(error)
            }
        }
        if let first = rejected.first {
            throw OTAError(
                first.code,
                "\(rejected.count) of \(logs.count) logs rejected (the others were ingested, \(added) new entries); first: \(first.message)",
                cause: rejected.prefix(20).map(\.description).joined(separator: "; "))
        }
        struct Result: Encodable { let logs: Int; let added: Int; let reports: [FleetIngest.Report] }
        Output.succeed(
            Result(logs: logs.count, added: added, reports: reports),
            human: "ingested \(logs.count) log(s), \(added) new entries"
                + (logs.count == 1
                    ? reports.first.flatMap { r in r.headSeq.map { "; head entry \($0) \(r.headHash ?? "")" } } ?? ""
                    : ""),
            json: output.json)
    }

    private func ingestOne(
        _ log: String, shared: (key: PublicKey, certificate: String?)?, database: SQLiteRecordStore,
        rotationTrust: TrustStore?,
        progress: ((UInt64) -> Void)?
    ) -> Result<FleetIngest.Report, OTAError> {
        do throws(OTAError) {
            let device: (key: PublicKey, certificate: String?)
            if let shared {
                device = shared
            } else {
                let vin = try LogMeta.load(LogLayout(directory: log)).vin
                guard !vin.contains("/"), !vin.hasPrefix(".") else {
                    throw OTAError(.recordsVin, "\(log): VIN \(vin) cannot name a key file")
                }
                device = try RecordsSupport.deviceKey(keys! + "/" + vin + ".pem")
            }
            return .success(
                try FleetIngest.ingest(
                    log: log, publicKey: device.key, certificate: device.certificate, into: database,
                    rotationTrust: rotationTrust, progress: progress))
        } catch {
            return .failure(error)
        }
    }
}
