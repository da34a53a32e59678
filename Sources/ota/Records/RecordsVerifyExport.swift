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
            certificates. Exit 2 with export.signer-role, records.export-unsigned, records.export-altered or records.evidence.
            """)

    @Argument(help: "The export directory.") var directory: String
    @Option(help: "Trust store directory (compliance and vehicle anchors).") var trust: String
    @Option(help: "Check certificates as of this time (RFC 3339 UTC); default now.") var at: String?
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
        Output.succeed(
            result,
            human:
                "\(directory): intact: signed by \(result.signer) (compliance role); \(result.files.count) files; \(result.entries) entries of \(result.vehicles) vehicle(s); chain evidence of \(result.evidenceVehicles) vehicle(s) covering \(result.evidenceEntries) entries verified against their device certificates",
            json: output.json)
    }
}
