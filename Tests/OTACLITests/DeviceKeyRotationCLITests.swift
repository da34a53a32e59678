import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

/// The device-key rotation a user follows (docs/INSTALLER.md, "Device key rotation"), through the
/// command line in both suites: a new key and request made on the vehicle, a certificate from
/// the vehicle CA, the vehicle handing its log over (announced by the old key); the log, its
/// audit and the fleet store accept the log across the rotation, and refuse a rotation signed
/// by the new key alone or by a revoked key.
@Suite(.serialized) struct DeviceKeyRotationCLITests {
    static var repository: String { RepositoryRoot.path }

    func ota(_ arguments: [String], _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> CLIRunner.Result
    {
        let run = try CLIRunner.run(arguments + ["--json"])
        #expect(
            run.status == expected, "ota \(arguments.joined(separator: " ")): \(run.stdout) \(run.stderr)",
            sourceLocation: sourceLocation)
        return run
    }

    /// A vehicle certificate request → certificate from the sample vehicle CA.
    func certify(_ keys: String, request: String, output: String, vin: String) throws {
        _ = try ota([
            "keys", "issue", request, "--role", "vehicle", "--signer-id", vin, "--ca-key",
            keys + "/vehicle/root-ca.key", "--ca-cert",
            keys + "/vehicle/root-ca.crt", "-o", output,
        ])
    }

    @Test(arguments: ["intl", "gm"])
    func `a device key rotated through the command line keeps one log that the audit and the fleet accept`(
        suite: String
    ) throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(Self.repository)/keys-sample/\(suite)"
        let config = "\(Self.repository)/samples/vehicle-x1\(suite == "gm" ? "-gm" : "").yaml"
        let vin = suite == "gm" ? "LSVX1A2B3C4D56790" : "LSVX1A2B3C4D56789"
        let type = suite == "gm" ? "sm2" : "p256"
        let car = directory + "/car", store = directory + "/fleet.db"
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        try SampleImages.make(in: directory + "/images")
        _ = try ota(["vehicle", "init", car, "--config", config, "--images", directory + "/images"])
        _ = try ota([
            "records", "ingest", "--store", store, "--key", keys + "/vehicle/device.crt", "--trust", keys + "/trust",
            car + "/records",
        ])

        // On the vehicle: a new key and its request; at the vehicle CA: the certificate.
        _ = try ota([
            "keys", "csr", "--new-key", car + "/keys/device-2.key", "--type", type, "--cn", "Vehicle Device \(vin)",
            "--org", "ota sample OEM",
            "-o", directory + "/device-2.csr",
        ])
        try certify(keys, request: directory + "/device-2.csr", output: directory + "/device-2.crt", vin: vin)
        // A certificate for another role is not a device certificate: refused, nothing changes.
        _ = try ota([
            "keys", "issue", directory + "/device-2.csr", "--role", "compliance", "--ca-key",
            keys + "/vehicle/root-ca.key", "--ca-cert",
            keys + "/vehicle/root-ca.crt", "-o", directory + "/not-a-device.crt",
        ])
        let wrongRole = try ota(
            [
                "vehicle", "rotate-key", car, "--key", car + "/keys/device-2.key", "--cert",
                directory + "/not-a-device.crt", "--reason", "x",
            ], 2)
        #expect(wrongRole.errorCode == "certificate.role", "\(wrongRole.stdout)")
        let oldKey = try FileSystem.read(car + "/keys/device.key", limit: 1 << 20)

