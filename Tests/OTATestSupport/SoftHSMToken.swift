import Foundation

/// A real SoftHSM2 token in a temporary directory, with key pairs generated inside it by
/// `pkcs11-tool` (OpenSC): the private halves never exist outside the token.
///
/// SoftHSM reads its configuration (`SOFTHSM2_CONF`) when the module is initialised, and
/// OpenSSL's pkcs11 engine keeps one module per process, so a test process uses one token
/// directory: `SoftHSMToken.shared`, made on first use, with `environment` set for the process.
public final class SoftHSMToken: Sendable {
    public static let module = "/usr/lib/softhsm/libsofthsm2.so"
    public static let label = "ota-test"
    public static let pin = "4711-0815"

    /// The temporary directory holding the configuration, the token and `pin.txt`.
    public let directory: String
    /// `SOFTHSM2_CONF` for child processes.
    public var environment: [String: String] { ["SOFTHSM2_CONF": directory + "/softhsm2.conf"] }
    /// The PIN file, for `pin-source`.
    public var pinFile: String { directory + "/pin.txt" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether SoftHSM2, OpenSC's pkcs11-tool and OpenSSL's pkcs11 engine are installed.
    public static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: module)
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/pkcs11-tool")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/softhsm2-util")
            && FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so")
    }

    /// The process's token (the set-up runs once; `SOFTHSM2_CONF` is set for this process).
    public static let shared: Result<SoftHSMToken, Failure> = {
        do {
            let token = try SoftHSMToken()
            setenv("SOFTHSM2_CONF", token.environment["SOFTHSM2_CONF"]!, 1)
            // A static lives until the process ends: remove the token directory then.
            atexit {
                if case .success(let token) = SoftHSMToken.shared {
                    try? FileManager.default.removeItem(atPath: token.directory)
                }
            }
            return .success(token)
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()

    private let lock = NSLock()

    init() throws {
        guard Self.isAvailable else {
            throw Failure(
                description:
                    "SoftHSM2, opensc or libengine-pkcs11-openssl is not installed (scripts/install-deps.sh installs them)"
            )
        }
        directory = NSTemporaryDirectory() + "ota-softhsm-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
        try "directories.tokendir = \(directory)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
            .write(toFile: directory + "/softhsm2.conf", atomically: true, encoding: .utf8)
        try (Self.pin + "\n").write(toFile: pinFile, atomically: true, encoding: .utf8)
        try run(
            "/usr/bin/softhsm2-util",
            ["--init-token", "--free", "--label", Self.label, "--pin", Self.pin, "--so-pin", "12345678"])
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Generates a key pair in the token (`EC:prime256v1`, `EC:edwards25519`) unless one with
    /// `label` exists; returns the URI of its private half (module and PIN file included).
    @discardableResult
    public func keyPair(label: String, type: String = "EC:prime256v1", id: String, token: String = SoftHSMToken.label)
        throws -> String
    {
        lock.lock()
        defer { lock.unlock() }
        let tokens = try run("/usr/bin/softhsm2-util", ["--show-slots"])
        if !tokens.contains("Label:            \(token) ") && !tokens.contains("Label:            \(token)\n") {
            try run(
                "/usr/bin/softhsm2-util",
                ["--init-token", "--free", "--label", token, "--pin", Self.pin, "--so-pin", "12345678"])
        }
        let listing = try run(
            "/usr/bin/pkcs11-tool",
            [
                "--module", Self.module, "--token-label", token, "--login", "--pin", Self.pin, "--list-objects",
                "--type", "privkey",
            ])
        if !listing.contains("label:      \(label)\n") {
            try run(
                "/usr/bin/pkcs11-tool",
                [
                    "--module", Self.module, "--token-label", token, "--login", "--pin", Self.pin, "--keypairgen",
                    "--key-type", type,
                    "--label", label, "--id", id,
                ])
        }
        return uri(label: label, token: token)
    }

    /// The URI of a private key by label, with the module and the PIN file.
    public func uri(label: String, token: String = SoftHSMToken.label) -> String {
        "pkcs11:token=\(token);object=\(label);type=private?module-path=\(Self.module)&pin-source=\(pinFile)"
    }

    /// Exports the public half of key `id` (hex) as a PEM SubjectPublicKeyInfo, through the token.
    public func publicKeyPEM(id: String, to path: String) throws {
        try run(
            "/usr/bin/pkcs11-tool",
            [
                "--module", Self.module, "--token-label", Self.label, "--read-object", "--type", "pubkey", "--id", id,
                "--output-file", path + ".der",
            ])
        try OpenSSLTool.run(["pkey", "-pubin", "-inform", "DER", "-in", path + ".der", "-out", path])
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        let result = try ProcessRunner.run(tool, arguments, environment: environment)
        let text = result.stdout + result.stderr
        guard result.status == 0 else {
            throw Failure(description: "\(tool) \(arguments.joined(separator: " ")) exited \(result.status): \(text)")
        }
        return text
    }
}
