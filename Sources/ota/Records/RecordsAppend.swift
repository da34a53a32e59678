import ArgumentParser
import OTACore
import OTARecorder

struct RecordsAppend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append one upgrade record to a log (creating the log with --vin), then checkpoint.")

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The vehicle's device private key (PEM or DER; encrypted PKCS#8 allowed), or a PKCS#11 URI.") var key:
        String
    @OptionGroup var passphrase: PassphraseOptions
    @Option(help: "The record as JSON (docs/FORMAT.md, Records), or @FILE.") var record: String
    @Option(help: "Create the log for this VIN if it does not exist.") var vin: String?
    @Option(help: "Suite of a new log: intl (SHA-256, the default) or gm (SM3).") var suite: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let signer = try RecordsSupport.loadPrivateKey(key, passphrase: passphrase)
        let text: [UInt8] =
            record.hasPrefix("@") ? try FileSystem.read(String(record.dropFirst()), limit: 1 << 20) : Array(record.utf8)
        let existing = FileSystem.exists(log + "/log.json") ? try LogMeta.load(LogLayout(directory: log)) : nil
        guard let owner = existing?.vin ?? vin else {
            throw OTAError(.usageInvalid, "\(log): no log here; give --vin to create one")
        }
        // Options for a new log that disagree with the log there are refused, not ignored.
        if let existing {
            if let vin, vin != existing.vin {
                throw OTAError(.recordsVinMismatch, "--vin \(vin): \(log) is the log of \(existing.vin)")
            }
            if let suite, try Suite.parse(suite).hash != existing.hash {
                throw OTAError(
                    .usageInvalid,
                    "--suite \(suite): \(log) is a \(existing.hash.rawValue) log; --suite only chooses a new log's")
            }
        }
        let parsed = try UpgradeRecord(jsonText: text, vin: owner, source: "--record")
        try parsed.checkIdentifiers(source: "--record")
        // The log's own entries (genesis, checkpoints) take the system clock's time and name it,
        // whatever clock the record's own time came from.
        let clock = SystemClock()
        let recorder: Recorder
        if existing != nil {
            recorder = try Recorder.open(at: log, signer: signer, clock: clock)
        } else {
            recorder = try Recorder.create(
                at: log, vin: owner, signer: signer, clock: clock,
                configuration: .init(hash: try Suite.parse(suite ?? "intl").hash))
        }
        let appended = try recorder.append(parsed)
        // The record is durable once `append` returns: a checkpoint that cannot be written now (a
        // full disk) is written at the next append or close, and is no reason to report the
        // record as not appended (a retry would append it twice).
        var checkpointPending: String? = nil
        do throws(OTAError) { try recorder.close() } catch {
            Output.warn(
                OTAError(
                    error.code,
                    "entry \(appended.seq) is appended; its checkpoint is not written yet (at the next append): \(error.message)"
                ))
            checkpointPending = "\(error.message) [\(error.code)]"
        }
        struct Result: Encodable {
            let seq: UInt64
            let hash: String
            let segment: String
            let tornTails: [UInt64]
            let unsignedRanges: [UnsignedRange]
            let checkpointPending: String?
        }
        Output.succeed(
            Result(
                seq: appended.seq, hash: appended.hash, segment: appended.segment,
                tornTails: recorder.tornTails.map(\.seq), unsignedRanges: recorder.unsignedRanges,
                checkpointPending: checkpointPending),
            human: "appended entry \(appended.seq) \(appended.hash)"
                + (recorder.tornTails.isEmpty
                    ? ""
                    : " (torn tail recorded as entry \(recorder.tornTails.map { String($0.seq) }.joined(separator: ", ")))")
                + recorder.unsignedRanges.map {
                    "; \($0.entries) found after the last checkpoint, stated as unsigned in entry \($0.recordedAt)"
                }.joined(),
            json: output.json)
    }
}
