import Foundation
import OTACore
import OTATestSupport
import Testing

/// `ota delta create/apply` end to end: output, JSON and exit codes of the built tool (a test
/// that fails, not one that passes, when `ota` is not built).
@Suite(.serialized) struct DeltaCLITests {
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String) {
        let result = try CLIRunner.run(arguments)
        return (result.status, result.stdout)
    }

    /// Writes `old` (`size` bytes of text-like data) and `new` (old with `inserting` random bytes
    /// at `offset`) into `directory`; returns the new image.
    @discardableResult
    static func writePair(in directory: String, size: Int, inserting: Int, at offset: Int, seed: UInt64) throws
        -> [UInt8]
    {
        let old = RoundTripTests.texty(size, seed: seed)
        var new = old
        new.insert(contentsOf: RoundTripTests.random(inserting, seed: seed + 1), at: offset)
        try Data(old).write(to: URL(fileURLWithPath: directory + "/old"))
        try Data(new).write(to: URL(fileURLWithPath: directory + "/new"))
        return new
    }

    @Test func `create and apply round trip with JSON figures and design exit codes`() throws {
        let temporary = try TemporaryDirectory("ota-delta-cli")
        let directory = temporary.path
        let new = try Self.writePair(in: directory, size: 200_000, inserting: 1000, at: 5000, seed: 1)

        let create = try Self.run([
            "delta", "create", directory + "/old", directory + "/new", "-o", directory + "/p", "--json",
        ])
        #expect(create.status == 0)
        #expect(create.stdout.contains("\"patchSize\""))
        let apply = try Self.run([
            "delta", "apply", directory + "/old", directory + "/p", "-o", directory + "/out", "--json",
        ])
        #expect(apply.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/out")) == Data(new))

        // The wrong source: rejected (exit 2) with its code, and no output file.
        let wrong = try Self.run([
            "delta", "apply", directory + "/new", directory + "/p", "-o", directory + "/bad", "--json",
        ])
        #expect(wrong.status == 2)
        #expect(wrong.stdout.contains("delta.source-mismatch"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/bad"))
        // A missing file: I/O error (exit 1).
        let missing = try Self.run(["delta", "apply", directory + "/nope", directory + "/p", "-o", directory + "/bad"])
        #expect(missing.status == 1)
    }

    @Test func `AArch64 programs get format 4 unless --no-aarch64-pairs asks for format 3`() throws {
        let temporary = try TemporaryDirectory("ota-delta-cli-pairs")
        let directory = temporary.path
        let (old, new) = ReferenceTransformTests.pair(.aarch64)
        try Data(old).write(to: URL(fileURLWithPath: directory + "/old"))
        try Data(new).write(to: URL(fileURLWithPath: directory + "/new"))
        for (flags, version) in [([String](), UInt8(4)), (["--no-aarch64-pairs"], 3)] {
            let create = try Self.run(
                ["delta", "create", directory + "/old", directory + "/new", "-o", directory + "/p"] + flags)
            #expect(create.status == 0)
            let patch = try Data(contentsOf: URL(fileURLWithPath: directory + "/p"))
            #expect(patch[8] == version, "\(flags)")
            let apply = try Self.run(["delta", "apply", directory + "/old", directory + "/p", "-o", directory + "/out"])
            #expect(apply.status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/out")) == Data(new))
            try FileManager.default.removeItem(atPath: directory + "/out")
        }
    }

    /// JSON as `ota`'s Foundation-based output prints it (`Output.encode`): what `ota-diff`, which
    /// `ota delta create` runs, must print byte for byte without Foundation.
    static func foundationJSON(_ text: String, pretty: Bool) throws -> String {
        // Decoded into typed values and encoded again with JSONEncoder, the way `ota` prints.
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Any JSON value, numbers kept as integers when they are.
    enum JSONValue: Codable {
        case object([String: JSONValue]), array([JSONValue]), string(String), integer(Int64), number(Double)
        case bool(Bool), null

        init(from decoder: any Decoder) throws {
            let single = try? decoder.singleValueContainer()
            if let single, single.decodeNil() {
                self = .null
            } else if let value = try? single?.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? single?.decode(Int64.self) {
                self = .integer(value)
            } else if let value = try? single?.decode(Double.self) {
                self = .number(value)
            } else if let value = try? single?.decode(String.self) {
                self = .string(value)
            } else if let value = try? single?.decode([JSONValue].self) {
                self = .array(value)
            } else {
                self = .object(try decoder.singleValueContainer().decode([String: JSONValue].self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            switch self {
            case .object(let value): try single.encode(value)
            case .array(let value): try single.encode(value)
            case .string(let value): try single.encode(value)
            case .integer(let value): try single.encode(value)
            case .number(let value): try single.encode(value)
            case .bool(let value): try single.encode(value)
            case .null: try single.encodeNil()
            }
        }
    }

    /// `ota delta create` is `ota-diff` run in `ota`'s place: its result, error and progress JSON
    /// are the bytes `ota`'s own (Foundation) encoder prints, and its human line the same format.
    @Test func `delta create prints ota's JSON, errors and progress lines from ota-diff`() throws {
        let temporary = try TemporaryDirectory("ota-delta-cli-json")
        let directory = temporary.path
        try Self.writePair(in: directory, size: 300_000, inserting: 3000, at: 7000, seed: 3)

        let create = try CLIRunner.run([
            "delta", "create", directory + "/old", directory + "/new", "-o", directory + "/p", "--json",
            "--progress", "json",
        ])
        #expect(create.status == 0, "\(create.stderr)")
        let printed = create.stdout.hasSuffix("\n") ? String(create.stdout.dropLast()) : create.stdout
        #expect(printed == (try Self.foundationJSON(printed, pretty: true)))
        let result = try #require(create.json["result"] as? [String: Any])
        let patchSize = try Data(contentsOf: URL(fileURLWithPath: directory + "/p")).count
        #expect(result["patchSize"] as? Int == patchSize)
        #expect((result["statistics"] as? [String: Any])?["operations"] != nil)
        let lines = create.stderr.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line == (try Self.foundationJSON(line, pretty: false)), "\(line)")
            let keys = Set(try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]).keys)
            #expect(keys.isSubset(of: ["step", "done", "total", "bytesPerSecond", "etaSeconds"]), "\(keys)")
        }

        // The human line: "PATH: N bytes (P.PP% of M) in S.SS s".
        let human = try CLIRunner.run([
            "delta", "create", directory + "/old", directory + "/new", "-o", directory + "/p2", "--progress", "none",
        ])
        #expect(human.status == 0)
        #expect(
            human.stdout.firstMatch(
                of: /^.*\/p2: [0-9]+ bytes \([0-9]+\.[0-9]{2}% of 303000\) in [0-9]+\.[0-9]{2} s\n$/) != nil,
            "\(human.stdout)")

        // A failure: ota's JSON envelope on standard output, "ota: error: ... [code]" on standard error.
        let missing = try CLIRunner.run([
            "delta", "create", directory + "/nope", directory + "/new", "-o", directory + "/p3", "--json",
        ])
        #expect(missing.status == 1)
        #expect(missing.errorCode == "io.not-found")
        let failure = missing.stdout.hasSuffix("\n") ? String(missing.stdout.dropLast()) : missing.stdout
        #expect(failure == (try Self.foundationJSON(failure, pretty: true)))
        #expect(missing.stderr.hasPrefix("ota: error: "), "\(missing.stderr)")
        #expect(missing.stderr.contains("[io.not-found]"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/p3"))
        // Option errors are still `ota`'s own (checked before ota-diff runs).
        let preset = try CLIRunner.run([
            "delta", "create", directory + "/old", directory + "/new", "-o", directory + "/p3", "--xz-preset", "10",
            "--json",
        ])
        #expect(preset.status == 1)
        #expect(preset.errorCode == "usage.invalid")
    }

    /// Without `ota-diff` beside `ota` or on PATH, `ota delta create` is a registered error that
    /// names it (and `ota delta apply` still works: it needs no other executable).
    @Test func `delta create without ota-diff beside ota or on PATH is a registered error`() throws {
        let temporary = try TemporaryDirectory("ota-delta-cli-lone")
        let directory = temporary.path
        let lone = directory + "/ota"
        // Copied by `cp`, not in this process (a descriptor open for writing could be inherited by
        // a child another test spawns meanwhile, and exec of the copy would fail with ETXTBSY).
        let copied = try ProcessRunner.run("/bin/cp", [CLIRunner.executable.path, lone])
        #expect(copied.status == 0, "\(copied.stderr)")
        let old = RoundTripTests.texty(50_000, seed: 5)
        try Data(old).write(to: URL(fileURLWithPath: directory + "/old"))
        let output = try ProcessRunner.run(
            lone, ["delta", "create", directory + "/old", directory + "/old", "-o", directory + "/p", "--json"],
            environment: ["PATH": directory])
        #expect(output.status == 1)
        let json = (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any]
        #expect(
            (json?["error"] as? [String: Any])?["code"] as? String == "delta.diff-not-installed", "\(output.stdout)")
        #expect(output.stderr.contains("ota-diff"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/p"))
        // Found on PATH when it is not beside ota.
        let products = CLIRunner.product("ota-diff").deletingLastPathComponent().path
        let found = try ProcessRunner.run(
            lone, ["delta", "create", directory + "/old", directory + "/old", "-o", directory + "/p"],
            environment: ["PATH": products])
        #expect(found.status == 0, "\(found.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/p"))
    }
}
