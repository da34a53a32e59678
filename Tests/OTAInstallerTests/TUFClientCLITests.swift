import Foundation
import OTACore
import OTARepository
import OTATUF
import OTATestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ota-tuf-client` in the command-line shape TUF client conformance suites drive
/// (`--metadata-dir D init ROOT`, `... refresh`, `... download`), run as a separate process
/// against a repository nginx serves on loopback, the way a conformance runner would.
@Suite(.serialized) struct TUFClientCLITests {
    final class Setup {
        private let temporary: TemporaryDirectory
        var directory: String { temporary.path }
        let repository: Repository
        let server: RepositoryServer
        var metadataDirectory: String { directory + "/client/metadata" }
        var targetDirectory: String { directory + "/client/targets" }
        var metadataURL: String { "http://127.0.0.1:\(server.httpPort)/metadata" }
        var targetsURL: String { "http://127.0.0.1:\(server.httpPort)/targets" }

        init() throws {
            temporary = try TemporaryDirectory("tuf-cli")
            let directory = temporary.path
            for folder in ["/src", "/client/metadata", "/client/targets"] {
                try FileManager.default.createDirectory(atPath: directory + folder, withIntermediateDirectories: true)
            }
            let repository = Repository(directory: directory + "/repo")
            try repository.initialize(suite: .intl)
            try repository.delegate(role: "body-ecus", paths: ["body/*"])
            try Self.add(repository, directory, "a.txt", "first target\n")
            try Self.add(repository, directory, "body/door.bin", "delegated target\n", role: "body-ecus")
            try repository.publish()
            self.repository = repository
            server = try RepositoryServer(
                directory: directory, repository: repository,
                clientCA: InstallerFixture.repository + "/keys-sample/intl/vehicle/root-ca.crt")
        }

        deinit {
            // Stop nginx while its pid file still exists (the directory goes after this body).
            _ = try? RepositoryServer.run([
                "\(InstallerFixture.repository)/scripts/repo-server.sh", "stop", server.work,
            ])
        }

        static func add(
            _ repository: Repository, _ directory: String, _ name: String, _ content: String, role: String = "targets"
        ) throws {
            let path = directory + "/src/" + UUID().uuidString
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            try repository.addFile(path, name: name, role: role)
        }

        /// Runs the client; its exit status and standard error.
        func client(_ arguments: [String], prefix: [String] = []) throws -> (status: Int32, errors: String) {
            let errors = directory + "/stderr-\(UUID().uuidString.prefix(8))"
            let pid = try Spawn.start(
                prefix + [TUFClientCLITests.executable] + arguments, output: "/dev/null", errors: errors)
            let status = Spawn.wait(pid)
            return (status, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
        }

        func initClient() throws {
            let root = repository.metadataDirectory + "/1.root.json"
            #expect(try client(["--metadata-dir", metadataDirectory, "init", root]).status == 0)
        }

        func list(_ path: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        }
    }

    static var executable: String {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products, products.deletingLastPathComponent()]
        where FileManager.default.isExecutableFile(atPath: candidate.path + "/ota-tuf-client") {
            return candidate.path + "/ota-tuf-client"
        }
        return products.path + "/ota-tuf-client"
    }

    @Test
    func
        `init, refresh and download with options in any order: exit 0, only unversioned metadata, only finished targets`()
        throws
    {
        let setup = try Setup()
        try setup.initClient()
        #expect(try setup.list(setup.metadataDirectory) == ["root.json"])
        #expect(
            try setup.client([
                "--metadata-url", setup.metadataURL, "--metadata-dir", setup.metadataDirectory, "refresh",
            ]).status == 0)
        #expect(
            try setup.client([
                "--metadata-dir", setup.metadataDirectory, "--metadata-url=" + setup.metadataURL, "refresh",
            ]).status == 0)
        #expect(
            try setup.list(setup.metadataDirectory) == ["root.json", "snapshot.json", "targets.json", "timestamp.json"])
        let download = try setup.client([
            "--target-dir", setup.targetDirectory, "--target-name", "body/door.bin", "--metadata-dir",
            setup.metadataDirectory,
            "--target-base-url", setup.targetsURL, "--target-name", "a.txt", "--metadata-url", setup.metadataURL,
            "download",
        ])
        #expect(download.status == 0, "\(download.errors)")
        // The delegated role's metadata under its percent-encoded name; nothing versioned, nothing temporary.
        #expect(
            try setup.list(setup.metadataDirectory) == [
                "body-ecus.json", "root.json", "snapshot.json", "targets.json", "timestamp.json",
            ])
        #expect(try setup.list(setup.targetDirectory) == ["a.txt", "body%2Fdoor.bin"])
        #expect(try String(contentsOfFile: setup.targetDirectory + "/a.txt", encoding: .utf8) == "first target\n")
        #expect(
            try String(contentsOfFile: setup.targetDirectory + "/body%2Fdoor.bin", encoding: .utf8)
                == "delegated target\n")
        // The stored metadata are the exact bytes the repository published.
        #expect(
            FileManager.default.contents(atPath: setup.metadataDirectory + "/timestamp.json")
                == FileManager.default.contents(atPath: setup.repository.metadataDirectory + "/timestamp.json"))
    }

    @Test func `every failure exits exactly 1 and leaves no partial target`() throws {
        let setup = try Setup()
        let d = setup.metadataDirectory
        let u = setup.metadataURL
        // Usage errors.
        for arguments in [
            [String](), ["--metadata-dir", d], ["--metadata-dir", d, "fetch"], ["--bogus", "x", "refresh"],
            ["--metadata-dir", d, "init"],
            ["--metadata-url", u, "refresh"],
            ["--metadata-dir", d, "--metadata-url", u, "--days-in-future", "-3", "refresh"],
        ] {
            #expect(try setup.client(arguments).status == 1, "\(arguments)")
        }
        // No trusted root yet; then a root that is not JSON.
        #expect(try setup.client(["--metadata-dir", d, "--metadata-url", u, "refresh"]).status == 1)
        let junk = setup.directory + "/junk.json"
        try Data("{\"signed\": ".utf8).write(to: URL(fileURLWithPath: junk))
        #expect(try setup.client(["--metadata-dir", d, "init", junk]).status == 1)
        try setup.initClient()
        // Nothing listens there.
        #expect(
            try setup.client(["--metadata-dir", d, "--metadata-url", "http://127.0.0.1:1/metadata", "refresh"]).status
                == 1)
        // A target no role lists, and one whose served bytes were replaced.
        let base = [
            "--metadata-dir", d, "--metadata-url", u, "--target-dir", setup.targetDirectory, "--target-base-url",
            setup.targetsURL,
        ]
        #expect(try setup.client(base + ["--target-name", "missing.bin", "download"]).status == 1)
        let stored = try #require(try setup.list(setup.repository.targetsDirectory).first { $0.hasSuffix(".a.txt") })
        try Data("first targeT\n".utf8).write(
            to: URL(fileURLWithPath: setup.repository.targetsDirectory + "/" + stored))
        let substituted = try setup.client(base + ["--target-name", "a.txt", "download"])
        #expect(substituted.status == 1)
        #expect(substituted.errors.contains("tuf.hash-mismatch"), "\(substituted.errors)")
        #expect(try setup.list(setup.targetDirectory).isEmpty)
        // A timestamp whose signed part was changed: refused, the trusted metadata left as they were.
        let trusted = try setup.list(d)
        let timestamp = setup.repository.metadataDirectory + "/timestamp.json"
        let text = try String(contentsOfFile: timestamp, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "\"_type\":\"timestamp\"", with: "\"_type\":\"timestamp\",\"x\":1").utf8)
            .write(to: URL(fileURLWithPath: timestamp))
        let tampered = try setup.client(["--metadata-dir", d, "--metadata-url", u, "refresh"])
        #expect(tampered.status == 1)
        #expect(tampered.errors.contains("tuf.signature-threshold"), "\(tampered.errors)")
        #expect(try setup.list(d) == trusted)
    }

    @Test func `time is read through libc: faketime or --days-in-future past the timestamp's expiry is refused`() throws
    {
        let setup = try Setup()
        try setup.initClient()
        let refresh = ["--metadata-dir", setup.metadataDirectory, "--metadata-url", setup.metadataURL, "refresh"]
        // The timestamp lives one day.
        #expect(try setup.client(refresh, prefix: ["faketime", "-f", "+2d"]).status == 1)
        #expect(try setup.client(["--days-in-future", "2"] + refresh).status == 1)
        #expect(try setup.client(refresh).status == 0)
    }

    @Test func `a crash exits 1, not a signal status`() throws {
        let setup = try Setup()
        try setup.initClient()
        // A server that accepts and never answers keeps the client busy until the signal arrives.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        listen(listener, 4)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        for signalNumber in [SIGSEGV, SIGILL, SIGTRAP] {
            let pid = try Spawn.start(
                [
                    Self.executable, "--metadata-dir", setup.metadataDirectory, "--metadata-url",
                    "http://127.0.0.1:\(port)/metadata", "refresh",
                ],
                output: "/dev/null")
            // Signal only once the client has connected: it is then past start-up, where its
            // handlers are installed (a fixed sleep lost that race on a loaded two-core CI machine).
            var waiting = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            #expect(poll(&waiting, 1, 60_000) == 1, "the client never connected")
            let connection = accept(listener, nil, nil)
            defer { if connection >= 0 { close(connection) } }
            kill(pid, signalNumber)
            #expect(Spawn.wait(pid) == 1, "signal \(signalNumber)")
        }
    }
}
