import ArgumentParser
import Foundation
import OTACore
import OTADelta

#if canImport(Glibc)
    import Glibc
#endif

/// `ota delta ...`: make and apply delta patches between two images.
struct DeltaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delta",
        abstract: "Make and apply delta patches between images.",
        subcommands: [Create.self, Apply.self]
    )

    /// `ota delta create OLD NEW -o PATCH`
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a patch that turns OLD into NEW.",
            discussion: "Memory: about 5 bytes per byte of OLD (up to 1 GiB windows) plus both images.")

        @Argument(help: "The image the vehicle has (the source).") var old: String
        @Argument(help: "The image to deliver.") var new: String
        @Option(name: .shortAndLong, help: "Where to write the patch (atomically).") var output: String
        @Option(help: "Hash recorded for both images: intl (SHA-256) or gm (SM3).") var suite = "intl"
        @Option(help: "LZMA2 dictionary of the inserted bytes in MiB (a power of two, 1...256); the vehicle's decoder needs about this plus 3 MiB.")
        var dictionaryMiB: UInt32 = 8
        @Option(help: "xz preset 0...9 for the patch body.") var xzPreset: UInt32 = 9
        @Flag(inversion: .prefixedNo, help: "xz extreme mode (slower; measured no smaller on our corpus).")
        var extreme = false
        @Flag(
            inversion: .prefixedNo,
            help: "Predict branch, call and address references of x86-64/AArch64 ELF code (patch format 3; on by default, used only where ELF code is found).")
        var execTransform = true
        @OptionGroup var outputOptions: OutputOptions

        func run() throws {
            var options = DeltaOptions()
            options.hashAlgorithm = try Suite.parse(suite, field: "--suite").hash
            guard (1...256).contains(dictionaryMiB), dictionaryMiB.nonzeroBitCount == 1 else {
                throw OTAError(.usageInvalid, "--dictionary-mib must be a power of two, 1...256 (got \(dictionaryMiB))")
            }
            options.dictionarySize = dictionaryMiB << 20
            guard xzPreset <= 9 else { throw OTAError(.usageInvalid, "--xz-preset must be 0...9") }
            options.preset = xzPreset
            options.extreme = extreme
            options.referenceTransform = execTransform
            let progress = ProgressLine(enabled: !outputOptions.json)
            let report = try Delta.createPatch(
                old: old, new: new, output: output, options: options, progress: progress.update)
            progress.clear()
            let ratio = report.newSize > 0 ? Double(report.patchSize) / Double(report.newSize) * 100 : 0
            let percent = String(format: "%.2f", ratio)
            let seconds = String(format: "%.2f", report.seconds)
            Output.succeed(
                report,
                human: "\(output): \(report.patchSize) bytes (\(percent)% of \(report.newSize)) in \(seconds) s",
                json: outputOptions.json)
        }
    }

    /// `ota delta apply OLD PATCH -o NEW`
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild NEW from OLD and a patch, streaming with flat memory.",
            discussion:
                "OLD's hash is checked before anything is written and NEW's at the end; on failure no output is left.")

        @Argument(help: "The source image (a file or block device).") var old: String
        @Argument(help: "The patch.") var patch: String
        @Option(name: .shortAndLong, help: "Where to write the new image (atomically).") var output: String
        @OptionGroup var outputOptions: OutputOptions

        func run() throws {
            let progress = ProgressLine(enabled: !outputOptions.json)
            let report = try Delta.applyPatch(old: old, patch: patch, output: output, progress: progress.update)
            progress.clear()
            let seconds = String(format: "%.2f", report.seconds)
            Output.succeed(
                report, human: "\(output): \(report.newSize) bytes, \(report.newHash), in \(seconds) s",
                json: outputOptions.json)
        }
    }
}

/// A one-line progress display on standard error, shown only when it is a terminal.
final class ProgressLine {
    private let enabled: Bool
    private var lastShown = ContinuousClock.now - .seconds(1)

    init(enabled: Bool) { self.enabled = enabled && isatty(2) == 1 }

    func update(_ phase: String, _ fraction: Double) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastShown >= .milliseconds(100) else { return }
        lastShown = now
        let percent = Int((min(max(fraction, 0), 1) * 100).rounded())
        FileHandle.standardError.write(Data("\r\u{1b}[K\(phase) \(percent)%".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1b}[K".utf8))
    }
}
