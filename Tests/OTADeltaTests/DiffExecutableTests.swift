import Foundation
import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// `ota-diff`, the builder-side patch maker without Foundation, which `ota delta create` runs in
/// its place: the options `ota delta create` takes are passed through to the same patch bytes,
/// the same error codes and exit statuses, and none of the libraries it exists to leave out.
@Suite(.serialized) struct DiffExecutableTests {
    static var differ: String { CLIRunner.product("ota-diff").path }

    /// Runs `ota-diff`; the code is the `[...]` of its `ota-diff: error:` line, if any.
    static func diff(_ arguments: [String]) throws -> (status: Int32, code: String?, stdout: String) {
        try #require(FileManager.default.isExecutableFile(atPath: differ), "\(differ) is not built")
        let output = try ProcessRunner.run(differ, arguments)
        let code = output.stderr.firstMatch(of: /ota-diff: error: .*\[([a-z0-9.-]+)\]/).map { String($0.output.1) }
        return (output.status, code, output.stdout)
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// An x86-64 and an AArch64 old/new pair (the transform's test programs) in a fresh directory.
    static func fixture(_ label: String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory(label)
        for (name, architecture) in [("x86", SyntheticELF.Machine.x86_64), ("a64", .aarch64)] {
            let (old, new) = ReferenceTransformTests.pair(architecture)
            try Data(old).write(to: URL(fileURLWithPath: directory.appending("\(name).old")))
            try Data(new).write(to: URL(fileURLWithPath: directory.appending("\(name).new")))
        }
        return directory
    }

    /// The patch `ota-diff` writes is the one `ota delta create` writes, option for option.
    @Test(arguments: [
        [String](), ["--suite", "gm"], ["--no-exec-transform"], ["--no-aarch64-pairs"],
        ["--dictionary-size", "1MiB", "--xz-preset", "6"], ["--extreme"], ["--no-filter-inserts"], ["--prime-inserts"],
        ["--parallel-inserts"], ["--no-split-operands"], ["--no-align-inserts"],
    ])
    func `ota-diff writes the patch ota delta create writes`(options: [String]) throws {
        let directory = try Self.fixture("ota-diff-same")
        for name in ["x86", "a64"] {
            let old = directory.appending("\(name).old")
            let new = directory.appending("\(name).new")
            let reference = try CLIRunner.run(
                ["delta", "create", old, new, "-o", directory.appending("ref")] + options)
            try #require(reference.status == 0, "\(reference.stderr)")
            let lean = try Self.diff([old, new, "-o", directory.appending("lean")] + options)
            #expect(lean.status == 0)
            #expect(lean.code == nil)
            let patch = try Self.bytes(directory.appending("lean"))
            #expect(patch == (try Self.bytes(directory.appending("ref"))), "\(name) \(options)")
            #expect(lean.stdout.contains("\(patch.count) bytes ("))
            let apply = try CLIRunner.run([
                "delta", "apply", old, directory.appending("lean"), "-o", directory.appending("out"),
            ])
            #expect(apply.status == 0)
            #expect(try Self.bytes(directory.appending("out")) == (try Self.bytes(new)))
        }
        // Operands and -o in any order, --output= and --option=value.
        let reordered = try Self.diff([
            "-o", directory.appending("r2"), "--xz-preset=9", directory.appending("x86.old"),
            directory.appending("x86.new"),
            "--suite=intl",
        ])
        #expect(reordered.status == 0)
        let equals = try Self.diff([
            directory.appending("x86.old"), directory.appending("x86.new"), "--output=" + directory.appending("r3"),
        ])
        #expect(equals.status == 0)
        #expect(try Self.bytes(directory.appending("r2")) == (try Self.bytes(directory.appending("r3"))))
    }

    /// The body coding each command writes for `old` → `new` with each of `cases`' flags must be
    /// the case's: a flag that changes the coding reaches the encoder from both commands.
    static func expectCodings(
        _ name: String, old: [UInt8], new: [UInt8], _ cases: [(flags: [String], coding: UInt8)]
    ) throws {
        let directory = try fixture("ota-diff-\(name)")
        try Data(old).write(to: URL(fileURLWithPath: directory.appending("\(name).old")))
        try Data(new).write(to: URL(fileURLWithPath: directory.appending("\(name).new")))
        let files = [directory.appending("\(name).old"), directory.appending("\(name).new")]
        for (flags, coding) in cases {
            #expect(try diff(files + ["-o", directory.appending("lean")] + flags).status == 0)
            let viaOTA = try CLIRunner.run(["delta", "create"] + files + ["-o", directory.appending("ref")] + flags)
            #expect(viaOTA.status == 0)
            #expect(try bytes(directory.appending("lean"))[11] == coding, "\(flags)")
            #expect(try bytes(directory.appending("ref"))[11] == coding, "\(flags)")
        }
    }

    /// `--no-split-operands`: x86-64 code that gets body coding 5 by default gets 4 with it.
    @Test func `--no-split-operands writes body coding 4 where the default writes 5`() throws {
        let (old, new) = InsertsOperandsTests.pair(seed: 61, code: 60_000)
        try Self.expectCodings(
            "split", old: old, new: new, [([], 5), (["--no-split-operands"], 4), (["--split-operands"], 5)])
    }

    /// `--no-align-inserts`: AArch64 code that lands misaligned in the inserts stream gets the
    /// 0x20 bit by default and not with it.
    @Test func `--no-align-inserts leaves AArch64 inserts unpadded where the default pads them`() throws {
        let (old, new) = InsertsAlignmentTests.pair(seed: 95, words: 20_000)
        try Self.expectCodings(
            "align", old: old, new: new, [([], 0x23), (["--no-align-inserts"], 3), (["--align-inserts"], 0x23)])
    }

    /// `--parallel-inserts`: a program that inserts 2 MiB or more gets its inserts compressed in
    /// two halves from both commands (a different patch, the same one from each), which rebuilds
    /// the new image.
    /// `--prime-inserts` / `--no-prime-inserts` from both commands: a program update that is mostly
    /// new code is primed by default (the 0x10 bit), never with the second flag; one mostly
    /// copied only with the first.
    @Test func `the inserts are primed by default only for a program that is mostly new`() throws {
        let (old, new) = LoadableProgram.pair(inserting: 100_000, seed: 103)
        try Self.expectCodings(
            "prime-new", old: old, new: new, [([], 0x12), (["--no-prime-inserts"], 0x02), (["--prime-inserts"], 0x12)])
        let (copiedOld, copiedNew) = LoadableProgram.pair(inserting: 20_000, seed: 104)
        try Self.expectCodings(
            "prime-copied", old: copiedOld, new: copiedNew,
            [([], 0x02), (["--no-prime-inserts"], 0x02), (["--prime-inserts"], 0x12)])
    }

    @Test func `--parallel-inserts splits 2 MiB of inserts from both commands`() throws {
        let directory = try Self.fixture("ota-diff-parallel")
        let (old, new) = LoadableProgram.pair(inserting: PatchFrameWriter.splitInsertsMinimum + 4096, seed: 97)
        let files = [directory.appending("p.old"), directory.appending("p.new")]
        try Data(old).write(to: URL(fileURLWithPath: files[0]))
        try Data(new).write(to: URL(fileURLWithPath: files[1]))
        var patches: [[String]: [UInt8]] = [:]
        // Not primed: primed inserts keep one encoder (and a program this new is primed by default).
        for flags in [["--no-prime-inserts"], ["--no-prime-inserts", "--parallel-inserts"]] {
            #expect(try Self.diff(files + ["-o", directory.appending("lean")] + flags).status == 0)
            let viaOTA = try CLIRunner.run(["delta", "create"] + files + ["-o", directory.appending("ref")] + flags)
            #expect(viaOTA.status == 0, "\(viaOTA.stderr)")
            let patch = try Self.bytes(directory.appending("lean"))
            #expect(patch == (try Self.bytes(directory.appending("ref"))) ? true : false, "\(flags)")
            patches[flags] = patch
            let apply = try CLIRunner.run([
                "delta", "apply", files[0], directory.appending("lean"), "-o", directory.appending("out"),
            ])
            #expect(apply.status == 0)
            #expect(try Self.bytes(directory.appending("out")) == new ? true : false, "\(flags)")
        }
        // Compared as Bools: a failing comparison of megabytes prints them whole.
        #expect(
            patches[["--no-prime-inserts"]] != patches[["--no-prime-inserts", "--parallel-inserts"]] ? true : false)
    }

