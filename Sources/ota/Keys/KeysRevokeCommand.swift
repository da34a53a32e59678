import ArgumentParser
import Foundation
import OTACore

/// `ota keys revoke`: the CA's next CRL, with the revoked certificates and the reason.
struct KeysRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke certificates: a new CRL (previous entries kept, number + 1) with the reason.",
        discussion: """
            Vehicles receive the CRL on its own (ota trust apply, the agent's refresh) or in a trust update.
            Example: ota keys revoke signer-3.crt --reason keyCompromise --crl signing-ca.crl --ca-key signing-ca.key --ca-cert signing-ca.crt -o signing-ca-2.crl
            """
    )

    @Argument(help: "Certificates to revoke (issued by the CA).")
    var certificates: [String] = []

    @Option(help: "Serial number (hex) of a certificate to revoke whose file is lost (repeatable).")
    var serial: [String] = []

    @Option(
        help:
            "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn."
    )
    var reason: String

    @Option(help: "The CA's current CRL; its entries are kept and the number continues.")
    var crl: String?

    @Option(
        name: .customLong("next-update-days"), help: "Days until the CRL's next update (vehicles refresh before then).")
    var nextUpdateDays: Int = 30

    @OptionGroup var ca: CAOptions

    @Option(name: [.customShort("o"), .long], help: "Output CRL (PEM).")
    var output: String

    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        if certificates.isEmpty && serial.isEmpty {
            throw ValidationError("name the certificates to revoke (files or --serial)")
        }
        guard (1...3660).contains(nextUpdateDays) else { throw ValidationError("--next-update-days must be 1...3660") }
    }

    struct Report: Encodable {
        var crl: String
        var issuer: String
        var number: String
        var revoked: [String]
        var reason: String
        var nextUpdate: String
        var entries: Int
    }

    func run() throws {
        guard let why = Revocation.Reason(rawValue: reason) else {
            throw OTAError(
                .usageInvalid, "--reason: one of \(Revocation.Reason.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let issuer = try ca.issuer()
        let now = Date()
        var entries: [Revocation] = []
        for path in certificates {
            let certificate = try Certificate.load(contentsOf: path)[0]
            guard certificate.isIssued(by: issuer.certificate!) else {
                throw OTAError(
                    .certificateProfile,
                    "\(path): \(certificate.subject) was not issued by \(issuer.certificate!.subject); its CA revokes it"
                )
            }
            entries.append(Revocation(serial: certificate.serialBytes, date: now, reason: why))
        }
        for text in serial {
            // A number: leading zeros do not count towards RFC 5280's 20 octets.
            let written = text.lowercased().hasPrefix("0x") ? text.dropFirst(2) : Substring(text)
            let digits = String(written.drop { $0 == "0" })
            guard !digits.isEmpty, digits.count <= 40,
                let bytes = Hex.decode(digits.count % 2 == 0 ? digits : "0" + digits),
                bytes.contains(where: { $0 != 0 })
            else {
                throw OTAError(.usageInvalid, "--serial: '\(text)' is not a positive hex serial of at most 20 bytes")
            }
            entries.append(Revocation(serial: bytes, date: now, reason: why))
        }
        let previous = try crl.map { path throws(OTAError) -> CertificateRevocationList in
            let lists = try CertificateRevocationList.load(contentsOf: path)
            guard lists.count == 1 else {
                throw OTAError(.crlMalformed, "\(path): expected one CRL, found \(lists.count)")
            }
            return lists[0]
        }
        let list = try issuer.revoke(
            entries, previous: previous, thisUpdate: now,
            nextUpdate: now.addingTimeInterval(Double(nextUpdateDays) * 86400))
        try AtomicFileWriter.write(Array(list.pem.utf8), to: output, mode: 0o644)
        let report = Report(
            crl: output, issuer: list.issuer, number: Hex.encode(list.number ?? []), revoked: entries.map(\.serialHex),
            reason: why.rawValue,
            nextUpdate: Timestamp.format(list.nextUpdate ?? now), entries: try list.entries.count)
        Output.succeed(
            report,
            human:
                "CRL \(report.number) of \(list.issuer): \(report.entries) revoked (\(why.rawValue)), written to \(output)",
            json: outputOptions.json)
    }
}
