public import Foundation

/// Runs the built `ota` executable, as a user or script would.
public struct CLIRunner {
    public struct Result {
        public let status: Int32
        public let stdout: String
        public let stderr: String

        /// The parsed `--json` output.
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]) ?? [:]
        }

        public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    /// The repository checkout (for committed fixtures such as `keys-sample/`).
    public static var repository: String { RepositoryRoot.path }

    /// The `ota` binary next to the test bundle (`.build/<config>/ota`).
    public static var executable: URL {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products, products.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("ota")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return products.appendingPathComponent("ota")
    }

    /// Runs `ota` with `arguments`; a missing binary is an error (never a silent pass).
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw MissingExecutable(path: executable.path)
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A fresh directory under the temporary directory; the test removes it with a `defer`.
    public static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "ota-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func removeTemporaryDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    /// The `ota` binary is not where the test bundle's build put it.
    public struct MissingExecutable: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "the ota executable is not built at \(path) (swift build --build-tests)" }
    }
}