    /// Every refusal `ota delta create` gives, `ota-diff` gives with the same code and exit status,
    /// and neither leaves an output or temporary file.
    @Test func `bad arguments and missing inputs are refused with ota delta create's code and status`() throws {
        let directory = try Self.fixture("ota-diff-refusals")
        let old = directory.appending("x86.old")
        let new = directory.appending("x86.new")
        let out = directory.appending("out")
        let cases: [(label: String, arguments: [String])] = [
            ("missing old image", [directory.appending("nope"), new, "-o", out]),
            ("missing new image", [old, directory.appending("nope"), "-o", out]),
            ("directory as image", [directory.path, new, "-o", out]),
            ("unknown suite", [old, new, "-o", out, "--suite", "rot13"]),
            ("dictionary not a power of two", [old, new, "-o", out, "--dictionary-size", "3MiB"]),
            ("dictionary too small", [old, new, "-o", out, "--dictionary-size", "64KiB"]),
            ("dictionary not a size", [old, new, "-o", out, "--dictionary-size", "lots"]),
            ("preset out of range", [old, new, "-o", out, "--xz-preset", "10"]),
            ("output in a missing directory", [old, new, "-o", directory.appending("no/such/p")]),
        ]
        let before = try Set(FileManager.default.contentsOfDirectory(atPath: directory.path))
        for item in cases {
            let reference = try CLIRunner.run(["delta", "create"] + item.arguments + ["--json"])
            let lean = try Self.diff(item.arguments)
            #expect(reference.status != 0, "\(item.label): ota delta create accepted it")
            #expect(lean.status == reference.status, "\(item.label)")
            #expect(
                lean.code != nil && lean.code == reference.errorCode,
                "\(item.label): \(String(describing: lean.code)) vs \(String(describing: reference.errorCode))")
            #expect(
                try Set(FileManager.default.contentsOfDirectory(atPath: directory.path)) == before,
                "\(item.label): output left behind")
        }
    }

    @Test func `usage errors exit 1 with usage.invalid`() throws {
        let directory = try Self.fixture("ota-diff-usage")
        let old = directory.appending("x86.old")
        let new = directory.appending("x86.new")
        for arguments in [
            [old, new], [old, "-o", directory.appending("p")], ["--fast", old, new, "-o", directory.appending("p")],
            [old, new, "-o"], [old, new, "-o", "a", "-o", "b"],
            [old, new, "-o", directory.appending("p"), "--extreme=1"],
            [old, new, "-o", directory.appending("p"), "--exec-transform=yes"],
            [old, new, "-o", directory.appending("p"), "--no-aarch64-pairs=0"],
        ] {
            let result = try Self.diff(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.code == "usage.invalid", "\(arguments)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appending("p")))
        let version = try Self.diff(["--version"])
        #expect(version.status == 0)
        #expect(!version.stdout.isEmpty)
        let help = try Self.diff(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("ota-diff OLD NEW -o PATCH"))
    }

    /// The point of the executable: none of Foundation, libcurl or the server stack is linked.
    @Test func `ota-diff links no Foundation, libcurl, GRDB or NIO`() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.differ), "\(Self.differ) is not built")
        let needed = try ProcessRunner.run(
            "/bin/bash", ["-c", "readelf -d \"$1\" | grep NEEDED || true", "x", Self.differ])
        for library in ["libFoundation", "libcurl", "libxml2", "libicu", "lib_FoundationICU", "libsqlite3"] {
            #expect(!needed.stdout.contains(library), "ota-diff needs \(library): \(needed.stdout)")
        }
        for prefix in ["$s10Foundation", "$s20FoundationEssentials", "$s4GRDB", "$s7NIOCore", "curl_easy_init"] {
            let count = try ProcessRunner.run(
                "/bin/bash", ["-c", "nm -P \"$1\" 2>/dev/null | grep -c -F -- '\(prefix)' || true", "x", Self.differ])
            #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "ota-diff holds \(prefix)")
        }
    }

    /// The progress bar's numbers are `printf`'s, as `ota`'s `String(format:)` prints them.
    @Test func `progress bar numbers are formatted as String(format:) formats them`() {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        for count: UInt64 in [0, 1023, 1024, 1075, 1536, 1_048_575, 1_048_576, 5_452_595, 1 << 40, 1 << 52] {
            var value = Double(count)
            var unit = 0
            while value >= 1024 && unit < units.count - 1 {
                value /= 1024
                unit += 1
            }
            let expected = unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
            #expect(ProgressDisplay.bytes(count) == expected)
        }
        for seconds in [0, 0.4, 59.4, 59.6, 61, 3599.4, 3599.6, 3600, 86_399, 360_000.5] {
            let total = Int(seconds.rounded())
            let expected =
                total >= 3600
                ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
                : String(format: "%d:%02d", total / 60, total % 60)
            #expect(ProgressDisplay.clock(seconds) == expected)
        }
        for value in [0, 0.125, 0.135, 1.005, 12.345, 99.995, 100] {
            #expect(LeanCommandLine.format("%.2f", value) == String(format: "%.2f", value))
            #expect(LeanCommandLine.twoDecimals(value) == String(format: "%.2f", value))
        }
    }

    /// One bar for every executable: bytes (binary units) or entries, with the time left while
    /// unfinished, and no bar without a total.
    @Test func `progress bar counts bytes or entries`() {
        let bytes = WorkProgress(step: "apply", done: 3 << 20, total: 12 << 20)
        #expect(
            ProgressDisplay.bar(bytes, rate: 1536, eta: 65)
                == "apply [======>                 ] 25% 3.0 MiB/12.0 MiB 1.5 KiB/s ETA 1:05")
        let entries = WorkProgress(step: "verify", done: 40, total: 40, unit: .entries)
        #expect(
            ProgressDisplay.bar(entries, rate: 20, eta: 0)
                == "verify [========================] 100% 40 entries/40 entries 20 entries/s")
        let open = WorkProgress(step: "ingest", done: 7, total: nil, unit: .entries)
        #expect(ProgressDisplay.bar(open, rate: 3.5, eta: nil) == "ingest 7 entries 3 entries/s")
    }
}
