import Foundation
import OTABuilder
import OTACore
import OTARepository
import OTATestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A real nginx on loopback serving a repository over mutual TLS (scripts/repo-server.sh), and,
/// when asked, our fault proxy (scripts/fault-proxy.py) in front of its plain-HTTP port.
/// Everything is stopped when the object goes away.
final class RepositoryServer {
    let work: String
    let repository: Repository
    let httpsPort: Int
    let httpPort: Int
    private var proxyPID: pid_t = 0
    /// nginx's master process, read from its pid file at start: `deinit` stops it by this even
    /// when the test's directory (and the pid file in it) has been removed first.
    private var nginxPID: pid_t = 0
    private(set) var proxyPort = 0
    var control: String { "\(work)/faults.json" }

    init(directory: String, repository: Repository, clientCA: String, crl: String? = nil) throws {
        work = "\(directory)/server-\(UUID().uuidString.prefix(8))"
        self.repository = repository
        let output = try Self.run(
            ["\(InstallerFixture.repository)/scripts/repo-server.sh", "start", work, repository.directory, clientCA]
                + (crl.map { [$0] } ?? []))
        let ports = output.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        guard ports.count == 2 else { throw OTAError(.ioFailed, "nginx did not start: \(output)") }
        httpsPort = ports[0]
        httpPort = ports[1]
        let pidText = (try? String(contentsOfFile: "\(work)/nginx.pid", encoding: .utf8)) ?? ""
        nginxPID = pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    deinit {
        if proxyPID > 0 {
            kill(proxyPID, SIGKILL)
            _ = Spawn.wait(proxyPID)
        }
        // SIGTERM: nginx's fast shutdown. Not by the script alone: it finds nginx by the pid file in
        // `work`, which a test's temporary directory may already have taken away (nginx was left
        // running then: 21 servers after the three agent suites).
        if nginxPID > 0 {
            kill(nginxPID, SIGTERM)
        } else {
            _ = try? Self.run(["\(InstallerFixture.repository)/scripts/repo-server.sh", "stop", work])
        }
    }

    var https: String { "https://localhost:\(httpsPort)" }
    var serverCA: String { "\(work)/server-ca.crt" }

    /// Starts the fault proxy; returns its base URL.
    func startProxy() throws -> String {
        try Data("{}".utf8).write(to: URL(fileURLWithPath: control))
        let portFile = "\(work)/proxy.port"
        let pid = try Spawn.start(
            [
                "python3", "\(InstallerFixture.repository)/scripts/fault-proxy.py", "http://127.0.0.1:\(httpPort)",
                control,
            ], output: portFile)
        proxyPID = pid
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                proxyPort = port
                return "http://127.0.0.1:\(port)"
            }
            usleep(25_000)
        }
        throw OTAError(.ioFailed, "the fault proxy did not start")
    }

    /// Sets the proxy's faults (and resets its counters).
    func faults(_ json: String) throws {
        try? FileManager.default.removeItem(atPath: control + ".state")
        try Data(json.utf8).write(to: URL(fileURLWithPath: control))
    }

    /// Runs a command to its end (posix_spawn and waitpid: Foundation's Process can miss the exit
    /// of a child whose grandchild daemonizes); returns its standard output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let scratch = try TemporaryDirectory("run")
        let output = scratch.appending("output")
        let pid = try Spawn.start(arguments, output: output)
        let status = Spawn.wait(pid)
        guard status == 0 else { throw OTAError(.ioFailed, "\(arguments.joined(separator: " ")) exited \(status)") }
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }
}

/// posix_spawn with standard output (and standard error) to files, standard input from /dev/null.
enum Spawn {
    static func start(_ arguments: [String], output: String, errors: String = "/dev/null") throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // A clean signal mask and default handlers (the test runner's threads block some signals).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw OTAError(.ioFailed, "cannot start \(arguments[0]): \(rc)") }
        return pid
    }

    /// Waits for `pid`; its exit status, or 128 + signal.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
