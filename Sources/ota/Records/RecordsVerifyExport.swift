import ArgumentParser
import Foundation
import OTACompliance
import OTACore

struct RecordsVerifyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-export",
        abstract:
            "Check an export as a third party: signer role, signature, every file, and each vehicle's chain evidence.",
        discussion: """
            --trust is the checker's own trust store: compliance/anchors for the exporter, vehicle/anchors for the device
            certificates. Every row is checked against its own entry, and records.csv and report.html against what the rows
            generate. An export without chain evidence (--no-evidence) is checked only that far: the verdict says its rows
            were NOT checked against the vehicles' signatures, and --require-evidence refuses it (records.evidence).
            Exit 2 with export.signer-role, records.export-unsigned, records.export-altered or records.evidence.
            """)

    @Argument(help: "The export directory.") var directory: String
    @Option(help: "Trust store directory (compliance and vehicle anchors).") var trust: String
    @Option(help: "Check certificates as of this time (RFC 3339 UTC); default now.") var at: String?
    @Flag(
        help: "Refuse an export without chain evidence (its rows cannot be checked against the vehicles' signatures).")
    var requireEvidence = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let time = try RecordsSupport.time(at, option: "--at") ?? Date()
        let result = try ExportManifest.verify(directory: directory, trust: try TrustStore(directory: trust), at: time)
        if let first = result.problems.first {
            throw OTAError(
                .recordsExportAltered, "\(directory): \(first)",
                cause: result.problems.prefix(50).joined(separator: "; "))
        }
        if let first = result.evidenceProblems.first {
            throw OTAError(
                .recordsEvidence, "\(directory): \(first)",
                cause: result.evidenceProblems.prefix(50).joined(separator: "; "))
        }
        let unchecked =
            "the rows were NOT checked against the vehicles' signatures: the export carries no chain evidence, so it proves only what the compliance key signed"
        if !result.evidenceChecked, requireEvidence {
            throw OTAError(.recordsEvidence, "\(directory): \(unchecked) (--require-evidence)")
        }
        let regenerated =
            result.regenerated.isEmpty ? "" : "; \(result.regenerated.joined(separator: " and ")) match them"
        Output.succeed(
            result,
            human:
                "\(directory): intact: signed by \(result.signer) (compliance role); \(result.files.count) files; \(result.entries) entries of \(result.vehicles) vehicle(s); \(result.rowsChecked) rows match their own entries\(regenerated); "
                + (result.evidenceChecked
                    ? "chain evidence of \(result.evidenceVehicles) vehicle(s) covering \(result.evidenceEntries) entries verified against their device certificates"
                    : "WARNING: \(unchecked)"),
            json: output.json)
    }
}
