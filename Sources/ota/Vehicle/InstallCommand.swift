import ArgumentParser
import Foundation
import OTACore
import OTAInstaller
import OTARecorder

/// `ota install`: the vehicle's policy, the notice and the user's answer, then the A/B apply
/// and the switch to the new slots (on trial until `ota vehicle confirm` after a reboot).
struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract:
            "Check a bundle against the vehicle's policy, show the notice, and install it into the inactive slots.",
        discussion: """
            Order: signatures and chains, targeting, anti-rollback, approval rule, filings, preconditions, consent, apply.
            Without --consent the notice (purpose, content, expected duration, functions unavailable, precautions, impact)
            is printed in the vehicle's language and the answer is read from the terminal; --consent yes|no answers for
            automation. Either way the notice's digest and the answer are recorded. An update whose manifest requires a
            skilled person needs --consent-by technician.
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

    @Option(help: "The answer to the notice, for automation: yes or no (without it, the notice is shown and asked).")
    var consent: String?

    @Option(help: "Language of the notice shown (default: the vehicle's).")
    var language: String?

    @Option(name: .customLong("consent-by"), help: "Who answers: owner, driver, fleet, technician.")
    var consentBy = "owner"

    @Option(
        name: .customLong("consent-channel"),
        help: "How the question was put (cli, head-unit, app, workshop-tool, ...).")
    var consentChannel = "cli"

    @Flag(name: .customLong("no-activate"), help: "Write and check the slots but do not switch (activate later).")
    var noActivate = false

    @Flag(
        help:
            "A workshop install of a local file on a vehicle that otherwise installs only what its repository lists (recorded)."
    )
    var workshop = false

    @OptionGroup var output: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let consent, !["yes", "no"].contains(consent) { throw ValidationError("--consent is yes or no") }
        if ConfirmingParty(rawValue: consentBy) == nil {
            throw ValidationError("--consent-by is owner, driver, fleet or technician")
        }
    }

    func run() throws {
        try namingInput(approval, families: approvalInputFamilies, except: [.approvalMissing]) { () throws(OTAError) in
            try install()
        }
    }

    private func install() throws(OTAError) {
        let approvalBytes = try approval.map { path throws(OTAError) in
            try FileSystem.read(path, limit: SignedApproval.maximumSize)
        }
        let conditions = try state.map(VehicleSupport.conditions(at:))
        let target = try VehicleSupport.open(vehicle)
        target.workshopInstall = workshop
        let party = ConfirmingParty(rawValue: consentBy) ?? .owner
        let shownLanguage = language ?? target.noticeLanguage
        var decision: InstallDecision? = nil
        var answer: Consent? = nil
        if let consent {
            answer = Consent(
                answer: consent == "yes" ? .accepted : .refused, language: shownLanguage, by: party,
                channel: consentChannel)
        } else {
            // Check first, show the notice, ask; the install then refuses a bundle that changed since.
            let checked = try Self.reporting(target) { () throws(OTAError) in
                try target.check(bundle: bundle, approval: approvalBytes)
            }
            decision = checked
            if let refusal = checked.refusal { throw OTAError(refusal.code, refusal.message, cause: refusal.cause) }
            if let notice = try target.notice(for: checked, language: shownLanguage) {
                FileHandle.standardError.write(Data((notice.text + "\n").utf8))
                if notice.skilledPersonRequired, party != .technician {
                    FileHandle.standardError.write(
                        Data(
                            "(answering as \(party.rawValue); a technician must confirm: --consent-by technician)\n"
                                .utf8))
                }
                FileHandle.standardError.write(
                    Data(
                        (RecordLanguage(rawValue: shownLanguage) ?? .en).pick(
                            "Install this update? [yes/no] ", "是否安装本次升级？[yes/no] "
                        ).utf8))
                if let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased(),
                    !line.isEmpty
                {
                    let accepted = ["yes", "y", "是", "同意"].contains(line)
                    answer = Consent(
                        answer: accepted ? .accepted : .refused, language: shownLanguage, by: party,
                        channel: consentChannel)
                }
            }
        }
        let progress = progressOptions.display(json: output.json)
        let report = try Self.reporting(target) { () throws(OTAError) in
            try target.install(
                bundle: bundle, expecting: decision, approval: approvalBytes, conditions: conditions, consent: answer,
                activate: !noActivate,
                progress: progress.update)
        }
        progress.finish()
        let next =
            report.stage == .activated
            ? "reboot (ota vehicle reboot) and confirm (ota vehicle confirm) to commit" : "activate later"
        let human =
            "\(report.bundleId): \(report.stage.rawValue) — \(report.bytesWritten) bytes into "
            + report.images.map { "\($0.slotGroup)/\($0.slot.rawValue)" }.joined(separator: ", ")
            + String(format: " in %.2f s; ", report.seconds) + next
        Output.succeed(report, human: human, json: output.json)
    }

    /// Runs a vehicle call; when it ends an attempt, the result notices (both languages) go to
    /// standard error before the outcome is reported.
    static func reporting<T>(_ vehicle: Vehicle, _ body: () throws(OTAError) -> T) throws(OTAError) -> T {
        defer { VehicleSupport.showResultNotices(vehicle) }
        return try body()
    }
}
