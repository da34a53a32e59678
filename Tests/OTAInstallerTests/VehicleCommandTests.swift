import Foundation
import OTACore
import OTATestSupport
import Testing

/// `ota vehicle ...` and `ota install` end to end on the sample vehicle config, as a script
/// would run them: exit codes 0 / 1 / 2 and the `--json` codes.
@Suite("ota vehicle and ota install")
struct VehicleCommandTests {
    struct Run {
        let status: Int32
        let stdout: String
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]) ?? [:]
        }
        var code: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var result: [String: Any] { json["result"] as? [String: Any] ?? [:] }
    }

    static func ota(_ arguments: [String]) throws -> Run {
        let result = try ProcessRunner.run(CrashInjectionTests.executable, arguments)
        return Run(status: result.status, stdout: result.stdout)
    }

    /// `ota vehicle init` of the sample vehicle (`samples/vehicle-x1.yaml`) at `car`.
    static func initSampleVehicle(_ car: String, images: String) throws -> Run {
        try ota([
            "vehicle", "init", car, "--config", InstallerFixture.repository + "/samples/vehicle-x1.yaml", "--images",
            images, "--json",
        ])
    }

    /// A failed init leaves nothing it made (found by an audit helper): inside a directory that
    /// was there, a junk decryption key left vehicle.json, the seals, the slots and the copied key
    /// (the vehicle could then be neither opened nor made again), and the error named the copy;
    /// under parents it had to create, the parents stayed.
    @Test func `a failed init removes what it made, and names the key file given`() throws {
        let root = InstallerFixture.repository
        let directory = try TemporaryDirectory.create("vehicle-init")
        defer { TemporaryDirectory.remove(directory) }
        try SampleImages.make(in: directory + "/images")
        let config = String(
            decoding: try Data(contentsOf: URL(fileURLWithPath: root + "/samples/vehicle-x1.yaml")), as: UTF8.self
        )
        .replacingOccurrences(of: "../keys-sample", with: root + "/keys-sample")
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/x1.yaml"))
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: directory + "/junk.key"))
        let car = directory + "/car"
        try FileManager.default.createDirectory(atPath: car, withIntermediateDirectories: false)
        try Data("kept\n".utf8).write(to: URL(fileURLWithPath: car + "/notes.txt"))
        let init_ = ["vehicle", "init", car, "--config", directory + "/x1.yaml", "--images", directory + "/images"]
        let refused = try Self.ota(init_ + ["--decryption-key", directory + "/junk.key", "--json"])
        #expect(refused.status == 1 && refused.code == "key.malformed", "\(refused.stdout)")
        #expect(refused.stdout.contains(directory + "/junk.key"), "\(refused.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: car) == ["notes.txt"])
        #expect(try Self.ota(init_ + ["--json"]).status == 0)
        let deep = directory + "/p1/p2/car"
        let missing = try Self.ota([
            "vehicle", "init", deep, "--config", directory + "/x1.yaml", "--images", directory + "/nowhere", "--json",
        ])
        #expect(missing.status == 1, "\(missing.stdout)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/p1"), "parents left behind")
    }

    /// A configuration's text is validated as UTF-8, not repaired: a 0xFF byte in a SWIN was
    /// recorded as U+FFFD, a value the file never held.
    @Test func `a configuration that is not UTF-8 is refused before the vehicle is made`() throws {
        let root = InstallerFixture.repository
        let directory = try TemporaryDirectory.create("vehicle-cli")
        defer { TemporaryDirectory.remove(directory) }
        try SampleImages.make(in: directory + "/images")
        var config = try Array(Data(contentsOf: URL(fileURLWithPath: root + "/samples/vehicle-x1.yaml")))
        config = Array(
            String(decoding: config, as: UTF8.self).replacingOccurrences(
                of: "../keys-sample", with: root + "/keys-sample"
            )
            .utf8)
        let swin = Array("swin: SWIN-IVI-".utf8)
        let at = try #require(config.indices.first { config[$0...].starts(with: swin) }) + swin.count
        config.insert(0xFF, at: at)
        try Data(config).write(to: URL(fileURLWithPath: directory + "/x1.yaml"))
        let car = directory + "/car"
        let run = try Self.ota([
            "vehicle", "init", car, "--config", directory + "/x1.yaml", "--images", directory + "/images", "--json",
        ])
        #expect(run.status == 1)
        #expect(run.code == "vehicle.config-invalid")
        #expect(!FileManager.default.fileExists(atPath: car))
        // A counter written `011`: YAML 1.1 (Yams' decoder) read 9, the manifest reader 11; refused.
        let octal = String(
            decoding: try Data(contentsOf: URL(fileURLWithPath: root + "/samples/vehicle-x1.yaml")), as: UTF8.self
        )
        .replacingOccurrences(of: "../keys-sample", with: root + "/keys-sample")
        let counter = try #require(octal.range(of: "securityVersion: "))
        try Data(octal.replacingCharacters(in: counter, with: "securityVersion: 0").utf8).write(
            to: URL(fileURLWithPath: directory + "/octal.yaml"))
        let refused = try Self.ota([
            "vehicle", "init", car, "--config", directory + "/octal.yaml", "--images", directory + "/images", "--json",
        ])
        #expect(refused.status == 1 && refused.code == "vehicle.config-invalid", "\(refused.stdout)")
        #expect(refused.stdout.contains("ecus[0].securityVersion: '0"), "\(refused.stdout)")
        #expect(!FileManager.default.fileExists(atPath: car))
    }

    /// `vehicle status` on a read-only directory (an image mounted for inspection) shows the
    /// vehicle as found: the configuration and state checked against their seals, no lock taken,
    /// nothing recovered (before: it failed, as opening the vehicle takes the installer's lock).
    /// The directory is bind-mounted read-only in a mount namespace of its own (`unshare -m`,
    /// which needs root, as CI runs).
    @Test(.enabled(if: geteuid() == 0, "a read-only bind mount needs root"))
    func `status reads a vehicle on a read-only mount without changing it`() throws {
        let directory = try TemporaryDirectory.create("vehicle-ro")
        defer { TemporaryDirectory.remove(directory) }
        try SampleImages.make(in: directory + "/images")
        let car = directory + "/car"
        #expect(try Self.initSampleVehicle(car, images: directory + "/images").status == 0)
        let writable = try Self.ota(["vehicle", "status", car, "--json"])
        #expect(writable.status == 0 && writable.result["readOnly"] == nil, "\(writable.stdout)")
        let script = """
            mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && touch "$1/probe" 2>/dev/null && exit 9
            exec "$2" vehicle status "$1" --json
            """
        let run = try ProcessRunner.run(
            "/usr/bin/unshare", ["-m", "/bin/sh", "-c", script, "sh", car, CrashInjectionTests.executable])
        let readOnly = Run(status: run.status, stdout: run.stdout)
        #expect(readOnly.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(readOnly.result["readOnly"] as? Bool == true)
        #expect(readOnly.result["vin"] as? String == writable.result["vin"] as? String)
        #expect(
            (readOnly.result["ecus"] as? [String: Any])?.keys.sorted()
                == (writable.result["ecus"] as? [String: Any])?.keys.sorted())
        // A tampered state is refused on a read-only directory too.
        let journal = try FileManager.default.contentsOfDirectory(atPath: car + "/private").filter {
            $0.hasPrefix("state")
        }
        #expect(!journal.isEmpty)
        for name in journal {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: car + "/private/" + name))
            bytes[bytes.count / 2] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: car + "/private/" + name))
        }
        let tampered = try ProcessRunner.run(
            "/usr/bin/unshare", ["-m", "/bin/sh", "-c", script, "sh", car, CrashInjectionTests.executable])
        #expect(tampered.status != 0 && tampered.stdout.contains("vehicle.state-tampered"), "\(tampered.stdout)")
    }

    @Test func `install, reboot, confirm; refusals exit 2 with their code`() throws {
        let root = InstallerFixture.repository
        let directory = try TemporaryDirectory.create("vehicle-cli")
        defer { TemporaryDirectory.remove(directory) }
        try SampleImages.make(in: directory + "/images")
        let keys = root + "/keys-sample/intl"
        let signer = [
            "--key", "\(keys)/release/signer-1.key", "--cert", "\(keys)/release/signer-1.crt", "--chain",
            "\(keys)/release/chain.pem",
        ]
        for (manifest, bundle) in [("infotainment-full", "ivi"), ("adas-automated-driving", "adas")] {
            let build = try Self.ota(
                ["bundle", "build", "\(root)/manifests/\(manifest).yaml", "--images", directory + "/images"] + signer
                    + [
                        "--recipient", "\(keys)/vehicle/device.crt", "-o", "\(directory)/\(bundle).ota", "--json",
                    ])
            #expect(build.status == 0)
        }
        let car = directory + "/car"
        #expect(try Self.initSampleVehicle(car, images: directory + "/images").status == 0)
        #expect(FileManager.default.fileExists(atPath: car + "/boot/grubenv"))
        let state = directory + "/state.json"
        try Data(
            #"{"parked": true, "gear": "P", "batteryPercent": 85, "driving": false, "doorsUnlockable": true}"#.utf8
        ).write(to: URL(fileURLWithPath: state))
        // The sample vehicle installs only what its repository lists; a local file is a workshop install.
        let install = ["install", "--workshop", directory + "/ivi.ota", "--vehicle", car, "--json"]

        let noState = try Self.ota(install + ["--consent", "yes"])
        #expect(noState.status == 2 && noState.code == "precondition.unknown")
        // A reading the manifest needs, left out or misspelt, is not taken as met (before: installed).
        let lacking = directory + "/lacking.json", misspelt = directory + "/misspelt.json"
        try Data(#"{"parked": true, "gear": "P", "batteryPercent": 85, "doorsUnlockable": true}"#.utf8).write(
            to: URL(fileURLWithPath: lacking))
        try Data(#"{"parked": true, "gear": "P", "batteryPercent": 85, "drivng": false, "doorsUnlockable": true}"#.utf8)
            .write(to: URL(fileURLWithPath: misspelt))
        let unread = try Self.ota(install + ["--state", lacking, "--consent", "yes"])
        #expect(unread.status == 2 && unread.code == "precondition.unknown", "\(unread.stdout)")
        let typo = try Self.ota(install + ["--state", misspelt, "--consent", "yes"])
        #expect(typo.status == 1 && typo.code == "vehicle-state.malformed", "\(typo.stdout)")
        #expect(typo.stdout.contains("misspelt.json: vehicle-state: drivng: unknown field"), "\(typo.stdout)")
        let refused = try Self.ota(install + ["--state", state, "--consent", "no"])
        #expect(refused.status == 2 && refused.code == "consent.refused")
        let installed = try Self.ota(install + ["--state", state, "--consent", "yes", "--language", "zh-CN"])
        #expect(installed.status == 0 && installed.result["stage"] as? String == "activated")
        let early = try Self.ota(["vehicle", "confirm", car, "--json"])
        #expect(early.status == 2 && early.code == "confirm.not-booted")
        #expect(try Self.ota(["vehicle", "reboot", car, "--json"]).status == 0)
        #expect(try Self.ota(["vehicle", "confirm", car, "--json"]).status == 0)
        let status = try Self.ota(["vehicle", "status", car, "--json"])
        #expect(((status.result["ecus"] as? [String: Any])?["IVI"] as? [String: Any])?["version"] as? String == "2.4.0")

        let adas = [
            "install", "--workshop", directory + "/adas.ota", "--vehicle", car, "--state", state, "--consent", "yes",
            "--json",
        ]
        let missing = try Self.ota(adas)
        #expect(missing.status == 2 && missing.code == "approval.missing")
        let approval = directory + "/adas.approval"
        #expect(
            try Self.ota([
                "approve", directory + "/adas.ota", "--key", "\(keys)/approval/approval-signer.key", "--cert",
                "\(keys)/approval/approval-signer.crt", "--approval-id", "MIIT-AD-2026-0042", "--models", "X1", "-o",
                approval,
            ]).status == 0)
        // The sample manifest asks for 50 % battery.
        let approved = try Self.ota(adas + ["--approval", approval])
        #expect(approved.status == 0, "\(approved.stdout)")

        // Every step, refusals included, is in the tamper-evident log, which verifies with the
        // device certificate; one changed byte is caught.
        let log = car + "/records"
        let deviceCertificate = root + "/keys-sample/intl/vehicle/device.crt"
        let verify = try Self.ota(["records", "verify", log, "--key", deviceCertificate, "--json"])
        #expect(verify.status == 0, "\(verify.stdout)")
        let segments = try FileManager.default.contentsOfDirectory(atPath: log).filter {
            $0.hasPrefix("seg") || $0.hasSuffix(".log")
        }.sorted()
        let text = try segments.map { try String(contentsOfFile: log + "/" + $0, encoding: .utf8) }.joined()
        for expected in [
            "consent.refused", "approval.missing", "precondition.unknown", "\"step\":\"vehicle.init\"",
            "\"step\":\"apply.image\"", "\"ecu\":\"IVI\"", "\"versionBefore\":\"2.3.1\"",
            "\"swinAfter\":\"SWIN-IVI-2.4.0\"",
        ] {
            #expect(text.contains(expected), "record log lacks \(expected)")
        }
        if let first = segments.first {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: log + "/" + first))
            if let index = bytes.firstRange(of: Data("consent.refused".utf8))?.lowerBound {
                bytes[index] = UInt8(ascii: "C")
                try bytes.write(to: URL(fileURLWithPath: log + "/" + first))
                #expect(try Self.ota(["records", "verify", log, "--key", deviceCertificate, "--json"]).status == 2)
            }
        }

        let usage = try Self.ota(["install", directory + "/ivi.ota", "--vehicle", directory + "/no-such-car", "--json"])
        #expect(usage.status == 1 && usage.code == "vehicle.not-found")
    }
}
