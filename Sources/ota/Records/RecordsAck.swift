import ArgumentParser
import OTACore
import OTARecorder

struct RecordsAck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack", abstract: "Record that the fleet store holds a log up to an entry.")

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The vehicle's device private key (PEM or DER; encrypted PKCS#8 allowed), or a PKCS#11 URI.") var key:
        String
    @OptionGroup var passphrase: PassphraseOptions
    @Option(help: "The entry number the store holds.") var through: UInt64
    @Option(help: "That entry's hash.") var hash: String
    @Option(help: "The acknowledging store's name (recorded in the prune tombstone).") var by: String = "fleet-store"
    @OptionGroup var output: OutputOptions

    func run() throws {
        let recorder = try Recorder.open(
            at: log, signer: try RecordsSupport.loadPrivateKey(key, passphrase: passphrase), clock: SystemClock())
        try recorder.acknowledge(through: through, hash: hash, by: by)
        struct Result: Encodable { let through: UInt64; let by: String }
        Output.succeed(
            Result(through: through, by: by), human: "acknowledged through entry \(through) by \(by)", json: output.json
        )
    }
}
