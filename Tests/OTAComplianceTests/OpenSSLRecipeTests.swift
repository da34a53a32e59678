import Foundation
import OTACompliance
import OTACore
import OTARecorder
import OTATestSupport
import Testing

/// The third-party check of an export with the `openssl` command line (docs/COMPLIANCE.md, "A
/// third party checking an export"), run exactly as the document prints it: it accepts a fresh
/// export, and refuses a changed file, and evidence or rows that a dishonest exporter holding
/// the compliance key altered and signed again.
@Suite(.serialized) struct OpenSSLRecipeTests {
    /// The `sh` block after the sentence naming this test.
    static func recipe() throws -> String {
        let text = String(decoding: try FileSystem.read(RepositoryRoot.path + "/docs/COMPLIANCE.md"), as: UTF8.self)
        let marker = try #require(text.range(of: "`OpenSSLRecipeTests` runs this block"))
        let start = try #require(text.range(of: "```sh\n", range: marker.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n```\n", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound]) + "\n"
    }

    static func check(_ export: String, recipe: String, in ws: Workspace) throws -> ProcessRunner.Output {
        let script = ws.path + "/recipe.sh"
        try AtomicFileWriter.write(Array(recipe.utf8), to: script)
        let pki = SamplePKI(.intl)
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

    @Test func `the openssl recipe accepts an export and refuses altered ones`() throws {
        let recipe = try Self.recipe()
        let ws = Workspace()
        defer { ws.cleanup() }
        let pki = SamplePKI(.intl)
        let store = try Fleet.store(ws, vehicles: 2, count: 24, pki: pki)
        let export = ws.path + "/out"
        _ = try Fleet.exporter(pki).export(from: store, to: export)
        let good = try Self.check(export, recipe: recipe, in: ws)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("export OK"))

        // A changed row, not signed again: the manifest's digest catches it.
        try Self.copy(export, to: ws.path + "/changed", file: "records.jsonl") {
            $0.replacingOccurrences(of: "\"outcome\":\"success\"", with: "\"outcome\":\"failure\"")
        }
        let changed = try Self.check(ws.path + "/changed", recipe: recipe, in: ws)
        #expect(changed.status == 2 && changed.stderr.contains("a listed file changed"), "\(changed.stderr)")

        // The same change signed again by the exporter: the row no longer hashes to what the vehicle signed.
        try Self.copy(export, to: ws.path + "/resigned", file: "records.jsonl") {
            $0.replacingOccurrences(of: "\"outcome\":\"success\"", with: "\"outcome\":\"failure\"")
        }
        try Resign.manifest(ws.path + "/resigned", signer: try pki.compliance())
        let resigned = try Self.check(ws.path + "/resigned", recipe: recipe, in: ws)
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
                let hash = try! Hasher.hash(.sha256, Array(rest.utf8)).hex
                lines[number] = hash + " " + rest
                previous = hash
            }
            return lines.joined(separator: "\n") + "\n"
        }
        try Resign.manifest(ws.path + "/evidence", signer: try pki.compliance())
        let evidence = try Self.check(ws.path + "/evidence", recipe: recipe, in: ws)
        #expect(evidence.status == 2 && evidence.stderr.contains("signature"), "\(evidence.stderr)")

        // Signed by a release key (a valid certificate of another role).
        let release = ws.path + "/release"
        _ = try Fleet.exporter(pki, signer: try pki.release()).export(from: store, to: release)
        let wrongRole = try Self.check(release, recipe: recipe, in: ws)
        #expect(wrongRole.status == 2 && wrongRole.stderr.contains("FAILED: signer"), "\(wrongRole.stderr)")
    }
}
