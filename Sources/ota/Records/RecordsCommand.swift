import ArgumentParser
import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// `ota records ...`: the vehicle's tamper-evident record log, the fleet store and exports.
struct RecordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "Append, verify, ingest, query and export tamper-evident update records.",
        subcommands: [
            RecordsVerify.self, RecordsAppend.self, RecordsAck.self, RecordsPrune.self, RecordsRotateKey.self,
            RecordsIngest.self,
            RecordsQuery.self, RecordsRegister.self, RecordsExport.self, RecordsVerifyExport.self, RecordsPurge.self,
        ]
    )
}

/// Shared parsing helpers for the records commands.
enum RecordsSupport {
    /// The vehicle's device key: a key file (encrypted PKCS#8 with a passphrase from a file or
    /// an environment variable) or a PKCS#11 URI.
    static func loadPrivateKey(_ path: String, passphrase: PassphraseOptions) throws(OTAError) -> PrivateKey {
        try PrivateKey(reference: path, passphrase: passphrase.source)
    }

    /// The segment bytes of every log (the total of a progress display).
    static func segmentBytes(_ logs: [String]) throws(OTAError) -> UInt64 {
        var total: UInt64 = 0
        for log in logs { total += try LogLayout(directory: log).segmentBytes() }
        return total
    }

    static func time(_ text: String?, option: String) throws(OTAError) -> Date? {
        guard let text else { return nil }
        guard let date = RecordTime.parse(text) else {
            throw OTAError(.usageInvalid, "\(option): expected RFC 3339 UTC time such as 2026-01-31T00:00:00Z")
        }
        return date
    }

    static func fail(_ report: VerificationReport, log: String) -> OTAError {
        let first = report.issues[0]
        return OTAError(
            first.kind.code, "\(log): \(report.issues.count) problem(s); first: \(first)",
            cause: report.issues.prefix(20).map(\.description).joined(separator: "; "))
    }

    /// A device key file: a certificate (kept as PEM for exports) or a public or private key.
    static func deviceKey(_ path: String) throws(OTAError) -> (key: PublicKey, certificate: String?) {
        let bytes = try FileSystem.read(path, limit: 1 << 20)
        let text = String(decoding: bytes, as: UTF8.self)
        let key = try DeviceKey.load(path)
        if text.contains("BEGIN CERTIFICATE") {
            return (key, try Certificate.load(bytes, source: path).map(\.pem).joined())
        }
        return (key, nil)
    }

    /// A typed enum from an option's text, or a usage error naming the choices.
    static func parse<E: RawRepresentable & CaseIterable>(_ text: String?, _ option: String, _: E.Type) throws(OTAError)
        -> E? where E.RawValue == String
    {
        guard let text else { return nil }
        guard let value = E(rawValue: text) else {
            throw OTAError(
                .usageInvalid,
                "\(option): '\(text)' is not one of " + E.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }
}

struct FilterOptions: ParsableArguments {
    @Option(help: "Only this VIN.") var vin: String?
    @Option(help: "Only this campaign.") var campaign: String?
    @Option(help: "Only this bundle id.") var bundle: String?
    @Option(help: "Only records naming this ECU.") var ecu: String?
    @Option(help: "Only this step (verify, consent, commit, result, ...).") var step: String?
    @Option(
        name: [.customLong("outcome"), .customLong("result")],
        help: "Only this outcome: success, rejected, failure, rolled-back, pending.") var outcome: String?
    @Option(help: "Only this install attempt.") var attempt: String?
    @Option(help: "From this time (inclusive), RFC 3339 UTC.") var from: String?
    @Option(help: "Up to this time (exclusive), RFC 3339 UTC.") var to: String?

    func filter() throws(OTAError) -> RecordFilter {
        RecordFilter(
            vin: vin, campaign: campaign, bundle: bundle, ecu: ecu,
            step: try RecordsSupport.parse(step, "--step", RecordStep.self),
            outcome: try RecordsSupport.parse(outcome, "--outcome", RecordOutcome.self), attempt: attempt,
            from: try RecordsSupport.time(from, option: "--from").map(RecordTime.format),
            to: try RecordsSupport.time(to, option: "--to").map(RecordTime.format))
    }
}
