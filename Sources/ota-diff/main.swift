// `ota-diff OLD NEW -o PATCH`: the builder-side patch maker. `ota delta create` runs it in its own
// place (exec, with `argv[0]` "ota"), so this is `ota delta create`: the same encoder, options,
// output (human or `--json`), progress, error codes and exit statuses (docs/DESIGN.md exit codes:
// 0 ok, 1 usage or I/O, 2 rejected), in an executable that links OTABase and OTADelta only: no
// Foundation, libcurl or server stack, so a diff's memory is the encoder's, not the start-up's.
internal import OTABase
internal import OTADelta

let usage = """
    usage: ota-diff OLD NEW -o PATCH [options]
      Makes a patch that turns OLD into NEW (as `ota delta create`), written atomically.
      --suite intl|gm            hash recorded for both images: SHA-256 (intl, default) or SM3 (gm)
      --dictionary-size SIZE     largest LZMA2 dictionary of the inserted bytes: a power of two
                                 from 1MiB to 256MiB (default 16MiB; 8MiB without the
                                 executable transform); the vehicle's decoder needs about this
      --xz-preset N              xz preset 0...9 for the patch body (default 9)
      --[no-]extreme             xz extreme mode (default off)
      --[no-]exec-transform      predict x86-64/AArch64 ELF references (format 3; default on)
      --[no-]aarch64-pairs       pair AArch64 ADRPs with their uses (format 4; default on)
      --[no-]filter-inserts      inserted code's branch targets made absolute (body coding
                                 3/4; default on, for an ELF new image when a trial says so)
      --[no-]split-operands      inserted x86-64 operands in a stream of their own (body
                                 coding 5; default on, when the same trial says so)
      --[no-]align-inserts       inserted AArch64 code kept word-aligned in its stream (body
                                 coding bit 0x20; default on, when the same trial says so)
      --[no-]prime-inserts       start the inserted bytes' dictionary with old bytes (body
                                 coding bit 0x10) always / never; default: only when an
                                 executable update inserts half of NEW or more
      --[no-]recompress-streams  carry changed zlib/gzip streams in NEW as a delta of their
                                 decompressed form, rebuilt bit for bit (body coding bit
                                 0x80; default on, when smaller)
      --[no-]parallel-inserts    compress 2 MiB or more of inserted bytes in two halves at
                                 once (default off: faster, slightly larger, more memory)
      --json                     print the result (or the error) as JSON on standard output
      --progress auto|bar|json|none
                                 progress on standard error: auto (a bar on a terminal, unless
                                 --json), bar, json (one object per line), none
      Exit status: 0 ok, 1 usage or I/O error, 2 rejected.
    """

/// The arguments: two operands, `-o`/`--output` and the options, in any order.
struct Arguments {
    var old: String
    var new: String
    var output: String
    var options = DeltaOptions()
    var json = false
    var progress = ProgressDisplay.Style.auto

    init(_ arguments: ArraySlice<String>) throws(OTAError) {
        var operands: [String] = []
        var output: String?
        var rest = arguments
        /// The value of `name`: the next argument, or what follows `name=`.
        func value(_ name: String, inline: String?) throws(OTAError) -> String {
            if let inline { return inline }
            guard let next = rest.popFirst() else { throw OTAError(.usageInvalid, "\(name) needs a value") }
            return next
        }
        while let argument = rest.popFirst() {
            if argument == "--" {
                operands += rest
                break
            }
            guard argument.hasPrefix("-") && argument != "-" else {
                operands.append(argument)
                continue
            }
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let inline = parts.count > 1 ? String(parts[1]) : nil
            /// Refuses `--flag=value`: the flags take none.
            func flag() throws(OTAError) {
                if inline != nil { throw OTAError(.usageInvalid, "\(name) takes no value") }
            }
            switch name {
            case "-o", "--output":
                guard output == nil else { throw OTAError(.usageInvalid, "the output is given twice") }
                output = try value(name, inline: inline)
            case "--suite":
                let suite = try value(name, inline: inline)
                switch suite {
                case "intl": options.hashAlgorithm = .sha256
                case "gm": options.hashAlgorithm = .sm3
                default:
                    throw OTAError(.suiteUnknown, "--suite: unknown suite '\(suite)' (expected intl or gm)")
                }
            case "--dictionary-size":
                try options.setDictionarySize(try value(name, inline: inline))
            case "--xz-preset":
                guard let preset = UInt32(try value(name, inline: inline)), preset <= 9 else {
                    throw OTAError(.usageInvalid, "--xz-preset must be 0...9")
                }
                options.preset = preset
            case "--extreme", "--no-extreme":
                try flag()
                options.extreme = name == "--extreme"
            case "--exec-transform", "--no-exec-transform":
                try flag()
                options.referenceTransform = name == "--exec-transform"
            case "--aarch64-pairs", "--no-aarch64-pairs":
                try flag()
                options.pairAArch64References = name == "--aarch64-pairs"
            case "--filter-inserts", "--no-filter-inserts":
                try flag()
                options.filterInserts = name == "--filter-inserts"
            case "--align-inserts", "--no-align-inserts":
                try flag()
                options.alignInserts = name == "--align-inserts"
            case "--split-operands", "--no-split-operands":
                try flag()
                options.splitOperands = name == "--split-operands"
            case "--prime-inserts", "--no-prime-inserts":
                try flag()
                options.insertsPriming = name == "--prime-inserts" ? .always : .never
            case "--recompress-streams", "--no-recompress-streams":
                try flag()
                options.recompressStreams = name == "--recompress-streams"
            case "--parallel-inserts", "--no-parallel-inserts":
                try flag()
                options.parallelInserts = name == "--parallel-inserts"
            case "--json":
                try flag()
                json = true
            case "--progress":
                let style = try value(name, inline: inline)
                guard let parsed = ProgressDisplay.Style(rawValue: style) else {
                    throw OTAError(.usageInvalid, "--progress must be auto, bar, json or none (got \(style))")
                }
                progress = parsed
            default:
                throw OTAError(.usageInvalid, "unknown option \(argument)")
            }
        }
        guard operands.count == 2, let output, !output.isEmpty else {
            throw OTAError(.usageInvalid, "expected OLD NEW -o PATCH")
        }
        (old, new, self.output) = (operands[0], operands[1], output)
    }
}

AllocatorSettings.returnFreedMemoryPromptly()
LeanCommandLine.run(LeanCommandLine.invokedName, usage: usage, json: true) { (words) throws(OTAError) in
    let arguments = try Arguments(words)
    let progress = ProgressDisplay(style: arguments.progress, json: arguments.json)
    // Both phases report the fraction of the new image matched so far.
    let total = progress.isSilent ? 0 : UInt64(try InputFile(path: arguments.new).size())
    let report = try Delta.createPatch(
        old: arguments.old, new: arguments.new, output: arguments.output, options: arguments.options,
        progress: progress.isSilent ? nil : { progress.update(phase: $0, fraction: $1, of: total) })
    progress.finish()
    let percent = report.newSize > 0 ? Double(report.patchSize) / Double(report.newSize) * 100 : 0
    LeanCommandLine.succeed(
        report,
        human:
            "\(arguments.output): \(report.patchSize) bytes (\(LeanCommandLine.twoDecimals(percent))% of \(report.newSize)) in \(LeanCommandLine.twoDecimals(report.seconds)) s",
        json: arguments.json)
}
