import ArgumentParser
import Foundation
import OTABuilder
import OTACore

/// A signer's key, certificate and chain; the passphrase of an encrypted key comes from a file
/// or an environment variable, never from the command line.
struct SignerOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Private key (PEM or DER; encrypted PKCS#8 allowed), or a PKCS#11 URI (pkcs11:token=T;object=O?pin-source=FILE&module-path=LIB)."
    )
    var key: String

    @Option(name: .customLong("cert"), help: "The signer's certificate.")
    var certificate: String

    @Option(name: .long, help: "PEM file with the intermediate CA certificates.")
    var chain: String?

    @Option(name: .customLong("passphrase-file"), help: "File holding the key's passphrase (or the token PIN).")
    var passphraseFile: String?

    @Option(
        name: .customLong("passphrase-env"),
        help: "Environment variable holding the key's passphrase (or the token PIN).")
    var passphraseEnvironment: String?

    func validate() throws {
        if passphraseFile != nil && passphraseEnvironment != nil {
            throw ValidationError("give the passphrase once: --passphrase-file or --passphrase-env")
        }
    }

    var passphrase: PassphraseSource? {
        if let passphraseFile { return .file(passphraseFile) }
        if let passphraseEnvironment { return .environment(passphraseEnvironment) }
        return nil
    }

    func load() throws(OTAError) -> SignerIdentity {
        try SignerIdentity.load(key: key, certificate: certificate, chain: chain, passphrase: passphrase)
    }
}

/// The trust a verifier uses.
struct TrustOptions: ParsableArguments {
    @Option(help: "Trust store directory (<role>/anchors, <role>/crls).")
    var trust: String

    @Option(help: "Distinct release signers required (2 for the two-person rule).")
    var threshold: Int = 1

    @Option(help: "Verify as of this time (ISO 8601) instead of now.")
    var at: String?

    @Flag(help: "Accept CRLs past their nextUpdate (revocations still apply).")
    var allowStaleCRL = false

    func validate() throws {
        guard (1...SignatureEnvelope.maximumSignatures).contains(threshold) else {
            throw ValidationError("--threshold must be 1...\(SignatureEnvelope.maximumSignatures)")
        }
    }

    func policy() throws(OTAError) -> BundleTrustPolicy {
        BundleTrustPolicy(
            trust: try TrustStore(directory: trust), time: try time(), threshold: threshold,
            staleCRLPolicy: allowStaleCRL ? .allow : .reject)
    }

    func time() throws(OTAError) -> any TimeSource {
        guard let at else { return SystemTime() }
        guard let instant = Timestamp.parse(at) else {
            throw OTAError(
                .usageTime,
                "--at: '\(at)' is not a time written as 2027-01-01T00:00:00Z or 2027-01-01T08:00:00+08:00 (a real day, whole seconds, years 1970-9999)"
            )
        }
        return FixedTime(instant)
    }
}

/// Parses an ISO 8601 option value.
func parseTime(_ text: String, option: String) throws(OTAError) -> Date {
    guard let date = Timestamp.parse(text) else {
        throw OTAError(
            .usageTime,
            "\(option): '\(text)' is not a time written as 2027-01-01T00:00:00Z or 2027-01-01T08:00:00+08:00 (a real day, whole seconds, years 1970-9999)"
        )
    }
    return date
}
