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
    @Option(help: "The current device private key (PEM).") var key: String
    @Option(name: .customLong("new-key"), help: "The new device private key (PEM).") var newKey: String
    @Option(name: .customLong("new-cert"), help: "The new device key's certificate (recorded in the log).") var newCertificate: String?
    @Option(help: "Why the key changes (recorded).") var reason: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let recorder = try Recorder.open(at: log, signer: try RecordsSupport.loadPrivateKey(key), clock: SystemClock())
        let certificate = try newCertificate.map { (path: String) throws(OTAError) -> String in
            try Certificate.load(contentsOf: path).map(\.pem).joined()
        }
        let appended = try recorder.rotateKey(to: try RecordsSupport.loadPrivateKey(newKey), certificate: certificate, reason: reason)
        struct Result: Encodable { let seq: UInt64; let key: String }
        Output.succeed(Result(seq: appended.seq, key: recorder.meta.keyID),
                       human: "device key rotated at entry \(appended.seq); the log is now signed by \(recorder.meta.keyID)", json: output.json)
    }
}
