import ArgumentParser
import Foundation
import OTACore

/// `ota trust apply --trust DIR FILE`: applies a signed trust update or CRLs to a trust store
/// directory (staged beside it and swapped in). A vehicle uses `ota vehicle trust`, which also
/// journals the change in its protected state and records it.
struct TrustApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a signed trust update, or newer CRLs, to a trust store directory."
    )

    @Argument(help: "A signed trust update (JSON) or CRLs (PEM, with issuing CA certificates, or one DER CRL).")
    var file: String

    @Option(help: "Trust store directory.")
    var trust: String

    @Option(help: "Apply as of this time (ISO 8601) instead of now.")
    var at: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let now = try at.map { text throws(OTAError) in try parseTime(text, option: "--at") } ?? Date()
        let contents = try TrustStoreContents(directory: trust)
        let (next, change) = try namingInput(file, families: trustInputFamilies) { () throws(OTAError) in
            try TrustUpdater.apply(try FileSystem.read(file, limit: TrustUpdate.maximumSize), to: contents, at: now)
        }
        if change.changesStore {
            try next.stage(beside: trust)
            try TrustStoreContents.swap(trust)
        }
        Output.succeed(change, human: TrustApplyCommand.describe(change, store: trust), json: output.json)
    }

    static func describe(_ change: TrustChange, store: String) -> String {
        var lines = [
            change.changesStore
                ? "\(store): trust store updated (version \(change.fromVersion) → \(change.toVersion))"
                : "\(store): nothing newer to apply (version \(change.toVersion))"
        ]
        lines += change.anchorsAdded.map { "  + anchor \($0)" }
        lines += change.anchorsRetired.map { "  - anchor \($0)" }
        lines += change.crlsApplied.map { "  + CRL \($0)" }
        lines += change.crlsSkipped.map { "  = CRL \($0) (not newer than the one held)" }
        return lines.joined(separator: "\n")
    }
}
