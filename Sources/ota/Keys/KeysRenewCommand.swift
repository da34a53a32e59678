import ArgumentParser
import Foundation
import OTACore

/// `ota keys renew`: a new certificate for the same subject, role and signer id.
struct KeysRenewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract:
            "Renew a certificate the CA issued: same subject, role and signer id; the same key or a new one (--request).",
        discussion: """
            A renewed signer keeps their signer id, so a two-person threshold still counts them once.
            Example: ota keys renew signer-1.crt --request signer-1-2027.csr --ca-key signing-ca.key --ca-cert signing-ca.crt -o signer-1-2027.crt
            """
    )

    @Argument(help: "The certificate to renew.")
    var certificate: String

    @Option(help: "A request with the new key (re-keying); default: keep the certificate's key.")
    var request: String?

    @Option(
        help:
            "The role, for a certificate made before role markers (release, approval, repository, compliance, vehicle)."
    )
    var role: String?

    @Option(
        name: .customLong("signer-id"),
        help: "A signer id for a certificate that has none (an existing one never changes).")
    var signerID: String?

    @OptionGroup var ca: CAOptions
    @OptionGroup var validity: ValidityOptions

    @Option(name: [.customShort("o"), .long], help: "Output certificate (PEM).")
    var output: String

    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let old = try Certificate.load(contentsOf: certificate)[0]
        var newKey: PublicKey?
        if let request {
            let parsed = try CertificateRequest(
                encoded: try FileSystem.read(request, limit: CertificateRequest.maximumSize), source: request)
            newKey = try parsed.publicKey
        }
        let trustRole = try role.map { text throws(OTAError) -> TrustRole in
            guard let parsed = TrustRole(rawValue: text) else {
                throw OTAError(.usageRole, "--role: release, approval, repository, compliance or vehicle")
            }
            return parsed
        }
        let now = Date()
        let renewed = try ca.issuer().renew(
            old, newKey: newKey, role: trustRole, signerID: signerID, notBefore: now,
            notAfter: now.addingTimeInterval(Double(validity.days) * 86400))
        try AtomicFileWriter.write(Array(renewed.pem.utf8), to: output, mode: 0o644)
        Output.succeed(
            KeysCertificateReport(renewed, path: output),
            human: "renewed \(renewed.subject) (serial \(renewed.serialNumber)) to \(output)", json: outputOptions.json)
    }
}
