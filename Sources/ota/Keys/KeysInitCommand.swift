import ArgumentParser
import OTABuilder
import OTACore

/// `ota keys init --suite intl|gm --out DIR`: a complete sample PKI for demos and tests.
struct KeysInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a sample PKI: release, approval, repository and vehicle roles, CRLs, and a trust store.",
        discussion:
            "The keys are written unencrypted (except one passphrase-protected example) and are for demos and tests only."
    )

    @Option(help: "Crypto suite: intl (ECDSA P-256 / Ed25519) or gm (SM2).")
    var suite: String

    @Option(name: .long, help: "Directory to create; must not exist yet.")
    var out: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let suite = try Suite.parse(suite, field: "--suite")
        let summary = try SamplePKI.create(suite: suite, directory: out)
        Output.succeed(summary, human: summary.humanDescription, json: output.json)
    }
}
