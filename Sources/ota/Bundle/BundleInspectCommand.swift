import ArgumentParser
import Foundation
import OTACore

struct BundleInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a bundle's manifest, signers, recipients and images (nothing is verified)."
    )

    @Argument(help: "Bundle file.")
    var bundle: String

    @OptionGroup var output: OutputOptions

    struct Signer: Encodable {
        let algorithm: String
        let subject: String?
        let issuer: String?
        let notBefore: Date?
        let notAfter: Date?
    }

    struct Report: Encodable {
        let bundle: String
        let verified = false
        let manifestDigest: String
        let manifest: Manifest
        let signers: [Signer]
        let recipients: [Recipients.Entry]
    }

    func run() throws {
        let head = try BundleReader(path: bundle).readHead()
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        let digest = try Hasher.hash(manifest.bundle.suite.hash, head.manifestBytes)
        let signers = head.envelope.signatures.map { signature -> Signer in
            let leaf = signature.certificates.first.flatMap { Data(base64Encoded: $0) }.flatMap {
                try? Certificate(der: Array($0))
            }
            return Signer(
                algorithm: signature.algorithm, subject: leaf?.subject, issuer: leaf?.issuer,
                notBefore: leaf?.notBefore, notAfter: leaf?.notAfter)
        }
        let report = Report(
            bundle: bundle, manifestDigest: digest.hex, manifest: manifest, signers: signers,
            recipients: head.recipients.recipients)
        Output.succeed(report, human: describe(report), json: output.json)
    }

    func describe(_ report: Report) -> String {
        let m = report.manifest
        var lines = [
            "\(bundle) (NOT verified: use `ota bundle verify`)",
            "bundle \(m.bundle.id), campaign \(m.bundle.campaign), suite \(m.bundle.suite.rawValue)",
            "created \(Timestamp.format(m.bundle.created)), expires \(Timestamp.format(m.bundle.expires))",
            "manifest digest \(report.manifestDigest)",
            "targets: models \(m.targets.models.joined(separator: ", "))"
                + (m.targets.vins.map { ", \($0.count) VIN(s)" } ?? ""),
            "encryption: \(m.encryption.map { "\($0.algorithm.rawValue), \($0.chunkSize)-byte chunks" } ?? "none")",
            "trust update: \(m.trustUpdate.map { "version \($0.version), digest \($0.digest)" } ?? "none")",
            "signers:",
        ]
        for signer in report.signers {
            lines.append(
                "  \(signer.subject ?? "(unreadable certificate)") [\(signer.algorithm)] valid \(signer.notBefore.map(Timestamp.format) ?? "?") to \(signer.notAfter.map(Timestamp.format) ?? "?")"
            )
        }
        lines.append("recipients: \(report.recipients.isEmpty ? "none" : "")")
        for recipient in report.recipients {
            lines.append("  \(recipient.subject ?? recipient.keyId) [\(recipient.scheme.rawValue)]")
        }
        lines.append("images:")
        for image in m.images {
            lines.append(
                "  \(image.name): ECU \(image.ecu), \(image.kind.rawValue) \(image.version) (security version \(image.securityVersion)), slot group \(image.slotGroup)"
            )
            lines.append(
                "    \(image.target.size) bytes → \(image.payload.storedSize) stored (\(image.payload.compression.rawValue), \(image.payload.chunkHashes.count) chunks), categories \(image.categories.map(\.rawValue).joined(separator: ", "))"
            )
        }
        if let notice = m.notice["en"] {
            lines.append("notice (en): \(notice.purpose) — about \(notice.expectedDurationMinutes) min")
        }
        return lines.joined(separator: "\n")
    }
}
