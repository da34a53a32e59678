import ArgumentParser
import Foundation
import OTACore
import OTAInstaller

/// `ota install`: the vehicle's policy, then the A/B apply and the switch to the new slots (on
/// trial until `ota vehicle confirm` after a reboot).
struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Check a bundle against the vehicle's policy and install it into the inactive slots.",
        discussion: """
            Order: signatures and chains, targeting, anti-rollback, approval rule, filings, preconditions, consent, apply.
            Success leaves the update activated on trial: reboot (ota vehicle reboot) and confirm (ota vehicle confirm) to commit it.
            """
    )

    @Argument(help: "Bundle file.")
    var bundle: String

    @Option(help: "Vehicle directory.")
    var vehicle: String

    @Option(help: "Approval file (needed for automated-driving changes).")
    var approval: String?

    @Option(help: "Vehicle state JSON: {\"parked\": true, \"gear\": \"P\", \"batteryPercent\": 80}.")
    var state: String?

    @Option(help: "The user's answer to the notice: yes or no.")
    var consent: String?

    @Option(help: "Language of the notice the user read.")
    var language = "en"

    @Option(name: .customLong("consent-by"), help: "Who answered: owner, driver, fleet, technician.")
    var consentBy = "owner"

    @Flag(name: .customLong("no-activate"), help: "Write and check the slots but do not switch (activate later).")
    var noActivate = false

    @Flag(help: "A workshop install of a local file on a vehicle that otherwise installs only what its repository lists (recorded).")
    var workshop = false

    @OptionGroup var output: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let consent, !["yes", "no"].contains(consent) { throw ValidationError("--consent is yes or no") }
        if Consent.Party(rawValue: consentBy) == nil { throw ValidationError("--consent-by is owner, driver, fleet or technician") }
    }

    func run() throws {
        let approvalBytes = try approval.map { path throws(OTAError) in try FileSystem.read(path, limit: SignedApproval.maximumSize) }
        let conditions = try state.map { path throws(OTAError) in
            do throws(OTAError) {
                return try CanonicalJSON.decodeInput(VehicleConditions.self, from: try FileSystem.read(path, limit: 1 << 20), as: .vehicleStateMalformed)
            } catch {
                // A malformed --state file is a usage error (exit 1), not a policy refusal.
                throw error.kind == .rejected ? OTAError(.usageState, "\(path): \(error.message)") : error
            }
        }
        let answer = consent.map {
            Consent(answer: $0 == "yes" ? .accepted : .refused, language: language, by: Consent.Party(rawValue: consentBy) ?? .owner, channel: "cli")
        }
        let target = try VehicleSupport.open(vehicle)
        target.workshopInstall = workshop
        let progress = progressOptions.display(json: output.json)
        let report = try target.install(
            bundle: bundle, approval: approvalBytes, conditions: conditions, consent: answer, activate: !noActivate,
            progress: { progress.update(WorkProgress(step: $0.step, done: $0.bytesDone, total: $0.bytesTotal)) })
        progress.finish()
        let next = report.stage == .activated ? "reboot (ota vehicle reboot) and confirm (ota vehicle confirm) to commit" : "activate later"
        let human =
            "\(report.bundleId): \(report.stage.rawValue) — \(report.bytesWritten) bytes into "
            + report.images.map { "\($0.slotGroup)/\($0.slot.rawValue)" }.joined(separator: ", ") + String(format: " in %.2f s; ", report.seconds) + next
        Output.succeed(report, human: human, json: output.json)
    }
}
