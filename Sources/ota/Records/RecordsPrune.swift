import ArgumentParser
import Foundation
import OTACore
import OTARecorder

struct RecordsPrune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract:
            "Remove whole old segments: older than the retention (6 months at least) and acknowledged by the fleet store.",
        discussion: """
            A prune entry (a tombstone: the range, the reason, who asked, who acknowledged) is written and signed first.
            The prune's time (--now, default the system clock) must be within a day of the system clock and not before the
            newest signed time in the log; otherwise it is refused (records.retention) unless --override-clock states why,
            which the prune entry records.
            """)

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The vehicle's device private key (PEM or DER; encrypted PKCS#8 allowed), or a PKCS#11 URI.") var key:
        String
    @OptionGroup var passphrase: PassphraseOptions
    @Option(help: "Keep this many months (at least 6).") var months: Int?
    @Option(help: "The current time (RFC 3339 UTC); default now.") var now: String?
    @Option(
        name: .customLong("override-clock"),
        help: "Prune despite a time the clock checks doubt; the reason is recorded in the prune entry.")
    var overrideClock: String?
    @Option(help: "Who asks for the prune (recorded).") var requestedBy: String = "operator"
    @OptionGroup var output: OutputOptions

    func run() throws {
        let date = try RecordsSupport.time(now, option: "--now")
        let recorder = try Recorder.open(
            at: log, signer: try RecordsSupport.loadPrivateKey(key, passphrase: passphrase), clock: SystemClock())
        if let months, months < Recorder.minimumRetentionMonths {
            throw OTAError(
                .recordsRetentionMinimum,
                "--months \(months) is below the legal minimum of \(Recorder.minimumRetentionMonths)")
        }
        let report = try recorder.prune(
            now: date, months: months, requestedBy: requestedBy, clockOverride: overrideClock)
        if report.removed.isEmpty {
            throw OTAError(.recordsRetention, "\(log): nothing pruned: \(report.kept ?? "") \(report.reason ?? "")")
        }
        Output.succeed(
            report, human: "pruned \(report.removed.count) segment(s), entries up to \(report.through ?? 0)",
            json: output.json)
    }
}
