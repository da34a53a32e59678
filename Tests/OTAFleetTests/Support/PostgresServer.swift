import Foundation
import OTACore
import Synchronization

/// One real PostgreSQL server (Debian's postgresql, `scripts/postgres-server.sh`) for the whole
/// test process: initdb into a temporary directory, a unix socket only, stopped when the process
/// exits (atexit, and a watchdog should the process die). Each test gets a database of its own.
/// When PostgreSQL cannot start, every test that needs it fails with the reason: nothing is
/// skipped.
enum PostgresServer {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    private static let state = Mutex<Result<String, TestServerError>?>(nil)
    private static let counter = Atomic<Int>(0)

    struct TestServerError: Error, CustomStringConvertible {
        let description: String
    }

    /// The server's directory (`…/socket` holds its socket), started on first use.
    static func directory() throws -> String {
        try state.withLock { state -> Result<String, TestServerError> in
            if let state { return state }
            let started = start()
            state = started
            return started
        }.get()
    }

    private static func start() -> Result<String, TestServerError> {
        // A short path: a unix socket path holds at most 107 bytes.
        let directory = "/tmp/ota-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let (status, output) = Shell.run([
            repository + "/scripts/postgres-server.sh", "start", directory, String(getpid()),
        ])
        guard status == 0 else {
            return .failure(
                TestServerError(
                    description:
                        "PostgreSQL did not start (scripts/postgres-server.sh exit \(status)); install it with scripts/install-deps.sh: \(output)"
                ))
        }
        stopDirectory.withLock { $0 = directory }
        // At exit Foundation's Process can no longer be used (it hangs): plain system(3).
        atexit {
            if let directory = PostgresServer.stopDirectory.withLock({ $0 }) {
                _ = system(
                    "'\(PostgresServer.repository)/scripts/postgres-server.sh' stop '\(directory)' >/dev/null 2>&1; rm -rf '\(directory)'"
                )
            }
        }
        return .success(directory)
    }

    fileprivate static let stopDirectory = Mutex<String?>(nil)

    /// A new empty database on the shared server, as a store URL.
    static func newDatabase() throws -> String {
        let directory = try directory()
        let name = "t\(getpid())_\(counter.wrappingAdd(1, ordering: .relaxed).oldValue)"
        let (status, output) = Shell.run([
            "psql", "-h", directory + "/socket", "-U", "ota", "-d", "ota", "-qAt", "-c", "CREATE DATABASE \(name)",
        ])
        guard status == 0 else { throw TestServerError(description: "CREATE DATABASE \(name) failed: \(output)") }
        return "postgres://ota@/\(name)?host=\(directory)/socket"
    }
}

/// Runs a command, returning its exit status and its output (stdout and stderr). Through
/// system(3) and a temporary file: Foundation's `Process` was seen waiting forever for a script
/// that had started a daemon (pg_ctl), and cannot run at exit.
enum Shell {
    static func quote(_ argument: String) -> String {
        "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func run(_ arguments: [String]) -> (Int32, String) {
        let output = NSTemporaryDirectory() + "ota-shell-\(UUID().uuidString)"
        defer { unlink(output) }
        let status = system(arguments.map(quote).joined(separator: " ") + " </dev/null >" + quote(output) + " 2>&1")
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let exit: Int32 = status == -1 ? 127 : (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exit, text)
    }
}
