import Foundation

/// Runs a program to its end and collects what it printed (the built `ota`, a shell running the
/// README tour, the compiler checking docs/API.md), on `ChildProcess`.
public enum ProcessRunner {
    public struct Output: Sendable {
        /// The exit status, or 128 + the signal number for a program killed by a signal.
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `executable` with `arguments` (in `directory` when given, with `environment` added to
    /// ours), standard input `input` (empty when nil). Both output streams are read as they come,
    /// so a child that fills one while we wait on the other cannot stall. Kills the program and
    /// throws after `timeout` seconds when given.
    public static func run(
        _ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String] = [:],
        input: [UInt8]? = nil, timeout: Double? = nil
    ) throws -> Output {
        let child = try ChildProcess(
            executable, arguments, directory: directory, environment: environment, captureErrors: true, input: input)
        let outcome = try child.finish(timeout: timeout)
        return Output(
            status: outcome.status, stdout: String(decoding: outcome.stdout, as: UTF8.self),
            stderr: String(decoding: outcome.stderr, as: UTF8.self))
    }
}
