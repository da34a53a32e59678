import ArgumentParser
import OTACore

/// Where the passphrase of encrypted private keys (or a PKCS#11 token's PIN) comes from: a file or
/// an environment variable, never the command line.
struct PassphraseOptions: ParsableArguments {
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

    var source: PassphraseSource? {
        if let passphraseFile { return .file(passphraseFile) }
        if let passphraseEnvironment { return .environment(passphraseEnvironment) }
        return nil
    }
}

/// Loads a signing key named on the command line: a key file (PEM or DER).
enum KeySource {
    static func load(_ reference: String, passphrase: PassphraseSource?) throws(OTAError) -> PrivateKey {
        try PrivateKey(reference: reference, passphrase: passphrase)
    }
}
