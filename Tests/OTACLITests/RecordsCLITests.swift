import Foundation
import OTACore
import OTATestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ota records ...` end to end: output, `--json` codes and exit statuses.
@Suite(.serialized) struct RecordsCLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var ota: String { CLIRunner.executable.path }

    /// Runs the built `ota` (through the shared runner: a missing binary fails the test).
    func ota(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let run = try CLIRunner.run(arguments, environment: environment)
        return Run(status: run.status, stdout: run.stdout, stderr: run.stderr)
    }

    static let samples =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/keys-sample"

    static func record(
        _ step: String, outcome: String = "success", time: String = "2026-03-01T08:00:00.000Z", extra: String = ""
    ) -> String {
        #"{"time":{"at":"\#(time)","source":"gnss"},"attempt":"a1","step":"\#(step)","outcome":"\#(outcome)","update":{"bundle":"b-1","campaign":"C-1"},"ecus":[{"ecu":"adas","versionBefore":"1.0","versionAfter":"1.1","swinBefore":"S1","swinAfter":"S2"}]\#(extra)}"#
    }

    @Test func `append, verify, tamper, ingest, export and verify-export`() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.ota), "build the ota executable first")
        let dir = NSTemporaryDirectory() + "ota-records-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gm = Self.samples + "/gm"
        let device = gm + "/vehicle/device.key", certificate = gm + "/vehicle/device.crt"
        let log = dir + "/log"
        for step in ["verify", "consent", "apply.image", "result"] {
            let run = try ota([
                "records", "append", log, "--key", device, "--vin", "LSVAU2180N2000001", "--suite", "gm", "--record",
                Self.record(step),
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let refused = try ota([
            "records", "append", log, "--key", device, "--json", "--record",
            Self.record("commit", extra: #","location":"31.2,121.4""#),
        ])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("\"records.field-unknown\""))

        let verified = try ota(["records", "verify", log, "--key", certificate, "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("\"records\" : 4"))

        let store = dir + "/fleet.db"
        #expect(
            try ota([
                "records", "export", "--store", store, "--key", gm + "/compliance/compliance-signer.key", "--cert",
                gm + "/compliance/compliance-signer.crt",
                "-o", dir + "/never", "--json",
            ]).stdout.contains("\"records.store-missing\""))
        #expect(!FileManager.default.fileExists(atPath: store))
        let ingest = try ota(["records", "ingest", "--store", store, "--key", certificate, log])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let register = try ota(["records", "register", "--store", store, "--swin", "S2", "--json"])
        #expect(
            register.status == 0 && register.stdout.contains("LSVAU2180N2000001"),
            "\(register.stdout)\(register.stderr)")
        let export = try ota([
            "records", "export", "--store", store, "--key", gm + "/compliance/compliance-signer.key", "--cert",
            gm + "/compliance/compliance-signer.crt",
            "--trust", gm + "/trust", "-o", dir + "/export", "--lang", "zh-CN", "--campaign", "C-1",
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let checked = try ota(["records", "verify-export", dir + "/export", "--trust", gm + "/trust"])
        #expect(checked.status == 0, "\(checked.stderr)")
        // A release key is not a compliance key.
        let wrongRole = try ota([
            "records", "export", "--store", store, "--key", gm + "/release/signer-1.key", "--cert",
            gm + "/release/signer-1.crt",
            "--chain", gm + "/release/chain.pem", "--trust", gm + "/trust", "-o", dir + "/export2", "--json",
        ])
        #expect(wrongRole.status == 2 && wrongRole.stdout.contains("\"export.signer-role\""))
        try AtomicFileWriter.write(Array("tampered\n".utf8), to: dir + "/export/records.jsonl")
        let altered = try ota(["records", "verify-export", dir + "/export", "--trust", gm + "/trust", "--json"])
        #expect(altered.status == 2)
        #expect(altered.stdout.contains("\"records.export-altered\""))
        unlink(dir + "/export/manifest.sig")
        let unsigned = try ota(["records", "verify-export", dir + "/export", "--trust", gm + "/trust", "--json"])
        #expect(unsigned.status == 2 && unsigned.stdout.contains("\"records.export-unsigned\""))

        // Tamper with the log: exit 2 and the code says how.
        let segment = log + "/segment-00000000000000000000.log"
        let text = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        try AtomicFileWriter.write(
            Array(text.replacingOccurrences(of: "\"step\":\"consent\"", with: "\"step\":\"commit\"").utf8), to: segment)
        let tampered = try ota(["records", "verify", log, "--key", certificate, "--json"])
        #expect(tampered.status == 2)
        #expect(tampered.stdout.contains("\"records.changed\""))
        let reingest = try ota(["records", "ingest", "--store", store, "--key", certificate, log])
        #expect(reingest.status == 2)
        // One bad log among several: the others are still ingested, the command exits 2.
        #expect(
            try ota([
                "records", "append", dir + "/log2", "--key", device, "--vin", "LSVAU2180N2000002", "--suite", "gm",
                "--record", Self.record("apply.image"),
            ]).status == 0)
        let mixed = try ota(["records", "ingest", "--store", store, "--key", certificate, log, dir + "/log2", "--json"])
        #expect(mixed.status == 2)
        #expect(mixed.stdout.contains("1 of 2 logs rejected"))
        let count = try ota(["records", "query", "--store", store, "--vin", "LSVAU2180N2000002", "--count"])
        #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let successes = try ota(["records", "query", "--store", store, "--result", "success", "--count"])
        #expect(successes.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "5")

        let purge = try ota([
            "records", "purge", "--store", store, "--before", "2026-06-01T00:00:00Z", "--reason", "test",
            "--key", gm + "/compliance/compliance-signer.key", "--cert", gm + "/compliance/compliance-signer.crt",
            "--json",
        ])
        #expect(purge.status == 2)
        #expect(purge.stdout.contains("\"records.retention\""))
        let future = try ota([
            "records", "purge", "--store", store, "--before", "2026-06-01T00:00:00Z", "--now", "2037-01-01T00:00:00Z",
            "--reason", "test",
            "--key", gm + "/compliance/compliance-signer.key", "--cert", gm + "/compliance/compliance-signer.crt",
            "--json",
        ])
        #expect(future.status == 2 && future.stdout.contains("\"records.purge-clock\""), "\(future.stdout)")
    }

    /// A write that fails (a full disk, here a file-size limit: `prlimit --fsize` with SIGXFSZ
    /// ignored, so the write returns EFBIG at that byte) is taken back from the segment. The
    /// record's own line failing: exit 1, nothing appended, and a retry appends it once. Only its
    /// checkpoint failing: exit 0 with the checkpoint pending (before: exit 1 for a durable record,
    /// which a retry appended twice, and a torn line left for the next open to quarantine).
    @Test func `a full disk never leaves half a line, nor reports a durable record as not appended`() throws {
        let dir = try TemporaryDirectory("records-full")
        let key = dir.appending("device.key")
        try OpenSSLTool.run(["genpkey", "-algorithm", "ed25519", "-out", key])
        let log = dir.appending("log")
        let first = try ota([
            "records", "append", log, "--key", key, "--vin", "LSVAU2180N2000001", "--record", Self.record("verify"),
        ])
        try #require(first.status == 0, "\(first.stderr)")
        let segment = try #require(
            try FileManager.default.contentsOfDirectory(atPath: log).first { $0.hasPrefix("segment-") })
        func size(_ directory: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: directory + "/" + segment)[.size] as? Int) ?? -1
        }
        // How much one append and its checkpoint add (Ed25519: fixed-length signatures).
        let copy = dir.appending("copy")
        try FileManager.default.copyItem(atPath: log, toPath: copy)
        try #require(
            try ota(["records", "append", copy, "--key", key, "--record", Self.record("consent")]).status == 0)
        let before = try size(log)
        let growth = try size(copy) - before
        func limited(_ bytes: Int) throws -> ProcessRunner.Output {
            try ProcessRunner.run(
                "/bin/sh",
                [
                    "-c",
                    "trap '' XFSZ; exec prlimit --fsize=$0 \"$1\" records append \"$2\" --key \"$3\" --json --record \"$4\"",
                    String(bytes), Self.ota, log, key, Self.record("consent"),
                ])
        }
        let failed = try limited(before + 1)
        #expect(failed.status == 1 && failed.stdout.contains("\"io.write\""), "\(failed.stdout) \(failed.stderr)")
        #expect(try size(log) == before, "half a line left behind")
        let pending = try limited(before + growth - 1)
        #expect(
            pending.status == 0 && pending.stdout.contains("\"checkpointPending\""),
            "\(pending.stdout) \(pending.stderr)")
        #expect(pending.stderr.contains("its checkpoint is not written yet"), "\(pending.stderr)")
        let verified = try ota(["records", "verify", log, "--key", key, "--json"])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.contains("\"records\" : 2"), "\(verified.stdout)")
        // The pending checkpoint is written by the next append.
        #expect(try ota(["records", "append", log, "--key", key, "--record", Self.record("result")]).status == 0)
        let after = try ota(["records", "verify", log, "--key", key, "--json"])
        #expect(
            after.stdout.contains("\"records\" : 3") && after.stdout.contains("\"unsignedTail\" : 0"), "\(after.stdout)"
        )
    }

    /// Options for a new log that disagree with the log there were ignored, exit 0; a key that
    /// cannot sign left a directory with only a lock (found by an audit helper).
    /// What a regulator looks up by (a SWIN, a version, an approval number) must compare as bytes
    /// do: NFC, no control characters, no bidirectional overrides.
    @Test(arguments: ["SWIN-e\u{301}", "SWIN\nADAS", "SWIN\u{7}", "SWIN-\u{202E}24", "SWIN\u{85}"])
    func `append refuses an identifier that is not NFC or holds control characters`(swin: String) throws {
        let dir = try TemporaryDirectory("records-identifiers")
        let key = Self.samples + "/intl/vehicle/device.key"
        let log = dir.appending("log")
        // JSON escapes what it must (below U+0020); the rest is written as UTF-8.
        let escaped = swin.unicodeScalars.map { $0.value >= 0x20 ? String($0) : String(format: "\\u%04x", $0.value) }
            .joined()
        let record = Self.record("verify").replacingOccurrences(
            of: "\"swinAfter\":\"S2\"", with: "\"swinAfter\":\"\(escaped)\"")
        #expect(record.contains(escaped))
        let run = try ota([
            "records", "append", log, "--key", key, "--vin", "LSVAU2180N2000001", "--json", "--record", record,
        ])
        #expect(run.status == 1 && run.stdout.contains("\"records.field-type\""), "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("swinAfter"), "\(run.stdout)")
        #expect(!FileManager.default.fileExists(atPath: log))
    }

    @Test func `append refuses options that disagree with the log, and a key that cannot sign makes nothing`() throws {
        let dir = try TemporaryDirectory("records-options")
        let key = Self.samples + "/intl/vehicle/device.key"
        let log = dir.appending("log")
        let first = try ota([
            "records", "append", log, "--key", key, "--vin", "LSVAU2180N2000001", "--record", Self.record("verify"),
        ])
        try #require(first.status == 0, "\(first.stderr)")
        let otherVIN = try ota([
            "records", "append", log, "--key", key, "--vin", "LSVAU2180N2000002", "--json", "--record",
            Self.record("consent"),
        ])
        #expect(otherVIN.status == 1 && otherVIN.stdout.contains("\"records.vin-mismatch\""), "\(otherVIN.stdout)")
        let otherSuite = try ota([
            "records", "append", log, "--key", key, "--suite", "gm", "--json", "--record", Self.record("consent"),
        ])
        #expect(otherSuite.status == 1 && otherSuite.stdout.contains("\"usage.invalid\""), "\(otherSuite.stdout)")
        let agreeing = try ota([
            "records", "append", log, "--key", key, "--vin", "LSVAU2180N2000001", "--suite", "intl", "--record",
            Self.record("consent"),
        ])
        #expect(agreeing.status == 0, "\(agreeing.stderr)")
        let x25519 = dir.appending("x25519.key")
        try OpenSSLTool.run(["genpkey", "-algorithm", "x25519", "-out", x25519])
        let fresh = dir.appending("fresh")
        let refused = try ota([
            "records", "append", fresh, "--key", x25519, "--vin", "LSVAU2180N2000001", "--json", "--record",
            Self.record("verify"),
        ])
        #expect(refused.status == 1 && refused.stdout.contains("\"key.cannot-sign\""), "\(refused.stdout)")
        #expect(!FileManager.default.fileExists(atPath: fresh), "a directory was left behind")
    }

    @Test func `a log verifies against the device certificate`() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.ota), "build the ota executable first")
        let dir = NSTemporaryDirectory() + "ota-records-cert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let intl = Self.samples + "/intl"
        #expect(
            try ota([
                "records", "append", dir + "/log", "--key", intl + "/vehicle/device.key", "--vin", "LSVAU2180N2000001",
                "--record", Self.record("apply.image"),
            ]).status == 0)
        let run = try ota(["records", "verify", dir + "/log", "--key", intl + "/vehicle/device.crt"])
        #expect(run.status == 0, "\(run.stderr)")
        let other = try ota([
            "records", "verify", dir + "/log", "--key", Self.samples + "/gm/vehicle/device.crt", "--json",
        ])
        #expect(other.status == 2 && other.stdout.contains("\"records.key-mismatch\""))
    }

    @Test func `the device key may be encrypted, with its passphrase from the environment or a file`() throws {
        let dir = try TemporaryDirectory("records-passphrase")
        let intl = Self.samples + "/intl"
        let encrypted = dir.path + "/device.enc.key"
        let openssl = try ProcessRunner.run(
            "/usr/bin/openssl",
            ["pkcs8", "-topk8", "-in", intl + "/vehicle/device.key", "-out", encrypted, "-passout", "pass:s3cret"])
        try #require(openssl.status == 0, "\(openssl.stderr)")
        try AtomicFileWriter.write(Array("s3cret\n".utf8), to: dir.path + "/pass")
        let log = dir.path + "/log"
        let withoutPassphrase = try ota([
            "records", "append", log, "--key", encrypted, "--vin", "LSVAU2180N2000001", "--json", "--record",
            Self.record("verify"),
        ])
        #expect(withoutPassphrase.status != 0 && !FileSystem.exists(log + "/log.json"), "\(withoutPassphrase.stdout)")
        let appended = try ota(
            [
                "records", "append", log, "--key", encrypted, "--passphrase-env", "DEVICE_PASS", "--vin",
                "LSVAU2180N2000001", "--record", Self.record("verify"),
            ],
            environment: ["DEVICE_PASS": "s3cret"])
        #expect(appended.status == 0, "\(appended.stderr)")
        let acknowledged = try ota([
            "records", "ack", log, "--key", encrypted, "--passphrase-file", dir.path + "/pass", "--through", "0",
            "--hash", String(repeating: "0", count: 64),
        ])
        // The key opens; the hash is wrong, so the acknowledgement itself is refused.
        #expect(
            acknowledged.status != 0 && acknowledged.stderr.contains("does not have hash"), "\(acknowledged.stderr)")
        let wrong = try ota(
            ["records", "prune", log, "--key", encrypted, "--passphrase-env", "DEVICE_PASS", "--json"],
            environment: ["DEVICE_PASS": "wrong"])
        #expect(wrong.status != 0 && wrong.stdout.contains("\"code\""), "\(wrong.stdout)")
        #expect(
            try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt", "--progress", "json"]).status == 0
        )
    }

    /// The audit's repro: a record line appended with its hash (no key needed) after the last
    /// checkpoint. `verify` says so in words, and the next `append` states the range as unsigned
    /// before its checkpoint instead of signing it silently; `verify` then lists the range.
    @Test func `a record forged after the last checkpoint is never signed silently by the next append`() throws {
        let dir = try TemporaryDirectory("records-forged")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        let base = try ota([
            "records", "append", log, "--key", intl + "/vehicle/device.key", "--vin", "LSVAU2180N2000001",
            "--record", Self.record("verify"),
        ])
        #expect(base.status == 0, "\(base.stderr)")
        let segment = log + "/segment-00000000000000000000.log"
        let lines = String(decoding: try FileSystem.read(segment), as: UTF8.self).split(separator: "\n")
        let last = try #require(lines.last?.split(separator: " ", maxSplits: 2))
        let seq = try #require(UInt64(last[1])) + 1
        // The body in canonical JSON (members sorted), as the recorder writes it: verify finds nothing wrong.
        let body =
            #"{"attempt":"a1","ecus":[{"ecu":"adas","swinAfter":"S2","swinBefore":"S1","versionAfter":"1.1","versionBefore":"1.0"}],"outcome":"success","step":"commit","time":{"at":"2026-03-01T08:30:00.000Z","source":"gnss"},"update":{"bundle":"b-1","campaign":"C-1"}}"#
        let rest = "\(seq) \(last[0]) record " + body
        let line = try Hasher.hash(.sha256, Array(rest.utf8)).hex + " " + rest + "\n"
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data(line.utf8))
        handle.closeFile()

        let before = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt"])
        #expect(before.status == 0 && before.stdout.contains("not signed"), "\(before.stdout)\(before.stderr)")
        let next = try ota([
            "records", "append", log, "--key", intl + "/vehicle/device.key", "--record",
            Self.record("result", time: "2026-03-01T08:40:00.000Z"), "--json",
        ])
        #expect(next.status == 0 && next.stdout.contains("\"unsignedRanges\""), "\(next.stdout)\(next.stderr)")
        let after = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt"])
        #expect(
            after.status == 0 && after.stdout.contains("entry \(seq) was found unsigned"),
            "\(after.stdout)\(after.stderr)")
        let json = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt", "--json"])
        #expect(json.stdout.contains("\"unsignedRanges\""), "\(json.stdout)")
    }

    /// The attack: the last checkpoint's time rewritten (its line's hash and HEAD's copy redone,
    /// which needs no key), say to move the newest signed time a prune or the installer's clock
    /// floor trusts. The checkpoint's signature covers its time, so verify reports it; stripping
    /// the signed-message version (to have the time-less message checked) does not help.
    @Test(arguments: [false, true])
    func `a checkpoint whose time was rewritten does not verify`(dropVersion: Bool) throws {
        let dir = try TemporaryDirectory("records-checkpoint-time")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        for (step, time) in [("verify", "2026-03-01T08:00:00.000Z"), ("result", "2026-03-01T08:10:00.000Z")] {
            let run = try ota([
                "records", "append", log, "--key", intl + "/vehicle/device.key", "--vin", "LSVAU2180N2000001",
                "--record", Self.record(step, time: time),
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let intact = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt"])
        #expect(intact.status == 0, "\(intact.stdout)\(intact.stderr)")
        let segment = log + "/segment-00000000000000000000.log"
        let text = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        let old = try #require(text.split(separator: "\n").last.map(String.init))
        let fields = old.split(separator: " ", maxSplits: 4).map(String.init)
        try #require(fields.count == 5 && fields[3] == "checkpoint", "\(old)")
        let at = try #require(fields[4].range(of: #""at":"[^"]*""#, options: .regularExpression))
        var body = fields[4].replacingCharacters(in: at, with: #""at":"2031-01-01T00:00:00.000Z""#)
        if dropVersion { body = body.replacingOccurrences(of: #","v":3"#, with: "") }
        let rest = "\(fields[1]) \(fields[2]) checkpoint \(body)"
        let forged = try Hasher.hash(.sha256, Array(rest.utf8)).hex + " " + rest
        try AtomicFileWriter.write(Array(text.replacingOccurrences(of: old, with: forged).utf8), to: segment)
        let head = String(decoding: try FileSystem.read(log + "/HEAD"), as: UTF8.self)
        try #require(head.contains(old))
        try AtomicFileWriter.write(Array(head.replacingOccurrences(of: old, with: forged).utf8), to: log + "/HEAD")

        let run = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt", "--json"])
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("\"records.checkpoint-signature\""), "\(run.stdout)")
    }

    /// A log written before checkpoints signed their time (version 2, no `v`: the committed
    /// fixture was written by the recorder of that time) still verifies, and the recorder goes on
    /// with version 3 checkpoints in it.
    @Test func `a log whose checkpoints do not sign their time still verifies and takes new checkpoints`() throws {
        let dir = try TemporaryDirectory("records-checkpoint-v2")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        let fixture =
            URL(fileURLWithPath: Self.samples).deletingLastPathComponent().path
            + "/Tests/Fixtures/records-checkpoint-v2"
        try FileManager.default.copyItem(atPath: fixture, toPath: log)
        let segment = log + "/segment-00000000000000000000.log"
        let old = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        #expect(old.contains(" checkpoint ") && !old.contains(#""v":"#), "the fixture holds version 2 checkpoints")
        let verified = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt"])
        #expect(verified.status == 0 && verified.stdout.contains("intact"), "\(verified.stdout)\(verified.stderr)")
        let appended = try ota([
            "records", "append", log, "--key", intl + "/vehicle/device.key", "--record",
            Self.record("commit", time: "2026-03-01T08:20:00.000Z"),
        ])
        #expect(appended.status == 0, "\(appended.stderr)")
        let text = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        let last = try #require(text.split(separator: "\n").last)
        #expect(last.contains(" checkpoint ") && last.hasSuffix(#","v":3}"#), "\(last)")
        let again = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt"])
        #expect(again.status == 0 && again.stdout.contains("intact"), "\(again.stdout)\(again.stderr)")
    }

    /// An export made with --no-evidence proves only that the compliance key signed it: the
    /// verdict says in words (and in --json) that the rows were not checked against the
    /// vehicles' signatures, and --require-evidence makes that a refusal (exit 2).
    @Test func `verify-export says plainly when rows were not checked against the vehicles, and can require it`()
        throws
    {
        let dir = try TemporaryDirectory("records-no-evidence")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        for step in ["verify", "result"] {
            let run = try ota([
                "records", "append", log, "--key", intl + "/vehicle/device.key", "--vin", "LSVAU2180N2000001",
                "--record", Self.record(step),
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let store = dir.path + "/fleet.db"
        #expect(
            try ota(["records", "ingest", "--store", store, "--key", intl + "/vehicle/device.crt", log]).status == 0)
        let export = try ota([
            "records", "export", "--store", store, "--key", intl + "/compliance/compliance-signer.key", "--cert",
            intl + "/compliance/compliance-signer.crt", "-o", dir.path + "/export", "--no-evidence",
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let plain = try ota(["records", "verify-export", dir.path + "/export", "--trust", intl + "/trust"])
        #expect(
            plain.status == 0 && plain.stdout.contains("NOT checked against the vehicles' signatures"),
            "\(plain.stdout)\(plain.stderr)")
        let json = try ota(["records", "verify-export", dir.path + "/export", "--trust", intl + "/trust", "--json"])
        #expect(json.stdout.contains("\"evidenceChecked\" : false"), "\(json.stdout)")
        let required = try ota([
            "records", "verify-export", dir.path + "/export", "--trust", intl + "/trust", "--require-evidence",
            "--json",
        ])
        #expect(required.status == 2 && required.stdout.contains("\"records.evidence\""), "\(required.stdout)")
    }

    /// The record's time comes from the caller (with its source); the genesis and checkpoints
    /// `append` writes take their time from the system clock, so they name the system clock's
    /// source, not the record's.
    @Test func `append's own entries name the system clock, not the record's time source`() throws {
        let dir = try TemporaryDirectory("records-source")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        let run = try ota([
            "records", "append", log, "--key", intl + "/vehicle/device.key", "--vin", "LSVAU2180N2000001",
            "--record", Self.record("verify"),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = String(decoding: try FileSystem.read(log + "/segment-00000000000000000000.log"), as: UTF8.self)
            .split(separator: "\n")
        for line in lines {
            let fields = line.split(separator: " ", maxSplits: 4)
            let source = fields[4].contains(#""source":"gnss""#)
            #expect(fields[3] == "record" ? source : !source, "\(line)")
        }
    }

    /// The audit's repro for prune: a time years ahead was taken as now. It is refused with the
    /// reason and nothing is written; --override-clock takes it, and the usual rules then apply
    /// (here: one segment, the active one, which never goes).
    @Test func `prune refuses a time far from the system clock unless the override states why`() throws {
        let dir = try TemporaryDirectory("records-prune-clock")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        let key = intl + "/vehicle/device.key"
        #expect(
            try ota([
                "records", "append", log, "--key", key, "--vin", "LSVAU2180N2000001", "--record", Self.record("verify"),
            ]).status == 0)
        let segment = log + "/segment-00000000000000000000.log"
        let before = try FileSystem.read(segment)
        let ahead = try ota(["records", "prune", log, "--key", key, "--now", "2037-01-01T00:00:00Z", "--json"])
        #expect(
            ahead.status == 2 && ahead.stdout.contains("\"records.retention\"")
                && ahead.stdout.contains("more than a day from the vehicle's clock"), "\(ahead.stdout)")
        #expect(try FileSystem.read(segment) == before, "a refused prune writes nothing")
        let overridden = try ota([
            "records", "prune", log, "--key", key, "--now", "2037-01-01T00:00:00Z", "--override-clock",
            "RTC reset; time from the workshop's NTP", "--json",
        ])
        #expect(
            overridden.status == 2 && overridden.stdout.contains("the active segment is never pruned"),
            "\(overridden.stdout)")
    }

    @Test func `the shipped ota has no test rig commands`() throws {
        let help = try ota(["records", "--help"])
        #expect(help.status == 0)
        for rig in ["simulate", "stress-append"] {
            #expect(!help.stdout.contains(rig))
            let run = try ota(["records", rig, "/tmp/x", "--key", "/dev/null"])
            #expect(run.status != 0, "ota records \(rig) still runs")
        }
    }

    @Test func `records verify, ingest and export report progress as JSON lines on request`() throws {
        let dir = try TemporaryDirectory("records-progress")
        let intl = Self.samples + "/intl"
        let log = dir.path + "/log"
        for step in ["verify", "consent", "apply.image", "result"] {
            #expect(
                try ota([
                    "records", "append", log, "--key", intl + "/vehicle/device.key", "--vin", "LSVAU2180N2000001",
                    "--record", Self.record(step),
                ]).status == 0)
        }
        func lines(_ run: Run) -> [[String: Any]] {
            run.stderr.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        let verified = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt", "--progress", "json"])
        #expect(verified.status == 0)
        let verifyLines = lines(verified)
        #expect(verifyLines.last?["step"] as? String == "verify")
        #expect(
            verifyLines.last?["done"] as? Int == verifyLines.last?["total"] as? Int
                && (verifyLines.last?["done"] as? Int ?? 0) > 0)
        let store = dir.path + "/fleet.db"
        let ingested = try ota([
            "records", "ingest", "--store", store, "--key", intl + "/vehicle/device.crt", log, "--progress", "json",
        ])
        #expect(ingested.status == 0, "\(ingested.stderr)")
        #expect(lines(ingested).last?["step"] as? String == "ingest")
        let exported = try ota([
            "records", "export", "--store", store, "--key", intl + "/compliance/compliance-signer.key",
            "--cert", intl + "/compliance/compliance-signer.crt", "-o", dir.path + "/export", "--progress", "json",
        ])
        #expect(exported.status == 0, "\(exported.stderr)")
        let exportLines = lines(exported)
        #expect(exportLines.last?["step"] as? String == "export" && exportLines.last?["unit"] as? String == "entries")
        #expect(exportLines.last?["entriesPerSecond"] != nil && exportLines.last?["bytesPerSecond"] == nil)
        // Piped without --progress: nothing extra on standard error.
        let quiet = try ota(["records", "verify", log, "--key", intl + "/vehicle/device.crt"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
    }
}
