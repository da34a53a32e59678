import Foundation
import OTACore
import OTATestSupport
import Testing

/// The command line a newcomer meets: version, one error prefix, one JSON spelling, progress only
/// where it belongs, and early refusals of what a vehicle would refuse.
@Suite("Command line")
struct CommandLineTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A temporary directory with the sample images; removed by the caller.
    func workspace() throws -> String {
        let directory = try CLIRunner.temporaryDirectory()
        try SampleImages.make(in: directory + "/images")
        return directory
    }

    func signer(_ suite: String) -> [String] {
        let keys = "\(Self.repository)/keys-sample/\(suite)"
        return [
            "--key", "\(keys)/release/signer-1.key", "--cert", "\(keys)/release/signer-1.crt", "--chain",
            "\(keys)/release/chain.pem",
        ]
    }

    /// Every key of a JSON value, at any depth.
    static func keys(_ value: Any) -> [String] {
        if let object = value as? [String: Any] { return object.keys + object.values.flatMap(keys) }
        if let array = value as? [Any] { return array.flatMap(keys) }
        return []
    }

    @Test func `ota --version prints the version`() throws {
        let run = try CLIRunner.run(["--version"])
        #expect(run.status == 0)
        #expect(
            run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).wholeMatch(of: /\d+\.\d+\.\d+/) != nil,
            "\(run.stdout)")
    }

    /// Linux file names are bytes; Swift's arguments are UTF-8 with each bad byte repaired to
    /// U+FFFD, so an existing file named `bad\xff.img` was looked up as `bad\u{FFFD}.img` and
    /// reported "not found". Every executable now refuses such an argument by name, offset and
    /// byte (through a shell: a Swift string cannot carry the byte).
    @Test func `an argument that is not UTF-8 is refused as such, by every executable`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tools = [
            (CLIRunner.executable.path, "delta create \"$old\" \"$bad\" -o \"$dir/p\" --json", true),
            (CLIRunner.product("ota-diff").path, "\"$old\" \"$bad\" -o \"$dir/p\" --json", true),
            (CLIRunner.product("ota-patch").path, "\"$bad\" \"$old\" -o \"$dir/p\"", false),
            (CLIRunner.product("ota-fleet").path, "serve --config \"$bad\" --json", true),
            // `ota fleet` hands its arguments to ota-fleet: checked before, not repaired.
            (CLIRunner.executable.path, "fleet serve --config \"$bad\" --json", true),
        ]
        for (tool, arguments, json) in tools {
            let script = """
                dir=$1; old="$dir/old"; bad="$dir/bad$(printf '\\377').img"
                printf 'x' > "$old"; printf 'y' > "$bad"
                exec "$2" \(arguments)
                """
            let run = try ProcessRunner.run("/bin/sh", ["-c", script, "sh", directory, tool])
            let name = (tool as NSString).lastPathComponent
            #expect(run.status == 1, "\(name): \(run.stderr)")
            #expect(run.stderr.contains("is not valid UTF-8 (byte 0xFF at offset "), "\(name): \(run.stderr)")
            #expect(run.stderr.contains("[usage.invalid]"), "\(name): \(run.stderr)")
            #expect(!json || run.stdout.contains("\"code\" : \"usage.invalid\""), "\(name): \(run.stdout)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/p"), "\(name)")
        }
    }

    /// A passphrase is bytes: one in Latin-1 (`p\xe4ss`) opened its key from a file but not from
    /// `--passphrase-env`, whose value was decoded as UTF-8 and repaired (a wrong passphrase).
    @Test func `a passphrase that is not UTF-8 opens its key from the environment as from a file`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = """
            set -e
            dir=$1; ota=$2
            PW=$(printf 'p\\344ss-w\\366rd'); export PW
            printf '%s' "$PW" > "$dir/pw"
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass env:PW -out "$dir/k.pem" 2>/dev/null
            "$ota" keys csr --key "$dir/k.pem" --passphrase-file "$dir/pw" --cn A --org O --output "$dir/file.csr"
            "$ota" keys csr --key "$dir/k.pem" --passphrase-env PW --cn A --org O --output "$dir/env.csr"
            """
        let run = try ProcessRunner.run("/bin/sh", ["-c", script, "sh", directory, CLIRunner.executable.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/file.csr"))
        #expect(FileManager.default.fileExists(atPath: directory + "/env.csr"))
    }

    @Test func `an argument error has one prefix and exit status 1`() throws {
        let run = try CLIRunner.run(["bundle", "verify"])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("ota: error: "), "\(run.stderr)")
        #expect(!run.stderr.contains("Error: "), "\(run.stderr)")
        let json = try CLIRunner.run(["bundle", "verify", "--json"])
        #expect(json.errorCode == "usage.invalid")
    }

    @Test func `JSON output spells identifiers one way`() throws {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(Self.repository)/keys-sample/intl"
        let bundle = directory + "/ivi.ota"
        var outputs: [CLIRunner.Result] = []
        outputs.append(
            try CLIRunner.run(
                [
                    "bundle", "build", "\(Self.repository)/manifests/infotainment-full.yaml", "--images",
                    directory + "/images",
                ] + signer("intl")
                    + ["--recipient", "\(keys)/vehicle/device.crt", "-o", bundle, "--json"]))
        outputs.append(try CLIRunner.run(["bundle", "verify", bundle, "--trust", "\(keys)/trust", "--json"]))
        outputs.append(try CLIRunner.run(["bundle", "inspect", bundle, "--json"]))
        outputs.append(
            try CLIRunner.run([
                "vehicle", "init", directory + "/car", "--config", "\(Self.repository)/samples/vehicle-x1.yaml",
                "--images", directory + "/images", "--json",
            ]))
        try Data(
            #"{"parked": true, "gear": "P", "batteryPercent": 80, "driving": false, "doorsUnlockable": true}"#.utf8
        ).write(
            to: URL(fileURLWithPath: directory + "/state.json"))
        outputs.append(
            try CLIRunner.run([
                "install", "--workshop", bundle, "--vehicle", directory + "/car", "--state", directory + "/state.json",
                "--consent", "yes", "--json",
            ]))
        outputs.append(try CLIRunner.run(["vehicle", "status", directory + "/car", "--json"]))
        outputs.append(
            try CLIRunner.run([
                "records", "verify", directory + "/car/records", "--key", "\(keys)/vehicle/device.crt", "--json",
            ]))
        outputs.append(try CLIRunner.run(["errors", "--json"]))
        for output in outputs {
            #expect(output.status == 0, "\(output.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
            let offending = Self.keys(object).filter { $0.hasSuffix("ID") || $0.hasSuffix("IDs") }
            #expect(offending.isEmpty, "keys spelled …ID: \(Set(offending))")
        }
    }

    @Test func `install --no-activate, then vehicle activate`() throws {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(Self.repository)/keys-sample/intl"
        let bundle = directory + "/ivi.ota"
        #expect(
            try CLIRunner.run(
                [
                    "bundle", "build", "\(Self.repository)/manifests/infotainment-full.yaml", "--images",
                    directory + "/images",
                ] + signer("intl")
                    + ["--recipient", "\(keys)/vehicle/device.crt", "-o", bundle]
            ).status == 0)
        #expect(
            try CLIRunner.run([
                "vehicle", "init", directory + "/car", "--config", "\(Self.repository)/samples/vehicle-x1.yaml",
                "--images", directory + "/images",
            ]).status == 0)
        try Data(
            #"{"parked": true, "gear": "P", "batteryPercent": 80, "driving": false, "doorsUnlockable": true}"#.utf8
        ).write(
            to: URL(fileURLWithPath: directory + "/state.json"))
        let installed = try CLIRunner.run([
            "install", "--workshop", bundle, "--vehicle", directory + "/car", "--state", directory + "/state.json",
            "--consent", "yes", "--no-activate", "--json", "--progress", "json",
        ])
        #expect(((installed.json["result"] as? [String: Any])?["stage"] as? String) == "installed")
        // Progress on request: one JSON object per line on standard error, the result untouched.
        let events = installed.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(
            !events.isEmpty && events.allSatisfy { $0["step"] is String && $0["done"] is Int }, "\(installed.stderr)")
        let activated = try CLIRunner.run(["vehicle", "activate", directory + "/car", "--json"])
        #expect(activated.status == 0, "\(activated.stderr)")
        #expect(
            (((activated.json["result"] as? [String: Any])?["pending"] as? [String: Any])?["stage"] as? String)
                == "activated")
        let again = try CLIRunner.run(["vehicle", "activate", directory + "/car", "--json"])
        #expect(again.status == 2 && again.errorCode == "activate.nothing-installed")
    }

    @Test func `no command's help lists an option twice`() throws {
        // A subcommand's own --version once hid behind the tool's --version flag in its help.
        var pending: [[String]] = [[]]
        var walked = 0
        while let command = pending.popLast() {
            let help = try CLIRunner.run(command + ["--help"]).stdout
            walked += 1
            let lines = help.components(separatedBy: "\n")
            let options = lines.drop { $0 != "OPTIONS:" }.prefix { $0 != "SUBCOMMANDS:" }
            let names = options.compactMap { line -> String? in
                guard line.hasPrefix("  -") else { return nil }
                return line.split(separator: " ").first { $0.hasPrefix("--") }.map(String.init)
            }
            #expect(Set(names).count == names.count, "ota \(command.joined(separator: " ")): \(names)")
            let subcommands = lines.drop { $0 != "SUBCOMMANDS:" }.dropFirst()
                .prefix { !$0.hasPrefix("  See") }
                .compactMap { line -> String? in
                    guard line.hasPrefix("  "), let first = line.dropFirst(2).first, first.isLetter else { return nil }
                    return line.split(separator: " ").first.map(String.init)
                }
            pending += subcommands.map { command + [$0] }
        }
        #expect(walked > 40)
    }

    @Test func `trust update at the largest store version is refused, not a crash`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(Self.repository)/keys-sample/intl"
        try FileManager.default.copyItem(atPath: "\(keys)/trust", toPath: directory + "/trust")
        try Data(#"{"schema":"ota-trust/1","thresholds":{},"version":18446744073709551615}"#.utf8).write(
            to: URL(fileURLWithPath: directory + "/trust/trust.json"))
        let run = try CLIRunner.run([
            "trust", "update", "--trust", directory + "/trust", "--threshold", "release=1", "--key",
            "\(keys)/release/root-ca.key", "--cert", "\(keys)/release/root-ca.crt", "-o", directory + "/u.json",
            "--json",
        ])
        #expect(run.status == 2 && run.errorCode == "trust.update-version", "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/u.json"))
    }

    /// A serial is a number: leading zeros (a 20-byte serial with its top bit set is written
    /// with one in DER) do not count towards RFC 5280's 20 octets.
    @Test func `keys revoke takes a 20-byte serial written with leading zeros, and refuses zero and 21 bytes`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let ca = "\(Self.repository)/keys-sample/intl/release/signing-ca"
        func revoke(_ serial: String, _ output: String) throws -> CLIRunner.Result {
            try CLIRunner.run([
                "keys", "revoke", "--serial", serial, "--reason", "superseded", "--ca-key", ca + ".key", "--ca-cert",
                ca + ".crt", "-o", directory + "/" + output, "--json",
            ])
        }
        let twenty = "8" + String(repeating: "1", count: 39)
        let padded = try revoke("00" + twenty, "padded.crl")
        #expect(padded.status == 0, "\(padded.stderr)")
        let listed = try CertificateRevocationList.load(contentsOf: directory + "/padded.crl")[0]
        #expect(listed.revokedSerialNumbers == [twenty], "\(listed.revokedSerialNumbers)")
        for bad in ["0", "000", "1" + twenty] {
            let refused = try revoke(bad, "bad.crl")
            #expect(refused.status == 1 && refused.errorCode == "usage.invalid", "\(bad): \(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/bad.crl"))
        }
    }

    @Test func `help shows one default per option and readable sizes`() throws {
        let help = try CLIRunner.run(["bundle", "build", "--help"])
        let threads = help.stdout.components(separatedBy: "\n").drop { !$0.contains("--threads") }.prefix(2).joined()
        #expect(threads.components(separatedBy: "default").count == 2, "\(threads)")
        let deltaHelp = try CLIRunner.run(["delta", "create", "--help"])
        #expect(deltaHelp.stdout.contains("--dictionary-size"))
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let images = directory + "/images"
        let ok = try CLIRunner.run([
            "delta", "create", images + "/ivi-rootfs-2.3.1.img", images + "/ivi-rootfs-2.4.0.img", "-o",
            directory + "/p", "--dictionary-size", "4MiB",
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        let bad = try CLIRunner.run([
            "delta", "create", images + "/ivi-rootfs-2.3.1.img", images + "/ivi-rootfs-2.4.0.img", "-o",
            directory + "/q", "--dictionary-size", "3MiB", "--json",
        ])
        #expect(bad.status == 1 && bad.errorCode == "usage.invalid")
        #expect(!FileManager.default.fileExists(atPath: directory + "/q"))
    }

    @Test func `bundle rewrap takes the passphrase from the environment`() throws {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(Self.repository)/keys-sample/intl"
        let bundle = directory + "/ivi.ota"
        // The fleet key, encrypted here by the openssl command line.
        let encrypted = directory + "/fleet.enc.key"
        try OpenSSLTool.run([
            "pkcs8", "-topk8", "-in", "\(keys)/vehicle/fleet-recipient.key", "-out", encrypted, "-passout",
            "pass:s3cret",
        ])
        #expect(
            try CLIRunner.run(
                [
                    "bundle", "build", "\(Self.repository)/manifests/infotainment-full.yaml", "--images",
                    directory + "/images",
                ] + signer("intl")
                    + ["--recipient", "\(keys)/vehicle/fleet-recipient.crt", "-o", bundle]
            ).status == 0)
        let run = try CLIRunner.run(
            [
                "bundle", "rewrap", bundle, "--key", encrypted, "--passphrase-env", "FLEET_PASS", "--recipient",
                "\(keys)/vehicle/device.crt", "--json",
            ],
            environment: ["FLEET_PASS": "s3cret"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(((run.json["result"] as? [String: Any])?["recipients"] as? Int) == 2)
    }

    @Test func `keys init says it writes private keys`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let run = try CLIRunner.run(["keys", "init", "--suite", "intl", "--out", directory + "/pki"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("PRIVATE KEYS") && !run.stdout.contains("public keys"))
    }

    @Test func `a file that is not a bundle is called so`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        try Data("hello, not a bundle\n".utf8).write(to: URL(fileURLWithPath: directory + "/text.ota"))
        try Data(count: 0).write(to: URL(fileURLWithPath: directory + "/empty.ota"))
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: directory + "/junk.ota"))
        let tar = try ProcessRunner.run(
            "/usr/bin/env", ["tar", "--format=ustar", "-cf", "other.ota", "text.ota"], directory: directory)
        #expect(tar.status == 0, "\(tar.stderr)")
        for name in ["text.ota", "empty.ota", "junk.ota", "other.ota"] {
            for command in [
                ["bundle", "inspect"], ["bundle", "verify", "--trust", "\(Self.repository)/keys-sample/intl/trust"],
            ] {
                let run = try CLIRunner.run(command + [directory + "/" + name, "--json"])
                #expect(
                    run.status == 2 && run.errorCode == "bundle.not-a-bundle",
                    "\(command) \(name): \(run.errorCode ?? run.stderr) \(run.stdout)")
            }
        }
    }

    @Test func `the builder refuses before signing what every vehicle would refuse`() throws {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let original = try String(
            contentsOfFile: "\(Self.repository)/manifests/infotainment-full.yaml", encoding: .utf8)
        let cases: [(String, String, String)] = [
            (
                "expired", original.replacingOccurrences(of: "expires: 2036", with: "expires: 2026-01-02T00:00:00Z #"),
                "bundle.expires"
            ),
            (
                "from the future",
                original.replacingOccurrences(of: "created: 2026", with: "created: 2060-01-01T00:00:00Z #")
                    .replacingOccurrences(of: "expires: 2036", with: "expires: 2061-01-01T00:00:00Z #"),
                "bundle.created"
            ),
            (
                "a safety change without a filing",
                original.replacingOccurrences(of: "categories: [", with: "categories: [safety, ").replacingOccurrences(
                    of: "type: filing", with: "type: ta-extension"), "regulatory"
            ),
        ]
        for (what, text, field) in cases {
            #expect(text != original, "\(what): the manifest edit did not apply")
            let path = directory + "/\(what).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let run = try CLIRunner.run(
                ["bundle", "build", path, "--images", directory + "/images"] + signer("intl") + [
                    "-o", directory + "/out.ota", "--json",
                ])
            #expect(run.status == 1 && run.errorCode == "manifest.invalid", "\(what): \(run.stdout)")
            #expect(
                ((run.json["error"] as? [String: Any])?["message"] as? String)?.contains(field) == true,
                "\(what): \(run.stdout)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/out.ota"))
        }
    }

    @Test func `progress is a JSON line stream on request and silent when piped`() throws {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let build =
            [
                "bundle", "build", "\(Self.repository)/manifests/infotainment-full.yaml", "--images",
                directory + "/images",
            ] + signer("intl")
        let quiet = try CLIRunner.run(build + ["-o", directory + "/a.ota"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let lines = try CLIRunner.run(build + ["-o", directory + "/b.ota", "--progress", "json", "--json"])
        #expect(lines.status == 0)
        let events = lines.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0["step"] is String && $0["done"] is Int })
        #expect((events.last?["done"] as? Int) == (events.last?["total"] as? Int))
        // The result on standard output is untouched by progress.
        #expect(((lines.json["result"] as? [String: Any])?["bundleId"] as? String) != nil)
    }

    @Test func `one manifest builds in either suite`() throws {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let run = try CLIRunner.run(
            [
                "bundle", "build", "\(Self.repository)/manifests/infotainment-full.yaml", "--images",
                directory + "/images", "--suite", "gm",
            ] + signer("gm")
                + ["-o", directory + "/ivi-gm.ota", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(((run.json["result"] as? [String: Any])?["suite"] as? String) == "gm")
        let verified = try CLIRunner.run([
            "bundle", "verify", directory + "/ivi-gm.ota", "--trust", "\(Self.repository)/keys-sample/gm/trust",
        ])
        #expect(verified.status == 0, "\(verified.stderr)")
    }

    @Test func `verify --deep, delta create and delta apply stream progress on request and stay silent when piped`()
        throws
    {
        let directory = try workspace()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let images = directory + "/images", bundle = directory + "/a.ota"
        let built = try CLIRunner.run(
            ["bundle", "build", "\(Self.repository)/manifests/infotainment-full.yaml", "--images", images]
                + signer("intl") + ["-o", bundle])
        try #require(built.status == 0, "\(built.stderr)")
        let commands = [
            ["bundle", "verify", bundle, "--trust", "\(Self.repository)/keys-sample/intl/trust", "--deep"],
            [
                "delta", "create", images + "/ivi-rootfs-2.3.1.img", images + "/ivi-rootfs-2.4.0.img", "-o",
                directory + "/p.delta",
            ],
            ["delta", "apply", images + "/ivi-rootfs-2.3.1.img", directory + "/p.delta", "-o", directory + "/new.img"],
        ]
        for command in commands {
            let quiet = try CLIRunner.run(command)
            #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(command): \(quiet.stderr)")
            let lines = try CLIRunner.run(command + ["--progress", "json", "--json"])
            #expect(lines.status == 0 && lines.json["ok"] as? Bool == true, "\(command): \(lines.stderr)")
            let events = lines.stderr.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(
                !events.isEmpty && events.count == lines.stderr.split(separator: "\n").count,
                "\(command): \(lines.stderr)")
            #expect(events.allSatisfy { $0["step"] is String && $0["done"] is Int }, "\(command)")
            #expect((events.last?["done"] as? Int) == (events.last?["total"] as? Int), "\(command)")
            // Delta progress counts bytes (of the new image for create, of the patch for apply), so
            // rate and ETA mean something.
            if command[0] == "delta" {
                let counted = command[3]  // create: the new image; apply: the patch
                let size = try FileManager.default.attributesOfItem(atPath: counted)[.size] as? Int
                #expect(events.allSatisfy { $0["total"] as? Int == size }, "\(command): \(lines.stderr)")
                #expect(events.allSatisfy { $0["bytesPerSecond"] is Int }, "\(command): \(lines.stderr)")
            }
        }
    }

    @Test func `the documented shell completion scripts are generated`() throws {
        let readme = try String(contentsOfFile: Self.repository + "/README.md", encoding: .utf8)
        #expect(readme.contains("ota --generate-completion-script bash"))
        for shell in ["bash", "zsh", "fish"] {
            let run = try CLIRunner.run(["--generate-completion-script", shell])
            #expect(run.status == 0, "\(shell): \(run.stderr)")
            for command in ["bundle", "vehicle", "records", "keys", "delta"] {
                #expect(run.stdout.contains(command), "\(shell) completion lacks \(command)")
            }
        }
        let unknown = try CLIRunner.run(["--generate-completion-script", "tcsh"])
        #expect(unknown.status != 0 && !unknown.stderr.isEmpty)
    }
}
