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
    public static var executable: URL { product("ota") }

    /// The executable product `name` next to the test bundle (`.build/<config>/NAME`).
    public static func product(_ name: String) -> URL {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products, products.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return products.appendingPathComponent(name)
    }

    /// Runs `ota` with `arguments`; a missing binary is an error (never a silent pass).
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw MissingExecutable(path: executable.path)
        }
        let output = try ProcessRunner.run(executable.path, arguments, environment: environment)
        return Result(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }

    /// A fresh directory under the temporary directory; the test removes it with a `defer`.
    public static func temporaryDirectory() throws -> String { try TemporaryDirectory.create("cli") }

    public static func removeTemporaryDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    /// The `ota` binary is not where the test bundle's build put it.
    public struct MissingExecutable: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "the ota executable is not built at \(path) (swift build --build-tests)" }
    }
}
