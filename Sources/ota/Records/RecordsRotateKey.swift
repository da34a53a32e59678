import ArgumentParser
import OTACore
import OTARecorder

/// `ota records rotate-key`: the log continues under a new device key, announced in an entry
/// signed by the current one (the trust lifecycle's key renewal uses this).
struct RecordsRotateKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Hand the log over to a new device key, announced in an entry signed by the current key.")

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The current device private key (PEM or DER; encrypted PKCS#8 allowed), or a PKCS#11 URI.") var key:
        String
    @OptionGroup var passphrase: PassphraseOptions
    @Option(
        name: .customLong("new-key"),
        help: "The new device private key (PEM or DER; encrypted PKCS#8 allowed), or a PKCS#11 URI.") var newKey: String
    @Option(name: .customLong("new-passphrase-file"), help: "File holding the new key's passphrase (or the token PIN).")
    var newPassphraseFile: String?
    @Option(
        name: .customLong("new-passphrase-env"),
        help: "Environment variable holding the new key's passphrase (or the token PIN).")
    var newPassphraseEnvironment: String?
    @Option(name: .customLong("new-cert"), help: "The new device key's certificate (recorded in the log).")
    var newCertificate: String?
    @Option(help: "Why the key changes (recorded).") var reason: String
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if newPassphraseFile != nil && newPassphraseEnvironment != nil {
            throw ValidationError("give the new key's passphrase once: --new-passphrase-file or --new-passphrase-env")
        }
    }

    func run() throws {
        let recorder = try Recorder.open(
            at: log, signer: try RecordsSupport.loadPrivateKey(key, passphrase: passphrase), clock: SystemClock())
        let certificate = try newCertificate.map { (path: String) throws(OTAError) -> String in
            try Certificate.load(contentsOf: path).map(\.pem).joined()
        }
        let appended = try recorder.rotateKey(
            to: try PrivateKey(
                reference: newKey,
                passphrase: newPassphraseFile.map { .file($0) } ?? newPassphraseEnvironment.map { .environment($0) }),
            certificate: certificate, reason: reason)
        struct Result: Encodable { let seq: UInt64; let key: String }
        Output.succeed(
            Result(seq: appended.seq, key: recorder.meta.keyID),
            human: "device key rotated at entry \(appended.seq); the log is now signed by \(recorder.meta.keyID)",
            json: output.json)
    }
}
