import Foundation
import OTACompliance
import OTACore
import OTARecorder
import OTATestSupport
import Testing

/// The third-party check of an export with the `openssl` command line (docs/COMPLIANCE.md, "A
/// third party checking an export"), run exactly as the document prints it, in both suites: it
/// accepts a fresh export and a log whose device key was rotated, and refuses a changed file,
/// evidence or rows that a dishonest exporter holding the compliance key altered and signed
/// again, and a rotation to a key without a vehicle certificate.
@Suite(.serialized) struct OpenSSLRecipeTests {
    /// The `sh` block after the sentence naming this test.
    static func recipe() throws -> String {
        let text = String(decoding: try FileSystem.read(RepositoryRoot.path + "/docs/COMPLIANCE.md"), as: UTF8.self)
        let marker = try #require(text.range(of: "`OpenSSLRecipeTests` runs this block"))
        let start = try #require(text.range(of: "```sh\n", range: marker.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n```\n", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound]) + "\n"
    }

    static func check(_ export: String, recipe: String, in ws: Workspace, pki: SamplePKI) throws
        -> ProcessRunner.Output
    {
        let script = ws.path + "/recipe.sh"
        try AtomicFileWriter.write(Array(recipe.utf8), to: script)
        return try ProcessRunner.run(
            "/bin/bash", [script],
            environment: [
                "E": export, "COMPLIANCE_CA": pki.directory + "/compliance/root-ca.crt",
                "VEHICLE_CA": pki.directory + "/vehicle/root-ca.crt",
            ])
    }

    /// Copies `from` to `to` with `change` applied to the file `name` (one line replaced).
    static func copy(_ from: String, to: String, file name: String, change: (String) -> String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
        let path = to + "/" + name
        let text = String(decoding: try FileSystem.read(path, limit: 64 << 20), as: UTF8.self)
        try AtomicFileWriter.write(Array(change(text).utf8), to: path)
    }

    @Test(arguments: [Suite.intl, .gm])
    func `the openssl recipe accepts an export and refuses altered ones`(suite: Suite) throws {
        let recipe = try Self.recipe()
        let ws = Workspace()
        defer { ws.cleanup() }
        let pki = SamplePKI(suite)
        let hash: HashAlgorithm = suite == .gm ? .sm3 : .sha256
        let store = try Fleet.store(ws, vehicles: 2, count: 24, pki: pki)
        let export = ws.path + "/out"
        _ = try Fleet.exporter(pki).export(from: store, to: export)
        let good = try Self.check(export, recipe: recipe, in: ws, pki: pki)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("export OK"))

        // A changed row, not signed again: the manifest's digest catches it.
        try Self.copy(export, to: ws.path + "/changed", file: "records.jsonl") {
            $0.replacingOccurrences(of: "\"outcome\":\"success\"", with: "\"outcome\":\"failure\"")
        }
        let changed = try Self.check(ws.path + "/changed", recipe: recipe, in: ws, pki: pki)
        #expect(changed.status == 2 && changed.stderr.contains("a listed file changed"), "\(changed.stderr)")

