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
            discussion: """
                Memory: about 5 bytes per byte of OLD (up to 1 GiB windows) plus both images.
                Runs ota-diff (beside this ota, or on PATH) in this process's place once the options are checked.
                """)

        @Argument(help: "The image the vehicle has (the source).") var old: String
        @Argument(help: "The image to deliver.") var new: String
        @Option(name: .shortAndLong, help: "Where to write the patch (atomically).") var output: String
        @Option(help: "Hash recorded for both images: intl (SHA-256) or gm (SM3).") var suite = "intl"
        @Option(
            help:
                "Largest LZMA2 dictionary of the inserted bytes: a power of two from 1MiB to 256MiB (default 16MiB; 8MiB for an image without the executable transform); the vehicle's decoder needs about this plus a quarter plus 3 MiB."
        )
        var dictionarySize: String?
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
        @Flag(
            inversion: .prefixedNo,
            help:
                "Write inserted code's branch and address fields absolute by their offset in NEW (body coding 3 for AArch64, 4 for x86-64; on by default, used for an ELF NEW when a trial on its first inserted MiB says it pays)."
        )
        var filterInserts = true
        @Flag(
            inversion: .prefixedNo,
            help:
                "With the filter on x86-64 code, move the inserted call, jump and RIP-relative operands to a stream of their own, by kind (body coding 5; on by default, used when the same trial says it is smaller; --no-split-operands writes coding 4 for decoders from before it)."
        )
        var splitOperands = true
        @Flag(
            inversion: .prefixedNo,
            help:
                "Keep inserted AArch64 code word-aligned in the inserted bytes' stream with zero padding, and try LZMA2 lc 2 / lp 2 / pb 2 for it (body coding bit 0x20; on by default, used when the inserts trial says it is smaller; --no-align-inserts for decoders from before it)."
        )
        var alignInserts = true
        @Flag(
            inversion: .prefixedNo,
            help:
                "Start the inserted bytes' LZMA2 dictionary with bytes of OLD, so new code finds matches in the old code that no copy pays for (body coding bit 0x10). By default only for an executable update that inserts at least half of NEW (2.5-8.5% smaller patches on Rust updates many releases apart, for more diff time and memory); --prime-inserts always (also 0.04-3.2% smaller on updates that are mostly copied, for up to seconds more), --no-prime-inserts never (decoders from before the bit refuse a primed patch)."
        )
        var primeInserts: Bool?
        @Flag(
            inversion: .prefixedNo,
            help:
                "Compress the inserted bytes in two halves at once when 2 MiB or more are inserted, the executable transform's matching is used and the inserts are not primed (off by default: 0.70-0.99x the diff time on Rust updates that are mostly new code, for patches up to 1% larger and up to ~90 MiB more diff memory; the same patch format)."
        )
        var parallelInserts = false
        @Flag(
            inversion: .prefixedNo,
            help:
                "Carry the zlib and gzip streams NEW holds that changed as a delta of their decompressed bytes and deflate choices, and write their bits back exactly on the vehicle (body coding bit 0x80; on by default, used when smaller; --no-recompress-streams for decoders from before it)."
        )
        var recompressStreams = true
        @OptionGroup var outputOptions: OutputOptions
        @OptionGroup var progressOptions: ProgressOptions

        /// Checks the options as `ota` always has (so a bad one reads as before), then runs
        /// `ota-diff` in this process's place with them (exec): the diff's peak memory is then
        /// the encoder's, without Foundation and the rest of `ota` loaded. `ota-diff` prints the
        /// same result, JSON, progress and errors, and exits with the same statuses.
        func run() throws {
            var options = DeltaOptions()
            options.hashAlgorithm = try Suite.parse(suite, field: "--suite").hash
            if let dictionarySize { try options.setDictionarySize(dictionarySize) }
            guard xzPreset <= 9 else { throw OTAError(.usageInvalid, "--xz-preset must be 0...9") }
            try SiblingExecutable.diff.exec(diffArguments)
        }

        /// This command line as `ota-diff`'s: every option spelled out, the operands after `--`.
        var diffArguments: [String] {
            [
                "--suite", suite, "--xz-preset", String(xzPreset),
                extreme ? "--extreme" : "--no-extreme",
                execTransform ? "--exec-transform" : "--no-exec-transform",
                aarch64Pairs ? "--aarch64-pairs" : "--no-aarch64-pairs",
                filterInserts ? "--filter-inserts" : "--no-filter-inserts",
                splitOperands ? "--split-operands" : "--no-split-operands",
                alignInserts ? "--align-inserts" : "--no-align-inserts",
                parallelInserts ? "--parallel-inserts" : "--no-parallel-inserts",
                recompressStreams ? "--recompress-streams" : "--no-recompress-streams",
                "--progress", progressOptions.progress.rawValue,
            ] + (dictionarySize.map { ["--dictionary-size", $0] } ?? [])
                + (primeInserts.map { $0 ? ["--prime-inserts"] : ["--no-prime-inserts"] } ?? [])
                + (outputOptions.json ? ["--json"] : []) + ["-o", output, "--", old, new]
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
