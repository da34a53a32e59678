import ArgumentParser
import Foundation
import OTACompliance
import OTACore

struct RecordsPurge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract:
            "Delete stored entries older than a date, leaving a signed tombstone; refused for records younger than 10 years.",
        discussion: """
            The purge's clock must agree with the system clock (within a day) and with the store's own history (within 30 days
            of its last ingest or purge); otherwise it is refused (records.purge-clock) unless --override-clock states why,
            which the tombstone records.
            """)

    @Option(help: "The fleet store (SQLite file).") var store: String
    @Option(help: "Delete entries before this time (RFC 3339 UTC).") var before: String
    @Option(help: "Why (recorded in the tombstone).") var reason: String
    @Option(help: "Keep this many years (at least 10).") var years: Int = 10
    @Option(help: "The current time (RFC 3339 UTC); default the system clock.") var now: String?
    @Option(
        name: .customLong("override-clock"), help: "Purge despite a clock the checks doubt; the reason is recorded.")
    var overrideClock: String?
    @OptionGroup var signer: SignerOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let cutoff = try RecordsSupport.time(before, option: "--before")!
        let identity = try signer.load()
        let purgeSigner = try ExportSigner(key: identity.key, certificate: identity.certificate, chain: identity.chain)
        let system = Date()
        let request = FleetPurge.Request(
            before: cutoff, now: try RecordsSupport.time(now, option: "--now") ?? system, years: years, reason: reason,
            clockOverride: overrideClock)
        let tombstone = try FleetPurge.purge(
            request, store: try SQLiteRecordStore(path: store), signer: purgeSigner, systemTime: system)
        struct Result: Encodable { let deleted: Int64; let before: String; let clockOverride: String? }
        Output.succeed(
            Result(deleted: tombstone.deleted, before: tombstone.before, clockOverride: tombstone.clockOverride),
            human:
                "deleted \(tombstone.deleted) entries older than \(tombstone.before); tombstone signed by \(tombstone.by)",
            json: output.json)
    }
}
