import ArgumentParser
import Foundation
import OTABuilder
import OTACore

/// `ota approve`: the approval authority approves an automated-driving change for models.
struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Sign an approval (approval number, models, validity) for one bundle's manifest digest."
    )

    @Argument(help: "The bundle being approved.")
    var bundle: String

    @OptionGroup var signer: SignerOptions

    @Option(name: .customLong("approval-id"), help: "The approval number.")
    var approvalID: String

    @Option(parsing: .upToNextOption, help: "Vehicle models covered.")
    var models: [String]

    @Option(help: "End of validity (ISO 8601); default one year.")
    var validUntil: String?

    @Option(name: [.customShort("o"), .long], help: "Output approval file.")
    var output: String

    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let now = Date()
        let until =
            try validUntil.map { text throws(OTAError) in try parseTime(text, option: "--valid-until") }
            ?? now.addingTimeInterval(365 * 86400)
        let report = try ApprovalIssuer.approve(
            bundlePath: bundle, signer: try signer.load(), approvalID: approvalID, models: models,
            validUntil: until, outputPath: output, now: now)
        Output.succeed(
            report,
            human:
                "approval \(report.approvalId) for \(report.bundleId) (\(report.models.joined(separator: ", "))) written to \(output)",
            json: outputOptions.json)
    }
}
