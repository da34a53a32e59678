import Foundation
import OTATestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fleet service is its own executable: `ota` (the vehicle side) links none of the server
/// stack, and `ota fleet ...` becomes `ota-fleet ...` in the same process.
@Suite struct FleetExecutableTests {
    /// Mangled-name prefixes of the server stack's Swift modules, and BoringSSL's C prefix.
    static let serverStack = [
        "$s11Hummingbird", "$s7NIOCore", "$s8NIOPosix", "$s11PostgresNIO", "$s6Crypto", "CCryptoBoringSSL_",
    ]

    static var fleet: String { CLIRunner.product("ota-fleet").path }

    /// The symbols of `binary` (its symbol table) that belong to `module`'s prefix.
    static func symbolCount(_ binary: String, prefix: String) throws -> Int {
        let output = try ProcessRunner.run(
            "/bin/bash", ["-c", "nm -P \"$1\" | grep -c -F -- \"$2\" || true", "nm", binary, prefix])
        try #require(output.stderr.isEmpty, "nm \(binary): \(output.stderr)")
        return try #require(Int(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func `ota links none of the server stack, and the same check finds it in ota-fleet`() throws {
        let ota = CLIRunner.executable.path
        try #require(FileManager.default.isExecutableFile(atPath: ota), "\(ota) is not built")
        try #require(FileManager.default.isExecutableFile(atPath: Self.fleet), "\(Self.fleet) is not built")
        for prefix in Self.serverStack {
            #expect(try Self.symbolCount(ota, prefix: prefix) == 0, "ota links \(prefix)")
            // The check can fail: the server binary holds every one of them.
            #expect(try Self.symbolCount(Self.fleet, prefix: prefix) > 0, "ota-fleet shows no \(prefix)")
        }
    }

    @Test func `ota fleet runs ota-fleet with the same arguments and its exit status`() throws {
        let help = try CLIRunner.run(["fleet", "serve", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: ota-fleet serve"), "\(help.stdout)")
        let direct = try ProcessRunner.run(Self.fleet, ["--help"])
        #expect(direct.status == 0)
        #expect(direct.stdout.contains("serve"))
        // A usage error of ota-fleet reaches the caller as it is (exit 1, its code).
        let missing = try CLIRunner.run(["fleet", "serve", "--json"])
        #expect(missing.status == 1)
        #expect(missing.errorCode == "usage.invalid", "\(missing.stdout) \(missing.stderr)")
        #expect(missing.stderr.contains("--store"))
    }

    @Test func `ota fleet serve is the service process itself, stopped by the signal sent to ota`() throws {
        let directory = try TemporaryDirectory("fleet-exec")
        let pki = RepositoryRoot.path + "/keys-sample/intl"
        try directory.write("secret", "fleet-exec-test-secret-0123456789\n")
        let child = try ChildProcess(
            CLIRunner.executable.path,
            [
                "fleet", "serve", "--store", directory.appending("fleet.db"), "--trust", pki + "/trust", "--key",
                pki + "/compliance/compliance-signer.key", "--cert", pki + "/compliance/compliance-signer.crt",
                "--proxy-secret-file", directory.appending("secret"), "--state", directory.appending("state"),
                "--threads", "2", "--connections", "1",
            ])
        var text = ""
        while !text.contains("listening on") {
            let bytes = try child.read(timeout: 60)
            if bytes.isEmpty { break }
            text += String(decoding: bytes, as: UTF8.self)
        }
        #expect(text.contains("listening on 127.0.0.1:"), "\(text)")
        // exec, not a child: the process started as ota now runs the ota-fleet image.
        let image = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child.pid)/exe")
        #expect(image.hasSuffix("/ota-fleet"), "\(image)")
        child.kill(SIGTERM)
        let status = try child.wait()
        // Stopped by SIGTERM (the service unblocks it), not left running.
        #expect(status & 0x7f == 0 || status & 0x7f == SIGTERM, "wait status \(status)")
    }

    /// The secret travels in an HTTP header that nginx's `proxy_set_header` writes: visible ASCII.
    /// Read as text with repair, a secret of random bytes lost every invalid byte to U+FFFD (each
    /// then matched any invalid byte a client sent, which the header parser repairs the same way),
    /// and the length rule counted the repaired text; a secret with spaces or quotes cannot be
    /// written in nginx's configuration as it is.
    @Test(arguments: [
        ("short", Array("0123456789abcde\n".utf8)),
        ("not ASCII", Array("fleet-secret-".utf8) + [0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x0A]),
        ("a space inside", Array("fleet secret 0123456789".utf8)),
        ("a quote inside", Array("fleet\"secret0123456789".utf8)),
    ])
    func `a proxy secret that is not 16 or more visible ASCII characters is refused at start`(
        _ label: String, secret: [UInt8]
    ) throws {
        let directory = try TemporaryDirectory("fleet-secret")
        let pki = RepositoryRoot.path + "/keys-sample/intl"
        try Data(secret).write(to: URL(fileURLWithPath: directory.appending("secret")))
        let run = try ProcessRunner.run(
            Self.fleet,
            [
                "serve", "--store", directory.appending("fleet.db"), "--trust", pki + "/trust", "--key",
                pki + "/compliance/compliance-signer.key", "--cert", pki + "/compliance/compliance-signer.crt",
                "--proxy-secret-file", directory.appending("secret"), "--state", directory.appending("state"),
                "--listen", "127.0.0.1:0", "--threads", "2", "--connections", "1", "--json",
            ], timeout: 20)
        #expect(run.status == 1, "\(label): \(run.stdout) \(run.stderr)")
        let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any]
        #expect((json?["error"] as? [String: Any])?["code"] as? String == "usage.invalid", "\(label): \(run.stdout)")
        #expect(run.stderr.contains("proxy secret"), "\(label): \(run.stderr)")
    }

    @Test func `ota fleet without ota-fleet beside it or on PATH is a registered error`() throws {
        let directory = try TemporaryDirectory("fleet-missing")
        let lone = directory.appending("ota")
        // Copied by `cp`, not in this process: a descriptor open for writing here could be inherited by
        // a child another test spawns meanwhile, and exec of the copy would fail with ETXTBSY.
        let copied = try ProcessRunner.run("/bin/cp", [CLIRunner.executable.path, lone])
        #expect(copied.status == 0, "\(copied.stderr)")
        let output = try ProcessRunner.run(lone, ["fleet", "serve", "--json"], environment: ["PATH": directory.path])
        #expect(output.status == 1)
        let json = (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any]
        #expect((json?["error"] as? [String: Any])?["code"] as? String == "fleet.not-installed", "\(output.stdout)")
        #expect(output.stderr.contains("ota-fleet"))
        // Found on PATH when it is not beside ota.
        let products = (Self.fleet as NSString).deletingLastPathComponent
        let found = try ProcessRunner.run(lone, ["fleet", "--help"], environment: ["PATH": products])
        #expect(found.status == 0, "\(found.stderr)")
        #expect(found.stdout.contains("USAGE: ota-fleet"))
    }
}
