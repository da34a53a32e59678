import ArgumentParser
import Foundation
import OTACore

/// `ota keys csr`: a certificate request signed by the key it is for; the key stays where it is
/// (a file, a PKCS#11 token, the vehicle).
struct KeysCSRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csr",
        abstract: "Make a certificate request (PKCS#10) for a key; the key never leaves its file or token.",
        discussion: """
            Either sign with an existing key (--key FILE or --key pkcs11:...) or create one (--new-key FILE --type p256|ed25519|sm2).
            Example (on the vehicle): ota keys csr --new-key device-2.key --type p256 --cn "Vehicle Device LSV...1" --org "ACME Motors" -o device-2.csr
            """
    )

    @Option(help: "The key to request a certificate for: a key file or a PKCS#11 URI.")
    var key: String?

    @Option(name: .customLong("new-key"), help: "Create a new key in this file (mode 0600; must not exist).")
    var newKey: String?

    @Option(help: "Type of the new key: p256, ed25519 (intl) or sm2 (gm).")
    var type: String?

    @Option(help: "Subject common name (the person, service or vehicle).")
    var cn: String

    @Option(help: "Subject organization.")
    var org: String

    @Option(help: "Subject organizational unit.")
    var ou: String?

    @OptionGroup var passphrase: PassphraseOptions

    @Option(name: [.customShort("o"), .long], help: "Output request (PEM).")
    var output: String

    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard (key == nil) != (newKey == nil) else {
            throw ValidationError("give --key (an existing key) or --new-key (a key to create), not both")
        }
        if newKey != nil, type == nil { throw ValidationError("--new-key needs --type p256, ed25519 or sm2") }
        if key != nil, type != nil { throw ValidationError("--type is for --new-key only") }
    }

    struct Report: Encodable {
        var request: String
        var key: String
        var keyType: String
        var subject: String
        var publicKeySHA256: String
    }

    func run() throws {
        let privateKey: PrivateKey
        let keyName: String
        if let newKey {
            guard let keyType = KeyType(rawValue: type ?? ""), keyType.canSign else {
                throw OTAError(.usageInvalid, "--type: p256, ed25519 or sm2 (a key that signs)")
            }
            guard !FileSystem.exists(newKey) else {
                throw OTAError(.ioExists, "\(newKey): exists; a new key is never written over another")
            }
            privateKey = try PrivateKey.generate(keyType)
            keyName = newKey
        } else {
            privateKey = try KeySource.load(key!, passphrase: passphrase.source)
            keyName = PKCS11URI.isPKCS11(key!) ? try PKCS11URI(key!).description : key!
        }
        let request = try CertificateRequest.make(
            subject: .init(commonName: cn, organization: org, organizationalUnit: ou), key: privateKey)
        if let newKey {
            // The key first: a request without its key is useless, a key without its request is not.
            try AtomicFileWriter.write(Array(try privateKey.pem().utf8), to: newKey, mode: 0o600)
        }
        do throws(OTAError) {
            try AtomicFileWriter.write(Array(request.pem.utf8), to: output, mode: 0o644)
        } catch {
            guard let newKey else { throw error }
            // The key stays (it is what a request is made from); say how to go on with it.
            throw OTAError(
                error.code, "\(error.message); the new key is kept in \(newKey): make the request with --key \(newKey)",
                cause: error.cause)
        }
        let report = Report(
            request: output, key: keyName, keyType: privateKey.type.rawValue,
            subject: "CN=\(cn),O=\(org)" + (ou.map { ",OU=\($0)" } ?? ""),
            publicKeySHA256: try privateKey.publicKey.keyID().hex)
        Output.succeed(
            report, human: "certificate request for \(keyName) (\(privateKey.type.rawValue)) written to \(output)",
            json: outputOptions.json)
    }
}
