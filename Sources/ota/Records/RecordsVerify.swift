import ArgumentParser
import OTACore
import OTARecorder

struct RecordsVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a vehicle record log: chain, checkpoint signatures, schema, truncation against HEAD.",
        discussion:
            "Exit 2 and a dotted code (records.changed, records.deleted, records.inserted, records.reordered, records.truncated, records.torn-tail, records.checkpoint-signature, records.schema, records.meta, records.segment-name, records.retention) when anything is wrong."
    )

    @Argument(help: "Log directories.") var logs: [String]
    @Option(help: "A device public key (PEM) or certificate that signs the start of the log; repeat for several.")
    var key: [String]
    @Option(
        help:
            "A trust store whose vehicle role judges each device-key rotation at its recorded time (a new certificate that chains, an outgoing key not revoked); --key must then be certificates."
    )
    var trust: String?
    @OptionGroup var output: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    /// What the device key does not vouch for, in words: the tail after the last checkpoint, and
    /// every range a recorder found unsigned when it reopened the log.
    static func unsigned(_ report: VerificationReport) -> String {
        var text = ""
        if report.unsignedTail > 0, let last = report.lastSeq {
            let first = last + 1 - UInt64(report.unsignedTail)
            text +=
                "; \(UnsignedRange(from: first, through: last, recordedAt: last).entries) after the last checkpoint \(first == last ? "is" : "are") not signed"
        }
        for range in report.unsignedRanges {
            text +=
                "\n  \(range.entries) \(range.from == range.through ? "was" : "were") found unsigned when the recorder reopened the log (stated in entry \(range.recordedAt)): a crash before the checkpoint, or written without the device key"
        }
        return text
    }

    func run() throws {
        var keys: [PublicKey] = []
        var certificates: [String: String] = [:]
        for path in key {
            let device = try RecordsSupport.deviceKey(path)
            keys.append(device.key)
            if let certificate = device.certificate { certificates[try device.key.keyID(.sha256).hex] = certificate }
        }
        let rotationTrust = try trust.map { (path: String) throws(OTAError) in try TrustStore(directory: path) }
        guard !keys.isEmpty else { throw OTAError(.usageInvalid, "give the device key with --key") }
        var reports: [VerificationReport] = []
        var records = 0
        var entries = 0
        let display = progressOptions.display(json: output.json)
        defer { display.finish() }
        let total = display.isSilent ? 0 : try RecordsSupport.segmentBytes(logs)
        var done: UInt64 = 0
        for log in logs {
            var rotations = rotationTrust.map { KeyRotationTrust(store: $0, instant: nil, certificates: certificates) }
            var verifier = LogVerifier(directory: log, keys: keys)
            if !display.isSilent {
                let base = done
                verifier.progress = { display.update(WorkProgress(step: "verify", done: base + $0, total: total)) }
            }
            let report = try verifier.verify { verified throws(OTAError) in try rotations?.see(verified) }
            done += (try? LogLayout(directory: log).segmentBytes()) ?? 0
            guard report.intact else { throw RecordsSupport.fail(report, log: log) }
            records += report.records
            entries += report.entries
            if reports.count < 100 { reports.append(report) }
        }
        guard logs.count == 1, let report = reports.first else {
            struct Result: Encodable { let logs: Int; let records: Int; let entries: Int }
            Output.succeed(
                Result(logs: logs.count, records: records, entries: entries),
                human: "\(logs.count) logs intact: \(records) records, \(entries) entries", json: output.json)
            return
        }
        Output.succeed(
            report,
            human:
                "\(logs[0]): intact: \(report.records) records, \(report.entries) entries (\(report.firstSeq ?? 0)...\(report.lastSeq ?? 0)), signed through entry \(report.headSeq.map(String.init) ?? "none")\(report.anchoredAt.map { ", anchored at checkpoint \($0) after pruning" } ?? "")\(report.keyRotations > 0 ? ", \(report.keyRotations) key rotation(s)" : "")"
                + Self.unsigned(report),
            json: output.json)
    }
}
