import ArgumentParser
import Foundation
import OTACore

/// `ota keys verify CERT --trust DIR --role ROLE [--chain P]`: is this certificate trusted for
/// that role by that trust store, now (or at `--at`)?
struct KeysVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a certificate's chain against a trust store for one role (anchors, CRLs, validity, usage)."
    )

    @Argument(help: "The certificate to check (PEM or DER).")
    var certificate: String

    @Option(help: "Trust store directory (<role>/anchors, <role>/crls).")
    var trust: String

    @Option(help: "Role: release, approval, repository, vehicle or compliance.")
    var role: String = "release"

    @Option(help: "PEM file with the intermediate CA certificates.")
    var chain: String?

    @Option(help: "Check at this time (ISO 8601) instead of now.")
    var at: String?

    @Flag(help: "Accept CRLs past their nextUpdate (revocations still apply).")
    var allowStaleCRL = false

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        let certificate: String
        let role: String
        let trusted: Bool
        let chain: [String]
        let subject: String
        let notBefore: Date
        let notAfter: Date
    }

    func run() throws {
        guard let role = TrustRole(rawValue: role) else {
            throw OTAError(
                .usageRole,
                "--role: unknown role '\(role)' (expected \(TrustRole.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        var time: any TimeSource = SystemTime()
        if let at { time = FixedTime(try parseTime(at, option: "--at")) }
        let leaf = try Certificate.load(contentsOf: certificate)[0]
        let intermediates = try chain.map { try Certificate.load(contentsOf: $0) } ?? []
        let verifier = ChainVerifier(
            store: try TrustStore(directory: trust), time: time, staleCRLPolicy: allowStaleCRL ? .allow : .reject)
        switch try verifier.verify(leaf, intermediates: intermediates, role: role) {
        case .trusted(let path):
            let report = Report(
                certificate: certificate, role: role.rawValue, trusted: true, chain: path.map(\.subject),
                subject: leaf.subject, notBefore: leaf.notBefore, notAfter: leaf.notAfter)
            Output.succeed(
                report,
                human: "\(certificate): trusted for the \(role.rawValue) role\n  "
                    + path.map(\.subject).joined(separator: "\n  "), json: output.json)
        case .untrusted(let error):
            throw error.prefixed(certificate)
        }
    }
}
