import Foundation
import OTACompliance
import OTACore
import OTARecorder
import Testing

@Suite struct ExportTests {
    func store(_ ws: Workspace, vehicles: Int = 2) throws -> SQLiteRecordStore {
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        for vehicle in 1...vehicles {
            let vin = "LSVAU2180N200000\(vehicle)"
            _ = try Fleet.log(at: ws.path + "/\(vin)", vin: vin, key: key, count: 24)
            _ = try FleetIngest.ingest(log: ws.path + "/\(vin)", publicKey: try key.publicKey, into: store)
        }
        return store
    }

    @Test(arguments: [ExportLanguage.en, .zhCN])
    func `an export carries a signed manifest that verify-export accepts`(language: ExportLanguage) throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try store(ws)
        let compliance = try PrivateKey.generate(language == .en ? .p256 : .sm2)
        let exporter = Exporter(filter: RecordFilter(), formats: ExportFormat.allCases, language: language,
                                pseudonymiser: try VINPseudonymiser(.ephemeral), signer: compliance, now: Fleet.start)
        let summary = try exporter.export(from: store, to: ws.path + "/out")
        #expect(summary.entries == 48)
        #expect(summary.vehicles == 2)
        let verification = try ExportManifest.verify(directory: ws.path + "/out", publicKey: try compliance.publicKey)
        #expect(verification.intact, "\(verification.problems)")
        let csv = try FileSystem.read(ws.path + "/out/records.csv")
        #expect(Array(csv.prefix(3)) == [0xEF, 0xBB, 0xBF], "UTF-8 byte-order mark")
        let header = String(decoding: csv.dropFirst(3).prefix(200), as: UTF8.self)
        #expect(header.hasPrefix(language == .en ? "Time,Time source,VIN" : "时间,时间来源,车辆识别代号"))
        #expect(String(decoding: csv, as: UTF8.self).split(separator: "\r\n").count == 49)
        #expect(String(decoding: try FileSystem.read(ws.path + "/out/records.jsonl"), as: UTF8.self).split(separator: "\n").count == 48)
        let html = String(decoding: try FileSystem.read(ws.path + "/out/report.html"), as: UTF8.self)
        #expect(html.components(separatedBy: "<section class=\"vehicle\">").count == 3)
        #expect(html.contains("<ol class=\"timeline\">"))
        #expect(!html.contains("<script"))
    }

    @Test func `exports tokenise the VIN by default and keyed tokens are stable`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try store(ws)
        let compliance = try PrivateKey.generate(.p256)
        let secret = Array("a pseudonymisation secret of 32b".utf8)
        var tokens: [String] = []
        for run in 0..<2 {
            let exporter = Exporter(filter: RecordFilter(vin: "LSVAU2180N2000001"), formats: [.jsonl, .csv, .html], language: .en,
                                    pseudonymiser: try VINPseudonymiser(.keyed(secret)), signer: compliance, now: Fleet.start)
            _ = try exporter.export(from: store, to: ws.path + "/out\(run)")
            for name in ["records.jsonl", "records.csv", "report.html", "manifest.json"] {
                #expect(!String(decoding: try FileSystem.read(ws.path + "/out\(run)/\(name)"), as: UTF8.self).contains("LSVAU2180N200000"))
            }
            let line = String(decoding: try FileSystem.read(ws.path + "/out\(run)/records.jsonl"), as: UTF8.self).split(separator: "\n")[0]
            tokens.append(try #require(try JSONValue.parse(Array(line.utf8))["vin"]?.stringValue))
        }
        #expect(tokens[0] == tokens[1])
        #expect(tokens[0].hasPrefix("VT-"))
        #expect(try VINPseudonymiser(.ephemeral).token(for: "LSVAU2180N2000001") != tokens[0])
    }

    @Test func `verify-export finds a changed, missing or extra file and a forged manifest`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try store(ws, vehicles: 1)
        let compliance = try PrivateKey.generate(.p256)
        let exporter = Exporter(filter: RecordFilter(), formats: ExportFormat.allCases, language: .en,
                                pseudonymiser: try VINPseudonymiser(.ephemeral), signer: compliance, now: Fleet.start)
        let out = ws.path + "/out"
        _ = try exporter.export(from: store, to: out)
        let publicKey = try compliance.publicKey
        let csv = try FileSystem.read(out + "/records.csv")
        var changed = csv
        changed[changed.count / 2] ^= 0x01
        try AtomicFileWriter.write(changed, to: out + "/records.csv")
        #expect(try ExportManifest.verify(directory: out, publicKey: publicKey).problems.contains { $0.hasPrefix("records.csv") })
        try AtomicFileWriter.write(csv, to: out + "/records.csv")
        #expect(try ExportManifest.verify(directory: out, publicKey: publicKey).intact)
        try AtomicFileWriter.write([1, 2, 3], to: out + "/extra.csv")
        #expect(try ExportManifest.verify(directory: out, publicKey: publicKey).problems.contains { $0.hasPrefix("extra.csv") })
        unlink(out + "/extra.csv")
        let manifest = try FileSystem.read(out + "/manifest.json")
        let forged = String(decoding: manifest, as: UTF8.self).replacingOccurrences(of: "\"entries\":24", with: "\"entries\":23")
        try AtomicFileWriter.write(Array(forged.utf8), to: out + "/manifest.json")
        #expect(try ExportManifest.verify(directory: out, publicKey: publicKey).problems.contains { $0.hasPrefix("manifest.sig") })
        try AtomicFileWriter.write(manifest, to: out + "/manifest.json")
        #expect(try ExportManifest.verify(directory: out, publicKey: try PrivateKey.generate(.p256).publicKey).problems.contains { $0.hasPrefix("manifest.sig") })
        unlink(out + "/report.html")
        #expect(try ExportManifest.verify(directory: out, publicKey: publicKey).problems.contains { $0 == "report.html: missing" })
    }

    @Test func `CSV cells are quoted and formula-safe, HTML is escaped`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db")
        let clock = ManualClock(Fleet.start)
        let recorder = try Recorder.create(at: ws.path + "/v", vin: "V1", signer: key, clock: clock, configuration: .init(durability: .none))
        var record = Fleet.record(vin: "V1", index: 0, time: Fleet.start)
        record.errorCode = "=HYPERLINK(\"x\")"
        record.step = "apply, \"stage\" 2"
        record.result = "<script>alert(1)</script>"
        try recorder.append(record)
        try recorder.close()
        _ = try FleetIngest.ingest(log: ws.path + "/v", publicKey: try key.publicKey, into: store)
        _ = try Exporter(filter: RecordFilter(), formats: [.csv, .html], language: .en, pseudonymiser: try VINPseudonymiser(.none),
                         signer: key, now: Fleet.start).export(from: store, to: ws.path + "/out")
        let text = String(decoding: try FileSystem.read(ws.path + "/out/records.csv"), as: UTF8.self)
        #expect(text.contains(",\"apply, \"\"stage\"\" 2\","))
        #expect(text.contains(",\"'=HYPERLINK(\"\"x\"\")\","))
        let html = String(decoding: try FileSystem.read(ws.path + "/out/report.html"), as: UTF8.self)
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    }
}
