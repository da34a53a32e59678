import ArgumentParser
import Foundation
import OTACore

/// `ota keys issue`: a CA signs a certificate request for a role.
struct KeysIssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue a certificate for a request: the role's marker, a signer id, a validity inside the CA's.",
        discussion: """
            The request must be signed by its key; the key must fit the CA's suite and the role (vehicle: P-256 or SM2).
            Example: ota keys issue device-2.csr --role vehicle --signer-id LSVAU2180N2183294 --ca-key vehicle/root-ca.key --ca-cert vehicle/root-ca.crt -o device-2.crt
            """
    )

    @Argument(help: "The certificate request (PEM or DER).")
    var request: String

    @Option(help: "release, approval, repository, compliance or vehicle.")
    var role: String

    @Option(
        name: .customLong("signer-id"),
        help:
            "The person, service or vehicle the certificate is for; signatures under one signer id count once. Required for --role vehicle: the VIN (17 characters)."
    )
    var signerID: String?

    @OptionGroup var ca: CAOptions
    @OptionGroup var validity: ValidityOptions

    @Option(name: [.customShort("o"), .long], help: "Output certificate (PEM).")
    var output: String

    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        guard let trustRole = TrustRole(rawValue: role) else {
            throw OTAError(.usageRole, "--role: release, approval, repository, compliance or vehicle")
        }
        if trustRole == .vehicle { try CertificateIssuer.checkVehicleSignerID(signerID, what: "--signer-id") }
        let parsed = try CertificateRequest(
            encoded: try FileSystem.read(request, limit: CertificateRequest.maximumSize), source: request)
        let now = Date()
        let certificate = try ca.issuer().issue(
            request: parsed, role: trustRole, signerID: signerID, notBefore: now,
            notAfter: now.addingTimeInterval(Double(validity.days) * 86400))
        try AtomicFileWriter.write(Array(certificate.pem.utf8), to: output, mode: 0o644)
        Output.succeed(
            KeysCertificateReport(certificate, path: output),
            human: "issued \(certificate.subject) (serial \(certificate.serialNumber), \(role)) to \(output)",
            json: outputOptions.json)
    }
}

/// What `ota keys issue|renew` report.
struct KeysCertificateReport: Encodable {
    var certificate: String
    var subject: String
    var issuer: String
    var serial: String
    var notBefore: String
    var notAfter: String
    var roles: [String]
    var signerId: String?

    init(_ certificate: Certificate, path: String) {
        self.certificate = path
        subject = certificate.subject
        issuer = certificate.issuer
        serial = certificate.serialNumber
        notBefore = Timestamp.format(certificate.notBefore)
        notAfter = Timestamp.format(certificate.notAfter)
        roles = certificate.extendedKeyUsages.compactMap(ProjectOID.role(marked:)).map(\.rawValue)
        signerId = try? certificate.signerID
    }
}
