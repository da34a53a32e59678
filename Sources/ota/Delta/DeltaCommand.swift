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
        @Option(
            help:
                "LZMA2 dictionary of the inserted bytes: a power of two from 1MiB to 256MiB (e.g. 8MiB); the vehicle's decoder needs about this plus 3 MiB."
        )
        var dictionarySize: String = "8MiB"
        @Option(help: "xz preset 0...9 for the patch body.") var xzPreset: UInt32 = 9
        @Flag(inversion: .prefixedNo, help: "xz extreme mode (slower; measured no smaller on our corpus).")
        var extreme = false
        @Flag(
            inversion: .prefixedNo,
            help:
                "Predict branch, call and address references of x86-64/AArch64 ELF code (patch format 3; on by default, used only where ELF code is found)."
        )
        var execTransform = true
        @Flag(
            inversion: .prefixedNo,
            help:
                "With the transform on AArch64 code, also predict ADRP pages and the low 12 bits of the ADD/LDR/STR that use them (patch format 4; --no-aarch64-pairs writes format 3 for older decoders)."
        )
        var aarch64Pairs = true
        @OptionGroup var outputOptions: OutputOptions
        @OptionGroup var progressOptions: ProgressOptions

        func run() throws {
            var options = DeltaOptions()
            options.hashAlgorithm = try Suite.parse(suite, field: "--suite").hash
            try options.setDictionarySize(dictionarySize)
            guard xzPreset <= 9 else { throw OTAError(.usageInvalid, "--xz-preset must be 0...9") }
            options.preset = xzPreset
            options.extreme = extreme
            options.referenceTransform = execTransform
            options.pairAArch64References = aarch64Pairs
            let progress = progressOptions.display(json: outputOptions.json)
            // Both phases report the fraction of the new image matched so far.
            let total = progress.isSilent ? 0 : UInt64(try InputFile(path: new).size())
            FreedMemory.returnPromptly()
            let report = try Delta.createPatch(
                old: old, new: new, output: output, options: options,
                progress: { progress.update(phase: $0, fraction: $1, of: total) })
            progress.finish()
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
        @OptionGroup var progressOptions: ProgressOptions

        func run() throws {
            let progress = progressOptions.display(json: outputOptions.json)
            // Apply reports the fraction of the patch read.
            let total = progress.isSilent ? 0 : UInt64(try InputFile(path: patch).size())
            let report = try Delta.applyPatch(
                old: old, patch: patch, output: output,
                progress: { progress.update(phase: $0, fraction: $1, of: total) })
            progress.finish()
            let seconds = String(format: "%.2f", report.seconds)
            Output.succeed(
                report, human: "\(output): \(report.newSize) bytes, \(report.newHash), in \(seconds) s",
                json: outputOptions.json)
        }
    }
}
