import Foundation
import OTATestSupport
import Testing

/// The README's tour is a promise to a new user: it runs, end to end, in both suites.
@Suite("README tour", .serialized)
struct ReadmeTourTests {
    /// The tour's shell block, made runnable here: the build line dropped (the test runs the
    /// binaries it was built with), the suite line switched for gm, and /tmp/ moved to a
    /// directory of the test's own.
    static func script(suite: String, scratch: String) throws -> String {
        let readme = try String(contentsOfFile: CLIRunner.repository + "/README.md", encoding: .utf8)
        guard let tour = readme.range(of: "## A short tour"),
            let open = readme.range(of: "```sh\n", range: tour.upperBound..<readme.endIndex),
            let close = readme.range(of: "\n```\n", range: open.upperBound..<readme.endIndex)
        else { throw TourError("README.md has no ```sh block under \"## A short tour\"") }
        var lines: [String] = []
        var switched = false
        for line in readme[open.upperBound..<close.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        {
            if line.hasPrefix("swift build") { continue }
            var text = String(line)
            if line.hasPrefix("S=intl;"), suite == "gm" {
                // "S=intl; V=...   # or: S=gm; V=... (comment)" → "S=gm; V=..."
                guard let alternative = line.range(of: "# or: ") else {
                    throw TourError("the suite line names no gm alternative")
                }
                text = String(line[alternative.upperBound...].prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
                switched = true
            }
            lines.append(text.replacingOccurrences(of: "/tmp/", with: scratch + "/"))
        }
        if suite == "gm", !switched { throw TourError("the tour has no `S=intl; ...   # or: S=gm; ...` line") }
        return "set -euo pipefail\n" + lines.joined(separator: "\n") + "\n"
    }

    struct TourError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test(arguments: ["intl", "gm"])
    func `the README tour runs end to end`(suite: String) throws {
        let scratch = try CLIRunner.temporaryDirectory()
        defer {
            // The tour stops its nginx; if it failed half-way, stop it here.
            _ = try? Self.shell("scripts/repo-server.sh stop \(scratch)/nginx", scratch: scratch)
            CLIRunner.removeTemporaryDirectory(scratch)
        }
        let script = try Self.script(suite: suite, scratch: scratch)
        try script.write(toFile: scratch + "/tour.sh", atomically: true, encoding: .utf8)
        let result = try Self.shell("bash -x \(scratch)/tour.sh", scratch: scratch)
        let tail = result.output.split(separator: "\n").suffix(30).joined(separator: "\n")
        #expect(result.status == 0, "the \(suite) tour failed:\n\(tail)")
        // What the tour shows happened: the agent pulled over mutual TLS and installed, and the
        // records export was signed and checked.
        #expect(result.output.contains("trusted for the release role"), "\(tail)")
        #expect(FileManager.default.fileExists(atPath: scratch + "/export"), "no export written")
        let status = try CLIRunner.run(["vehicle", "status", scratch + "/car2", "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("2.4.0"), "the agent did not install the IVI update: \(status.stdout)")
    }

    /// Runs a command line with bash in the repository, the built binaries first on PATH.
    static func shell(_ command: String, scratch: String) throws -> (status: Int32, output: String) {
        // One stream, in the order things happened: the shell sends standard error to standard output.
        let path =
            CLIRunner.executable.deletingLastPathComponent().path + ":"
            + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let result = try ProcessRunner.run(
            "/bin/bash", ["-c", "exec 2>&1; " + command], directory: CLIRunner.repository, environment: ["PATH": path])
        return (result.status, result.stdout + result.stderr)
    }
}
