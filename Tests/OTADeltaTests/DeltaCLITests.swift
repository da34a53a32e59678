import Foundation
import Testing

/// `ota delta create/apply` end to end: output, JSON and exit codes (the built tool, beside the
/// test bundle; skipped when it has not been built).
@Suite(.serialized) struct DeltaCLITests {
    static var tool: String? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = url.appendingPathComponent("ota").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return nil
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool!)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func `create and apply round trip with JSON figures and design exit codes`() throws {
        guard Self.tool != nil else {
            print("ota not built beside the tests; skipped")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ota-delta-cli-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
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
}