        // The same change signed again by the exporter: the row no longer hashes to what the vehicle signed.
        try Self.copy(export, to: ws.path + "/resigned", file: "records.jsonl") {
            $0.replacingOccurrences(of: "\"outcome\":\"success\"", with: "\"outcome\":\"failure\"")
        }
        try Resign.manifest(ws.path + "/resigned", signer: try pki.compliance())
        let resigned = try Self.check(ws.path + "/resigned", recipe: recipe, in: ws, pki: pki)
        #expect(
            resigned.status == 2 && resigned.stderr.contains("differs from what the vehicle signed"),
            "\(resigned.stderr)")

        // Evidence whose entry was changed, with every later hash and link recomputed, signed
        // again: only the vehicle's checkpoint signatures can tell.
        try Self.copy(export, to: ws.path + "/evidence", file: "evidence/0001.log") { text in
            var lines = text.split(separator: "\n").map(String.init)
            let index = lines.firstIndex { $0.contains(" record ") && $0.contains("\"outcome\":\"success\"") }!
            var previous: String? = nil
            for number in index..<lines.count {
                var fields = lines[number].split(separator: " ", maxSplits: 4).map(String.init)
                if number == index {
                    fields[4] = fields[4].replacingOccurrences(
                        of: "\"outcome\":\"success\"", with: "\"outcome\":\"failure\"")
                }
                if let previous { fields[2] = previous }
                let rest = fields[1...].joined(separator: " ")
                let hash = try! Hasher.hash(hash, Array(rest.utf8)).hex
                lines[number] = hash + " " + rest
                previous = hash
            }
            return lines.joined(separator: "\n") + "\n"
        }
        try Resign.manifest(ws.path + "/evidence", signer: try pki.compliance())
        let evidence = try Self.check(ws.path + "/evidence", recipe: recipe, in: ws, pki: pki)
        #expect(evidence.status == 2 && evidence.stderr.contains("signature"), "\(evidence.stderr)")

        // Signed by a release key (a valid certificate of another role).
        let release = ws.path + "/release"
        _ = try Fleet.exporter(pki, signer: try pki.release()).export(from: store, to: release)
        let wrongRole = try Self.check(release, recipe: recipe, in: ws, pki: pki)
        #expect(wrongRole.status == 2 && wrongRole.stderr.contains("FAILED: signer"), "\(wrongRole.stderr)")
    }

    /// A vehicle certificate (vehicle role, clientAuth) for `key`, issued by the suite's sample vehicle CA.
    static func vehicleCertificate(for key: PrivateKey, pki: SamplePKI, suite: Suite, in ws: Workspace) throws -> String
    {
        let keyPath = ws.path + "/rotated.key"
        try AtomicFileWriter.write(Array(try key.pem().utf8), to: keyPath)
        let path = try OpenSSLTool.issueCertificate(
            for: keyPath, form: nil, subject: "/O=ota sample OEM/OU=vehicle/CN=Vehicle Device rotated",
            caCertificate: pki.directory + "/vehicle/root-ca.crt", caKey: pki.directory + "/vehicle/root-ca.key",
            sm2: suite == .gm,
            extensions: OpenSSLTool.clientExtensions(.vehicle), in: ws.path)
        return String(decoding: try FileSystem.read(path), as: UTF8.self)
    }

    @Test(arguments: [Suite.intl, .gm])
    func `the openssl recipe follows a device key rotation and refuses one without a vehicle certificate`(
        suite: Suite
    ) throws {
        let recipe = try Self.recipe()
        let ws = Workspace()
        defer { ws.cleanup() }
        let pki = SamplePKI(suite)
        let oldKey = try pki.deviceKey()
        let newKey = try PrivateKey.generate(suite == .gm ? .sm2 : .p256)
        let certificate = try Self.vehicleCertificate(for: newKey, pki: pki, suite: suite, in: ws)
        let vin = "LSVAU2180N2000001"

        /// A log of 30 records with a rotation after the 12th; `certificate` names the new key or not.
        func export(rotatingWith certificate: String?, label: String) throws -> String {
            let log = ws.path + "/\(label)-\(vin)"
            let clock = ManualClock(Fleet.start)
            let recorder = try Fleet.log(at: log, vin: vin, key: oldKey, count: 12, clock: clock)
            try recorder.rotateKey(to: newKey, certificate: certificate, reason: "device key renewed")
            try Fleet.append(recorder, vin: vin, from: 12, count: 18, clock: clock)
            let store = try SQLiteRecordStore(path: ws.path + "/\(label).db", mode: .create)
            _ = try FleetIngest.ingest(
                log: log, publicKey: try oldKey.publicKey, certificate: try pki.devicePEM(), into: store)
            let out = ws.path + "/\(label)-export"
            _ = try Fleet.exporter(pki).export(from: store, to: out)
            return out
        }

        let rotated = try Self.check(
            try export(rotatingWith: certificate, label: "rotated"), recipe: recipe, in: ws, pki: pki)
        #expect(rotated.status == 0 && rotated.stdout.contains("export OK"), "\(rotated.stderr)")

        // The store accepts an uncertified rotation when it is not asked to check rotations
        // (no rotation trust); the recipe, like `records verify-export`, does not.
        let uncertified = try Self.check(
            try export(rotatingWith: nil, label: "uncertified"), recipe: recipe, in: ws, pki: pki)
        #expect(
            uncertified.status == 2 && uncertified.stderr.contains("without a certificate"), "\(uncertified.stderr)")
    }
}
