import ArgumentParser
import Foundation
import OTABuilder
import OTACore

/// `ota trust update`: the root key holders sign a trust update.
struct TrustUpdateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract:
            "Sign a trust update: new or retired anchors, CRLs and thresholds per role, with a version above the store's.",
        discussion: """
            Each changed role needs the signatures of a threshold of its current root keys, and every new anchor's own key:
            give each signer as --key K --cert C (in the same order; --key may be a pkcs11: URI).
            Example: ota trust update --trust keys/trust --add-anchor release=new-root.crt --retire-anchor release=old-root.crt \\
                --key old-root.key --cert old-root.crt --key new-root.key --cert new-root.crt -o trust-update.json
            """
    )

    @Option(help: "The trust store the update applies to (for the next version number and a check).")
    var trust: String?

    @Option(
        name: .customLong("update-version"),
        help: "Version of the update (default: the store's version + 1).")
    var updateVersion: UInt64?

    @Option(name: .customLong("add-anchor"), help: "ROLE=CERT: a new root for the role (repeatable).")
    var addAnchors: [String] = []

    @Option(name: .customLong("retire-anchor"), help: "ROLE=CERT: a root the role stops trusting (repeatable).")
    var retireAnchors: [String] = []

    @Option(name: .customLong("crl"), help: "ROLE=CRL: a CRL of one of the role's CAs (repeatable).")
    var crls: [String] = []

    @Option(
        name: .customLong("crl-issuer"),
        help:
            "ROLE=CERT: the CA certificate (and its chain) that signed a --crl and is not the role's root (repeatable)."
    )
    var crlIssuers: [String] = []

    @Option(name: .customLong("threshold"), help: "ROLE=N: root keys that must sign the role's next update.")
    var thresholds: [String] = []

    @Option(name: .customLong("key"), help: "A root key that signs (repeatable, paired with --cert).")
    var keys: [String] = []

    @Option(name: .customLong("cert"), help: "The certificate of the matching --key (repeatable).")
    var certificates: [String] = []

    @OptionGroup var passphrase: PassphraseOptions

    @Option(help: "End of validity (ISO 8601); default 30 days.")
    var expires: String?

    @Option(name: [.customShort("o"), .long], help: "Output file.")
    var output: String

    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        if keys.count != certificates.count {
            throw ValidationError("give each signer as a --key and a --cert, in the same order")
        }
    }

    func run() throws {
        var inputs: [TrustRole: TrustUpdateIssuer.RoleInput] = [:]
        func input(_ role: TrustRole) -> TrustUpdateIssuer.RoleInput {
            inputs[role] ?? TrustUpdateIssuer.RoleInput(role: role)
        }
        for text in addAnchors {
            let (role, path) = try RoleValue.parse(text, option: "--add-anchor")
            var change = input(role)
            change.addAnchors += try Certificate.load(contentsOf: path)
            inputs[role] = change
        }
        for text in retireAnchors {
            let (role, path) = try RoleValue.parse(text, option: "--retire-anchor")
            var change = input(role)
            change.retireAnchors += try Certificate.load(contentsOf: path)
            inputs[role] = change
        }
        for text in crls {
            let (role, path) = try RoleValue.parse(text, option: "--crl")
            var change = input(role)
            change.crls += try CertificateRevocationList.load(contentsOf: path)
            inputs[role] = change
        }
        for text in crlIssuers {
            let (role, path) = try RoleValue.parse(text, option: "--crl-issuer")
            var change = input(role)
            change.crlIssuers += try Certificate.load(contentsOf: path)
            inputs[role] = change
        }
        for text in thresholds {
            let (role, value) = try RoleValue.parse(text, option: "--threshold")
            guard let number = Int(value), number >= 1 else {
                throw OTAError(.usageInvalid, "--threshold: '\(text)' needs a number of 1 or more")
            }
            var change = input(role)
            change.threshold = number
            inputs[role] = change
        }
        var signers: [TrustUpdateIssuer.RootSigner] = []
        for (key, certificate) in zip(keys, certificates) {
            signers.append(
                try TrustUpdateIssuer.RootSigner(
                    key: try KeySource.load(key, passphrase: passphrase.source),
                    certificate: try Certificate.load(contentsOf: certificate)[0]))
        }
        let store = try trust.map { path throws(OTAError) in try TrustStoreContents(directory: path) }
        guard
            let number = try updateVersion
                ?? store.map({ contents throws(OTAError) in
                    let (next, overflow) = try contents.metadata.version.addingReportingOverflow(1)
                    guard !overflow else {
                        throw OTAError(
                            .trustUpdateVersion, "\(trust ?? ""): the store's version is the largest there is")
                    }
                    return next
                })
        else {
            throw OTAError(
                .usageInvalid, "give --update-version, or --trust so the next version can be read from the store")
        }
        let now = Date()
        let until =
            try expires.map { text throws(OTAError) in try parseTime(text, option: "--expires") }
            ?? now.addingTimeInterval(30 * 86400)
        // With the store at hand, the update is checked to apply (threshold, anchors) before it is written.
        let report = try TrustUpdateIssuer.issue(
            version: number, roles: inputs.values.sorted { $0.role.rawValue < $1.role.rawValue }, signers: signers,
            expires: until, outputPath: output, now: now,
            checkingAgainst: store.map { TrustStore(contents: $0, label: trust ?? "--trust") })
        Output.succeed(
            report,
            human:
                "trust update version \(number) (\(report.roles.joined(separator: ", ")); \(report.signatures) signature(s)) written to \(output)",
            json: outputOptions.json)
    }
}