        let rotated = try ota([
            "vehicle", "rotate-key", car, "--key", car + "/keys/device-2.key", "--cert", directory + "/device-2.crt",
            "--reason",
            "scheduled renewal",
        ])
        let newKeyID = try #require((rotated.json["result"] as? [String: Any])?["newKey"] as? String)
        #expect(try FileSystem.read(car + "/keys/device.key", limit: 1 << 20) != oldKey)
        #expect(
            try FileSystem.read(car + "/keys/device.crt", limit: 1 << 20)
                == FileSystem.read(directory + "/device-2.crt", limit: 1 << 20))
        #expect(!FileManager.default.fileExists(atPath: car + "/keys/device.key.next"))
        // The vehicle records on, under the new key (a CRL it already holds: recorded, nothing changes).
        _ = try ota(["vehicle", "trust", car, keys + "/vehicle/root-ca.crl"])

        // The audit (old certificate, vehicle trust) and the fleet store accept the log across the rotation.
        let verified = try ota([
            "records", "verify", car + "/records", "--key", keys + "/vehicle/device.crt", "--trust", keys + "/trust",
        ])
        #expect(
            (verified.json["result"] as? [String: Any])?["keyRotations"] as? Int == 1
                && (verified.json["result"] as? [String: Any])?["keyId"] as? String == newKeyID, "\(verified.stdout)")
        let ingested = try ota([
            "records", "ingest", "--store", store, "--key", keys + "/vehicle/device.crt", "--trust", keys + "/trust",
            car + "/records",
        ])
        let report = ((ingested.json["result"] as? [String: Any])?["reports"] as? [[String: Any]])?.first
        #expect(report?["keyRotations"] as? Int == 1 && (report?["added"] as? Int ?? 0) > 0, "\(ingested.stdout)")

        // A forged rotation signed by the new key only (no checkpoint of the old key vouches for it).
        let forged = directory + "/forged"
        try copyLogBefore(rotation: car + "/records", to: forged)
        let intruder = try PrivateKey(contentsOf: car + "/keys/device.key")
        try appendRotationSignedOnlyByNewKey(
            log: forged, newKey: intruder,
            certificate: try String(contentsOfFile: directory + "/device-2.crt", encoding: .utf8))
        let refusedAudit = try ota(["records", "verify", forged, "--key", keys + "/vehicle/device.crt"], 2)
        #expect(refusedAudit.errorCode == "records.checkpoint-signature", "\(refusedAudit.stdout)")
        let refusedIngest = try ota(
            ["records", "ingest", "--store", directory + "/other.db", "--key", keys + "/vehicle/device.crt", forged], 2)
        #expect(refusedIngest.errorCode == "records.checkpoint-signature", "\(refusedIngest.stdout)")

        // The new key is revoked (stolen): whoever holds it cannot hand the log over to a key of their choosing.
        // (A second later than the rotation: CRL dates have whole seconds, and the audit judges the
        // legitimate rotation at its own time, before the revocation.)
        Thread.sleep(forTimeInterval: 1.1)
        _ = try ota([
            "keys", "revoke", directory + "/device-2.crt", "--reason", "keyCompromise", "--crl",
            keys + "/vehicle/root-ca.crl", "--ca-key",
            keys + "/vehicle/root-ca.key", "--ca-cert", keys + "/vehicle/root-ca.crt", "-o",
            directory + "/vehicle-ca-2.crl",
        ])
        let revokedTrust = directory + "/trust-revoked"
        try FileManager.default.copyItem(atPath: keys + "/trust", toPath: revokedTrust)
        try FileManager.default.removeItem(atPath: revokedTrust + "/vehicle/crls/root-ca.crl")
        try FileManager.default.copyItem(
            atPath: directory + "/vehicle-ca-2.crl", toPath: revokedTrust + "/vehicle/crls/root-ca.crl")
        _ = try ota([
            "keys", "csr", "--new-key", directory + "/device-3.key", "--type", type, "--cn", "Vehicle Device \(vin)",
            "--org", "ota sample OEM",
            "-o", directory + "/device-3.csr",
        ])
        try certify(keys, request: directory + "/device-3.csr", output: directory + "/device-3.crt", vin: vin)
        _ = try ota([
            "records", "rotate-key", car + "/records", "--key", car + "/keys/device.key", "--new-key",
            directory + "/device-3.key", "--new-cert",
            directory + "/device-3.crt", "--reason", "attacker",
        ])
        let refusedRevoked = try ota(
            [
                "records", "ingest", "--store", store, "--key", keys + "/vehicle/device.crt", "--trust", revokedTrust,
                car + "/records",
            ], 2)
        #expect(refusedRevoked.errorCode == "records.rotation-revoked", "\(refusedRevoked.stdout)")
        let auditRevoked = try ota(
            ["records", "verify", car + "/records", "--key", keys + "/vehicle/device.crt", "--trust", revokedTrust], 2)
        #expect(auditRevoked.errorCode == "records.rotation-revoked", "\(auditRevoked.stdout) \(auditRevoked.stderr)")
        // Without a vehicle certificate for the new key, a rotation is not trusted either.
        let uncertified = directory + "/uncertified"
        try copyLogBefore(rotation: car + "/records", to: uncertified)
        _ = try ota([
            "records", "rotate-key", uncertified, "--key", keys + "/vehicle/device.key", "--new-key",
            directory + "/device-3.key", "--reason", "no cert",
        ])
        let refusedUncertified = try ota(
            ["records", "verify", uncertified, "--key", keys + "/vehicle/device.crt", "--trust", keys + "/trust"], 2)
        #expect(refusedUncertified.errorCode == "records.rotation-untrusted", "\(refusedUncertified.stdout)")
    }

    /// Copies the log as it was just before its first key rotation (entries before it, HEAD at the
    /// last checkpoint there, log.json naming the old key).
    func copyLogBefore(rotation log: String, to copy: String) throws {
        let layout = LogLayout(directory: log)
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        var lines: [String] = []
        var lastCheckpoint: String? = nil
        var firstKey: String? = nil
        for segment in try layout.segments() {
            for line in try String(contentsOfFile: layout.path(segment), encoding: .utf8).split(separator: "\n") {
                let entry = try #require(LogEntry.parse(Array(line.utf8)[...]))
                if entry.kind == .keyRotation { break }
                if entry.kind == .checkpoint, firstKey == nil,
                    case .checkpoint(let body)? = try? EntryBody(entry: entry, vin: try LogMeta.load(layout).vin)
                {
                    firstKey = body.key
                }
                lines.append(String(line))
                if entry.kind == .checkpoint { lastCheckpoint = String(line) }
            }
        }
        // Up to and including the last checkpoint before the rotation.
        let through = try #require(lines.lastIndex { $0 == lastCheckpoint })
        var meta = try LogMeta.load(layout)
        meta.keyID = try #require(firstKey)
        try Data((meta.json.bytes + [0x0a])).write(to: URL(fileURLWithPath: copy + "/log.json"))
        try (lines[...through].joined(separator: "\n") + "\n").write(
            toFile: copy + "/" + LogLayout.segmentName(firstSeq: 0), atomically: true, encoding: .utf8)
        try (lastCheckpoint! + "\n").write(toFile: copy + "/HEAD", atomically: true, encoding: .utf8)
    }

    /// Appends a key-rotation entry announcing `newKey`, then a checkpoint signed by `newKey`
    /// itself (the old key never vouches for it), and points HEAD at it.
    func appendRotationSignedOnlyByNewKey(log: String, newKey: PrivateKey, certificate: String) throws {
        let layout = LogLayout(directory: log)
        let meta = try LogMeta.load(layout)
        let segment = layout.path(try layout.segments().last!)
        var last = try #require(
            try String(contentsOfFile: segment, encoding: .utf8).split(separator: "\n").last.flatMap {
                LogEntry.parse(Array($0.utf8)[...])
            })
        var appended = ""
        func append(_ kind: String, _ body: JSONValue) throws {
            let content = Array("\(last.seq + 1) \(last.hash) \(kind) ".utf8) + body.bytes
            let line = try Hasher.hash(meta.hash, content).hex + " " + String(decoding: content, as: UTF8.self)
            appended += line + "\n"
            last = try #require(LogEntry.parse(Array(line.utf8)[...]))
        }
        let time = RecordTime(Date(), source: .rtc)
        let keyID = try newKey.publicKey.keyID(.sha256).hex
        try append(
            "key-rotation",
            EntryBody.keyRotation(
                .init(
                    key: keyID, publicKey: try newKey.publicKey.der(), certificate: certificate, reason: "forged",
                    time: time)
            ).json)
        for _ in 0..<2 {
            let signature = try newKey.signature(
                for: LogEntry.checkpointMessage(genesis: meta.genesis, seq: last.seq + 1, prev: last.hash))
            try append(
                "checkpoint",
                EntryBody.checkpoint(
                    .init(
                        algorithm: try SignatureAlgorithm.forKey(newKey.type), key: keyID, signature: signature,
                        time: time, version: .v2)
                ).json)
        }
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data(appended.utf8))
        handle.closeFile()
        try (String(appended.split(separator: "\n").last!) + "\n").write(
            toFile: log + "/HEAD", atomically: true, encoding: .utf8)
    }
}
