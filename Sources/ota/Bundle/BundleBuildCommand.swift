import ArgumentParser
import Foundation
import OTABuilder
import OTACore

struct BundleBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a signed bundle from a manifest and its images; encrypted when recipients are given."
    )

    @Argument(help: "Manifest (YAML or JSON).")
    var manifest: String

    @Option(help: "Directory holding the image files the manifest names.")
    var images: String

    @OptionGroup var signer: SignerOptions

    @Option(
        name: .customLong("recipient"), help: "Recipient certificate (repeatable); the bundle is encrypted to each.")
    var recipients: [String] = []

    @Option(name: [.customShort("o"), .long], help: "Output bundle file.")
    var output: String

    @Option(help: "xz preset 0-9.")
    var xzPreset: UInt32 = 6

    @Option(help: "Compression threads (default: one per core).")
    var threads: Int?

    @Option(help: "Build in this suite (intl or gm) instead of the manifest's bundle.suite.")
    var suite: String?

    @Option(
        name: .customLong("trust-update"),
        help: "A signed trust update (ota trust update) to carry; vehicles apply it before they check the signers.")
    var trustUpdate: String?

    @Flag(
        name: .customLong("prime-delta-inserts"), inversion: .prefixedNo,
        help:
            "Delta images: start the inserted bytes' dictionary with old bytes always (--prime-delta-inserts) or never (--no-prime-delta-inserts); by default only for executable updates that are mostly new code (as ota delta create's --prime-inserts)."
    )
    var primeDeltaInserts: Bool?

    @Flag(
        name: .customLong("parallel-delta-inserts"),
        help:
            "Delta images: compress 2 MiB or more of inserted bytes in two halves at once (as ota delta create --parallel-inserts: faster, slightly larger, more memory)."
    )
    var parallelDeltaInserts = false

    @Flag(
        name: .customLong("split-delta-operands"), inversion: .prefixedNo,
        help:
            "Delta images of x86-64 code: inserted operands in a stream of their own when a trial says it is smaller (as ota delta create --split-operands, body coding 5; on by default; --no-split-delta-operands for vehicles whose decoder predates it)."
    )
    var splitDeltaOperands = true

    @Flag(
        name: .customLong("align-delta-inserts"), inversion: .prefixedNo,
        help:
            "Delta images of AArch64 code: inserted bytes kept word-aligned when a trial says it is smaller (as ota delta create --align-inserts, body coding bit 0x20; on by default; --no-align-delta-inserts for vehicles whose decoder predates it)."
    )
    var alignDeltaInserts = true

    @Flag(
        name: .customLong("recompress-delta-streams"), inversion: .prefixedNo,
        help:
            "Delta images: the zlib and gzip streams that changed travel as a delta of their decompressed bytes and are written back bit for bit on the vehicle (as ota delta create --recompress-streams, body coding bit 0x80; on by default, used when smaller; --no-recompress-delta-streams for vehicles whose decoder predates it)."
    )
    var recompressDeltaStreams = true

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let identity = try signer.load()
        var recipientCertificates: [Certificate] = []
        for path in recipients { recipientCertificates.append(try Certificate.load(contentsOf: path)[0]) }
        let chosenSuite = try suite.map { name throws(OTAError) in try Suite.parse(name, field: "--suite") }
        var request = BundleBuilder.Request(
            manifestPath: manifest, imagesDirectory: images, signer: identity, recipients: recipientCertificates,
            outputPath: output,
            xzPreset: xzPreset, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, suite: chosenSuite)
        request.primeDeltaInserts = primeDeltaInserts
        request.parallelDeltaInserts = parallelDeltaInserts
        request.splitDeltaOperands = splitDeltaOperands
        request.alignDeltaInserts = alignDeltaInserts
        request.recompressDeltaStreams = recompressDeltaStreams
        request.trustUpdate = try trustUpdate.map { path throws(OTAError) in
            try FileSystem.read(path, limit: TrustUpdate.maximumSize)
        }
        let progress = progressOptions.display(json: outputOptions.json)
        let report = try BundleBuilder.build(request, progress: progress.update)
        progress.finish()
        for warning in report.warnings where !outputOptions.json {
            FileHandle.standardError.write(Data("ota: warning: \(warning)\n".utf8))
        }
        var human =
            "built \(report.bundle): \(report.bundleID) (\(report.suite), \(report.encrypted ? "encrypted to \(report.recipients) recipient(s)" : "not encrypted")), \(report.bytes) bytes\n"
        human += "  manifest digest \(report.manifestDigest)\n"
        if let update = report.trustUpdate { human += "  carries trust update version \(update.version)\n" }
        for image in report.images {
            let content = image.kind == "delta" ? "delta, \(image.plainSize)-byte patch" : "full"
            human += "  \(image.name): \(image.imageSize)-byte image (\(content)) → \(image.storedSize) bytes stored\n"
        }
        Output.succeed(report, human: human.trimmingCharacters(in: .newlines), json: outputOptions.json)
    }
}

struct BundleSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Co-sign a bundle in place (two-person rule); payload bytes are checked and kept."
    )

    @Argument(help: "Bundle to co-sign; replaced atomically.")
    var bundle: String

    @OptionGroup var signer: SignerOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let report = try BundleRewriter.cosign(path: bundle, signer: try signer.load())
        Output.succeed(report, human: "co-signed \(bundle): \(report.signatures) signature(s)", json: output.json)
    }
}

struct BundleRewrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewrap",
        abstract: "Add recipients to an encrypted bundle without re-signing or re-encrypting."
    )

    @Argument(help: "Encrypted bundle; replaced atomically.")
    var bundle: String

    @Option(name: .long, help: "Private key of an existing recipient (recovers the content key).")
    var key: String

    @Option(name: .customLong("passphrase-file"), help: "File holding the key's passphrase.")
    var passphraseFile: String?

    @Option(name: .customLong("passphrase-env"), help: "Environment variable holding the key's passphrase.")
    var passphraseEnvironment: String?

    @Option(name: .customLong("recipient"), help: "New recipient certificate (repeatable).")
    var recipients: [String]

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if recipients.isEmpty { throw ValidationError("give at least one --recipient") }
        if passphraseFile != nil && passphraseEnvironment != nil {
            throw ValidationError("give the passphrase once: --passphrase-file or --passphrase-env")
        }
    }

    func run() throws {
        let passphrase: PassphraseSource? =
            passphraseFile.map { .file($0) } ?? passphraseEnvironment.map { .environment($0) }
        let key = try PrivateKey(contentsOf: key, passphrase: passphrase)
        var certificates: [Certificate] = []
        for path in recipients { certificates.append(try Certificate.load(contentsOf: path)[0]) }
        let report = try BundleRewriter.addRecipients(path: bundle, key: key, recipients: certificates)
        Output.succeed(report, human: "re-wrapped \(bundle): \(report.recipients) recipient(s)", json: output.json)
    }
}
