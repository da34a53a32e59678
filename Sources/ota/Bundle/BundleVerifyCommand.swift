import ArgumentParser
import Foundation
import OTACore

struct BundleVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify signatures, chains, threshold and every byte of a bundle (no vehicle policy).",
        discussion:
            "Every stored payload byte is checked against its signed chunk hash. --deep also decrypts and decompresses each payload and checks the image hash."
    )

    @Argument(help: "Bundle file.")
    var bundle: String

    @OptionGroup var trust: TrustOptions

    @Flag(help: "Also decrypt and decompress every payload and check the image hashes.")
    var deep = false

    @Option(
        name: .customLong("decryption-key"),
        help: "A recipient's private key, for --deep on an encrypted bundle (repeatable).")
    var decryptionKeys: [String] = []

    @Option(help: "An approval file to check against this bundle (needs --model).")
    var approval: String?

    @Option(help: "Vehicle model the approval must cover.")
    var model: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if (approval == nil) != (model == nil) { throw ValidationError("--approval and --model go together") }
    }

    func run() throws {
        var keys: [PrivateKey] = []
        for path in decryptionKeys { keys.append(try PrivateKey(contentsOf: path)) }
        var approvalInput: (bytes: [UInt8], model: String)? = nil
        if let approval, let model {
            approvalInput = (try FileSystem.read(approval, limit: SignedApproval.maximumSize), model)
        }
        let progress = progressOptions.display(json: output.json)
        let policy = try trust.policy()
        let report = try namingInput(approval, families: approvalInputFamilies) { () throws(OTAError) in
            try BundleVerification.verify(
                path: bundle, policy: policy, decryptionKeys: keys, deep: deep, approval: approvalInput,
                progress: progress.update)
        }
        progress.finish()
        var human = "\(bundle): OK — \(report.bundleID) (\(report.suite)), manifest digest \(report.manifestDigest)\n"
        for signer in report.signers {
            human +=
                signer.isTrusted
                ? "  signed by \(signer.subject ?? "?") (\(signer.algorithm))\n"
                : "  ignored signature \(signer.index): \(signer.failureMessage ?? "")\n"
        }
        let trusted = EnvelopeVerifier.distinctSignatories(report.signers, suite: Suite(rawValue: report.suite)).count
        human += "  \(trusted) distinct trusted signer(s), threshold \(report.threshold)\n"
        if let update = report.trustUpdate {
            human +=
                "  carries trust update version \(update.toVersion), signed by the roots of the given trust store (\(update.anchorsAdded.count) anchor(s) added, \(update.anchorsRetired.count) retired, \(update.crlsApplied.count) CRL(s)); the signers were checked with it applied\n"
        }
        for image in report.images {
            human +=
                "  \(image.name): \(image.storedSize) bytes in \(image.chunks) chunk(s) verified\(image.contentChecked ? ", content hash verified" : "")\n"
        }
        if !report.contentChecked {
            human += "  (payload content not decompressed; every stored byte was checked against its signed hash)\n"
        }
        if let approval = report.approval {
            human +=
                "  approval \(approval.approvalId) valid for this bundle and \(model ?? "") until \(Timestamp.format(approval.validUntil))\n"
        }
        Output.succeed(report, human: human.trimmingCharacters(in: .newlines), json: output.json)
    }
}
