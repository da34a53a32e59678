import Foundation
import OTATestSupport
import Testing

/// `ota delta create/apply` end to end: output, JSON and exit codes of the built tool (a test
/// that fails, not one that passes, when `ota` is not built).
@Suite(.serialized) struct DeltaCLITests {
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String) {
        let result = try CLIRunner.run(arguments)
        return (result.status, result.stdout)
    }

    @Test func `create and apply round trip with JSON figures and design exit codes`() throws {
        let temporary = try TemporaryDirectory("ota-delta-cli")
        let directory = temporary.path
        let old = RoundTripTests.texty(200_000, seed: 1)
        var new = old
        new.insert(contentsOf: RoundTripTests.random(1000, seed: 2), at: 5000)
        try Data(old).write(to: URL(fileURLWithPath: directory + "/old"))
        try Data(new).write(to: URL(fileURLWithPath: directory + "/new"))

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
}
