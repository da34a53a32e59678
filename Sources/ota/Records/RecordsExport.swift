import ArgumentParser
import Foundation
import OTABuilder
import OTACompliance
import OTACore
import OTARecorder

struct RecordsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export stored records by vehicle, campaign or period, with chain evidence and a signed manifest.",
        discussion: """
            The signer is a compliance certificate (its role is checked against --trust when given, and by verify-export).
            VINs are tokenised (HMAC-SHA256) unless --reveal-vin is given; with --pseudonym-key the tokens are stable across
            exports. The output directory must not exist (--replace replaces an earlier export, never anything else).
            """)

    @Option(help: "The fleet store (SQLite file).") var store: String
    @Option(name: [.short, .customLong("out")], help: "Output directory (must not exist).") var out: String
    @Option(help: "Formats, comma-separated: csv, jsonl, html.") var format: String = "csv,jsonl,html"
    @Option(help: "Language of every label, step and result: en or zh-CN.") var lang: String = "en"
    @OptionGroup var signer: SignerOptions
    @Option(help: "Check the signer holds the compliance role in this trust store before signing.") var trust: String?
    @Option(help: "A file holding the secret pseudonymisation key (16 bytes or more).") var pseudonymKey: String?
    @Flag(help: "Keep real VINs (internal use only).") var revealVin = false
    @Flag(
        name: .customLong("no-evidence"),
        help:
            "Leave out the vehicles' chain evidence (exports then cannot be re-checked against the vehicles, but are not linkable across exports by key ids)."
    ) var noEvidence = false
    @Flag(help: "Replace an earlier export in --out.") var replace = false
    @Flag(help: "Sign an export even when nothing matches.") var allowEmpty = false
    @Option(help: "The export time (RFC 3339 UTC); default now.") var now: String?
    @OptionGroup var filterOptions: FilterOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    func run() throws {
        var formats: [ExportFormat] = []
        for name in format.split(separator: ",") {
            guard let parsed = ExportFormat(rawValue: String(name)) else {
                throw OTAError(.usageInvalid, "--format: unknown format '\(name)' (csv, jsonl, html)")
            }
            formats.append(parsed)
        }
        guard let language = ExportLanguage(rawValue: lang) else {
            throw OTAError(.usageInvalid, "--lang: en or zh-CN")
        }
        let mode: VINPseudonymiser.Mode
        if revealVin {
            mode = .none
        } else if let pseudonymKey {
            mode = .keyed(try FileSystem.read(pseudonymKey, limit: 4096))
        } else {
            mode = .ephemeral
        }
        let identity = try signer.load()
        let exportSigner = try ExportSigner(key: identity.key, certificate: identity.certificate, chain: identity.chain)
        let time = try RecordsSupport.time(now, option: "--now") ?? Date()
        if let trust { try exportSigner.checkRole(trust: try TrustStore(directory: trust), at: time) }
        let database = try SQLiteRecordStore(path: store)
        let filter = try filterOptions.filter()
        var exporter = Exporter(
            filter: filter, formats: formats, language: language,
            pseudonymiser: try VINPseudonymiser(mode), signer: exportSigner, now: time, evidence: !noEvidence,
            replace: replace, allowEmpty: allowEmpty)
        let display = progressOptions.display(json: output.json)
        defer { display.finish() }
        if !display.isSilent {
            // The total is the filter's count (genesis entries are left out of tokenised exports,
            // so the count may run a little past the entries written).
            let total = UInt64(try database.count(matching: filter))
            exporter.progress = {
                display.update(WorkProgress(step: "export", done: UInt64($0), total: total, unit: .entries))
            }
        }
        let summary = try exporter.export(from: database, to: out)
        Output.succeed(
            summary,
            human:
                "exported \(summary.entries) entries of \(summary.vehicles) vehicle(s) (\(summary.highlighted) highlighted) to \(out): \(summary.files.count) files",
            json: output.json)
    }
}
