import Foundation
import OTACompliance
import OTACore
import OTARecorder
import OTATestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ExportTests {
    @Test(arguments: [(ExportLanguage.en, Suite.intl), (.zhCN, .gm)])
    func `an export carries a signed manifest and chain evidence that verify-export accepts`(
        language: ExportLanguage, suite: Suite
    ) throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let pki = SamplePKI(suite)
        let store = try Fleet.store(ws, pki: pki)
        let summary = try Fleet.exporter(pki, language: language).export(from: store, to: ws.path + "/out")
        #expect(summary.entries == 48)
        #expect(summary.vehicles == 2)
        let verification = try ExportManifest.verify(
            directory: ws.path + "/out", trust: try pki.trust(), at: Fleet.checkTime)
        #expect(verification.intact, "\(verification.problems)")
        #expect(verification.evidenceVehicles == 2)
        let csv = try FileSystem.read(ws.path + "/out/records.csv")
        #expect(Array(csv.prefix(3)) == [0xEF, 0xBB, 0xBF], "UTF-8 byte-order mark")
        let header = String(decoding: csv.dropFirst(3).prefix(200), as: UTF8.self)
        #expect(header.hasPrefix(language == .en ? "Time,Time source,VIN" : "时间,时间来源,车辆识别代号"))
        // One row per ECU the record names (one each here), after the header.
        #expect(String(decoding: csv, as: UTF8.self).split(separator: "\r\n").count == 49)
        let lines = try FileSystem.read(ws.path + "/out/records.jsonl").split(separator: 0x0a)
        #expect(lines.count == 48)
        // The exporter writes each line's members by hand, in byte order: every line must be
        // the canonical JSON of what it holds (what a reader re-encoding it would get).
        for (number, line) in lines.enumerated() {
            #expect(try JSONValue.parse(line).bytes == Array(line), "records.jsonl line \(number + 1) is not canonical")
        }
        let html = String(decoding: try FileSystem.read(ws.path + "/out/report.html"), as: UTF8.self)
        #expect(html.components(separatedBy: "<section class=\"vehicle\"").count == 3)
        #expect(html.contains("<ol class=\"timeline\">"))
        #expect(!html.contains("<script"))
    }

    @Test func `the report is in one language through and through`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        _ = try Fleet.exporter(language: .zhCN).export(from: store, to: ws.path + "/out")
        let html = String(decoding: try FileSystem.read(ws.path + "/out/report.html"), as: UTF8.self)
        for english in [
            ">verify<", ">consent<", ">success<", ">failure<", "Signatures verified", "Update result", "Result notices",
            ">Bundle<",
        ] {
            #expect(!html.contains(english), "English left in the zh-CN report: \(english)")
        }
        #expect(html.contains("签名验证") && html.contains("升级结果") && html.contains("失败"))
        let csv = String(decoding: try FileSystem.read(ws.path + "/out/records.csv"), as: UTF8.self)
        #expect(csv.contains(",签名验证,") && csv.contains(",失败,"))
    }

    @Test func `exports tokenise the VIN by default and keyed tokens are stable`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws)
        let secret = Array("a pseudonymisation secret of 32b".utf8)
        var tokens: [String] = []
        for run in 0..<2 {
            _ = try Fleet.exporter(
                filter: RecordFilter(vin: "LSVAU2180N2000001"), pseudonymiser: try VINPseudonymiser(.keyed(secret))
            )
            .export(from: store, to: ws.path + "/out\(run)")
            for name in try FileManager.default.subpathsOfDirectory(atPath: ws.path + "/out\(run)")
            where !FileSystem.isDirectory(ws.path + "/out\(run)/" + name) {
                #expect(
                    !String(decoding: try FileSystem.read(ws.path + "/out\(run)/\(name)"), as: UTF8.self).contains(
                        "LSVAU2180N200000"), "\(name) holds a VIN")
            }
            let line = String(decoding: try FileSystem.read(ws.path + "/out\(run)/records.jsonl"), as: UTF8.self).split(
                separator: "\n")[0]
            tokens.append(try #require(try JSONValue.parse(Array(line.utf8))["vin"]?.stringValue))
        }
        #expect(tokens[0] == tokens[1])
        #expect(tokens[0].hasPrefix("VT-"))
        #expect(try VINPseudonymiser(.ephemeral).token(for: "LSVAU2180N2000001") != tokens[0])
    }

    @Test func `verify-export finds a changed, missing or extra file and a forged manifest`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let out = ws.path + "/out"
        _ = try Fleet.exporter().export(from: store, to: out)
        let trust = try SamplePKI().trust()
        func problems() throws -> [String] {
            try ExportManifest.verify(directory: out, trust: trust, at: Fleet.checkTime).problems
        }
        let csv = try FileSystem.read(out + "/records.csv")
        var changed = csv
        changed[changed.count / 2] ^= 0x01
        try AtomicFileWriter.write(changed, to: out + "/records.csv")
        #expect(try problems().contains { $0.hasPrefix("records.csv") })
        try AtomicFileWriter.write(csv, to: out + "/records.csv")
        #expect(try problems().isEmpty)
        try AtomicFileWriter.write([1, 2, 3], to: out + "/extra.csv")
        #expect(try problems().contains { $0.hasPrefix("extra.csv") })
        unlink(out + "/extra.csv")
        // An extra file whose name is not UTF-8, in the export and in its evidence: reported by
        // its bytes (before: under a repaired name, `extra\u{FFFD}.csv`, that names no file).
        for folder in ["", "/evidence"] {
            let extra = try RawNamedFile(in: out + folder, name: Array("extra".utf8) + [0xFF] + Array(".csv".utf8))
            let prefix = folder.isEmpty ? "" : "evidence/"
            #expect(try problems() == [prefix + #"extra\xFF.csv: not listed in the manifest"#])
            _ = extra
        }
        let manifest = try FileSystem.read(out + "/manifest.json")
        let forged = String(decoding: manifest, as: UTF8.self).replacingOccurrences(
            of: "\"entries\":24", with: "\"entries\":23")
        try AtomicFileWriter.write(Array(forged.utf8), to: out + "/manifest.json")
        #expect(try problems().contains { $0.hasPrefix("manifest.sig") })
        try AtomicFileWriter.write(manifest, to: out + "/manifest.json")
        unlink(out + "/report.html")
        #expect(try problems().contains { $0 == "report.html: missing" })
    }

    @Test func `an export signed by a release key is refused by its role`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let pki = SamplePKI()
        // The exporter's own check, when it is given the trust store:
        let caught = #expect(throws: OTAError.self) {
            try pki.release().checkRole(trust: try pki.trust(), at: Fleet.checkTime)
        }
        #expect(caught?.code == .exportSignerRole)
        // And a third party's, on an export signed anyway:
        _ = try Fleet.exporter(signer: try pki.release()).export(from: store, to: ws.path + "/out")
        let refused = #expect(throws: OTAError.self) {
            _ = try ExportManifest.verify(directory: ws.path + "/out", trust: try pki.trust(), at: Fleet.checkTime)
        }
        #expect(refused?.code == .exportSignerRole && refused?.kind == .rejected)
    }

    @Test func `an export without manifest.sig is refused, not an I/O error`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        _ = try Fleet.exporter().export(from: store, to: ws.path + "/out")
        unlink(ws.path + "/out/manifest.sig")
        let caught = #expect(throws: OTAError.self) {
            _ = try ExportManifest.verify(
                directory: ws.path + "/out", trust: try SamplePKI().trust(), at: Fleet.checkTime)
        }
        #expect(caught?.code == .recordsExportUnsigned && caught?.kind == .rejected)
        // A FIFO in its place is refused the same way (never opened, never waited on).
        #expect(mkfifo(ws.path + "/out/manifest.sig", 0o600) == 0)
        let fifo = #expect(throws: OTAError.self) {
            _ = try ExportManifest.verify(
                directory: ws.path + "/out", trust: try SamplePKI().trust(), at: Fleet.checkTime)
        }
        #expect(fifo?.code == .recordsExportUnsigned)
    }

    @Test func `an altered checkpoint in the export's evidence is found, even with the export re-signed`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let out = ws.path + "/out"
        _ = try Fleet.exporter().export(from: store, to: out)
        // The exporter (who holds the compliance key) alters a checkpoint's signature in the
        // evidence and signs a new manifest over the altered files.
        let path = out + "/evidence/0001.log"
        var lines = String(decoding: try FileSystem.read(path), as: UTF8.self).split(separator: "\n").map(String.init)
        let index = try #require(lines.firstIndex { $0.contains(" checkpoint ") })
        let entry = try #require(LogEntry.parse(Array(lines[index].utf8)[...]))
        var body = try entry.json().objectValue!
        let signature = body["sig"]!.stringValue!
        body["sig"] = .string(String(signature.dropLast(2)) + (signature.hasSuffix("00") ? "01" : "00"))
        let (line, _) = try LogEntry.encode(
            seq: entry.seq, prev: entry.prev, kind: .checkpoint, body: .object(body), hash: .sha256)
        lines[index] = String(decoding: line.dropLast(), as: UTF8.self)
        try AtomicFileWriter.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: path)
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(verification.problems.isEmpty, "\(verification.problems)")
        #expect(
            verification.evidenceProblems.contains { $0.contains("evidence") && $0.contains("does not verify") },
            "\(verification.evidenceProblems)")
    }

    /// The exporter numbers evidence files from 0001; the ten-thousandth vehicle's are
    /// `10000.*`, which sort as text before `9999.*`. The verifier pairs evidence with rows in
    /// number order (a 10,000-vehicle export was once refused for this).
    @Test func `evidence numbered past 9999 is paired with its rows in number order`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 2, count: 4)
        let out = ws.path + "/out"
        _ = try Fleet.exporter().export(from: store, to: out)
        try Renumber.evidence(out, ["0001": "9999", "0002": "10000"])
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(verification.intact, "\(verification.problems) \(verification.evidenceProblems)")
        #expect(verification.evidenceVehicles == 2)
    }

    /// Names an exporter never writes: a word, a sign, hex, a digit of another script, too short,
    /// a second name for vehicle 1 (an extra leading zero), vehicle 0.
    @Test(arguments: ["first", "+001", "0x01", "00\u{0661}1", "001", "00001", "0000"])
    func `evidence files whose names are not numbers are refused`(name: String) throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1, count: 4)
        let out = ws.path + "/out"
        _ = try Fleet.exporter().export(from: store, to: out)
        try Renumber.evidence(out, ["0001": name])
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(
            verification.problems.contains { $0.hasPrefix("evidence/\(name).json") && $0.contains("number") },
            "\(verification.problems)")
    }

    /// What a regulator opens is the CSV and the report: an exporter holding the compliance key
    /// alters one and re-signs. Both are generated deterministically from the rows, so the
    /// verifier generates them again from the rows it checked and compares the bytes.
    @Test(arguments: ["records.csv", "report.html"])
    func `a CSV or report altered and re-signed by the exporter is found against the rows`(file: String) throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let out = ws.path + "/out"
        _ = try Fleet.exporter().export(from: store, to: out)
        let path = out + "/" + file
        var text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        // A failure shown as a success: the row's result cell, or the timeline entry's class.
        let (from, to) = file == "records.csv" ? (",failure,", ",success,") : ("outcome-failure", "outcome-success")
        let range = try #require(text.range(of: from), "no \(from) in \(file)")
        text.replaceSubrange(range, with: to)
        try AtomicFileWriter.write(Array(text.utf8), to: path)
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(!verification.intact)
        #expect(
            (verification.problems + verification.evidenceProblems).contains { $0.hasPrefix(file) },
            "\(verification.problems) \(verification.evidenceProblems)")
    }

    /// A row's members outside `entry` are the exporter's: each must say what its entry says
    /// (`time` is the entry's own time), or the row is reported even when `entry` is intact.
    @Test func `a row member outside its entry that disagrees with the entry is found`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let out = ws.path + "/out"
        _ = try Fleet.exporter().export(from: store, to: out)
        let path = out + "/records.jsonl"
        var lines = String(decoding: try FileSystem.read(path), as: UTF8.self).split(separator: "\n").map(String.init)
        let time = try #require(lines[1].range(of: #","time":"[^"]*""#, options: .regularExpression))
        lines[1].replaceSubrange(time, with: #","time":"2031-01-01T00:00:00.000Z""#)
        try AtomicFileWriter.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: path)
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(
            (verification.problems + verification.evidenceProblems).contains { $0.hasPrefix("records.jsonl line 2") },
            "\(verification.problems) \(verification.evidenceProblems)")
    }

    /// Without evidence, nothing ties the rows to the vehicles' signatures; still, each row's own
    /// hash must be the hash of its own entry line (a row changed without its hash is found).
    @Test func `a row whose hash is not its own entry's is found, even in an export without evidence`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let out = ws.path + "/out"
        var exporter = try Fleet.exporter(formats: [.jsonl])
        exporter.evidence = false
        _ = try exporter.export(from: store, to: out)
        let path = out + "/records.jsonl"
        let text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        let range = try #require(text.range(of: #""outcome":"failure""#))
        try AtomicFileWriter.write(
            Array(text.replacingCharacters(in: range, with: #""outcome":"success""#).utf8), to: path)
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(!verification.intact, "\(verification.problems) \(verification.evidenceProblems)")
    }

    @Test func `a record left out of an export is found by the evidence`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        let out = ws.path + "/out"
        _ = try Fleet.exporter(filter: RecordFilter(outcome: .failure)).export(from: store, to: out)
        // Drop one failure from records.jsonl and re-sign: the evidence still holds it.
        let path = out + "/records.jsonl"
        var lines = String(decoding: try FileSystem.read(path), as: UTF8.self).split(separator: "\n").map(String.init)
        lines.remove(at: 1)
        try AtomicFileWriter.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: path)
        try Resign.manifest(out, signer: try SamplePKI().compliance())
        let verification = try ExportManifest.verify(
            directory: out, trust: try SamplePKI().trust(), at: Fleet.checkTime)
        #expect(
            verification.evidenceProblems.contains { $0.contains("leaves it out") }, "\(verification.evidenceProblems)")
    }

    @Test func `an export never overwrites an existing directory, and replaces only an earlier export when asked`()
        throws
    {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        try FileSystem.createDirectory(ws.path + "/home")
        try AtomicFileWriter.write(Array("precious".utf8), to: ws.path + "/home/notes.txt")
        let caught = #expect(throws: OTAError.self) {
            _ = try Fleet.exporter().export(from: store, to: ws.path + "/home")
        }
        #expect(caught?.code == .recordsExportExists)
        var replacing = try Fleet.exporter()
        replacing.replace = true
        #expect(throws: OTAError(.recordsExportExists, "")) {
            _ = try replacing.export(from: store, to: ws.path + "/home")
        }
        #expect(String(decoding: try FileSystem.read(ws.path + "/home/notes.txt"), as: UTF8.self) == "precious")
        _ = try Fleet.exporter().export(from: store, to: ws.path + "/out")
        #expect(throws: OTAError(.recordsExportExists, "")) {
            _ = try Fleet.exporter().export(from: store, to: ws.path + "/out")
        }
        _ = try replacing.export(from: store, to: ws.path + "/out")
        #expect(
            try ExportManifest.verify(directory: ws.path + "/out", trust: try SamplePKI().trust(), at: Fleet.checkTime)
                .intact)
        // Nothing left beside it.
        #expect(try FileSystem.list(ws.path).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test func `an export that matches nothing is refused unless asked`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 1)
        #expect(throws: OTAError(.recordsExportEmpty, "")) {
            _ = try Fleet.exporter(filter: RecordFilter(vin: "NOSUCHVIN")).export(from: store, to: ws.path + "/out")
        }
        #expect(!FileSystem.exists(ws.path + "/out"))
    }

    @Test func `CSV cells are quoted and formula-safe, HTML is escaped`() throws {
        let ws = Workspace(); defer { ws.cleanup() }
        let key = try PrivateKey.generate(.p256)
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        let clock = ManualClock(Fleet.start)
        let recorder = try Recorder.create(
            at: ws.path + "/v", vin: "V1", signer: key, clock: clock, configuration: .init(durability: .none))
        let attacks = [
            "=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", " =1+1", "\u{FF1D}1+1",
            "<script>alert(1)</script>", "apply, \"stage\" 2",
            // A combining mark after a special character makes one grapheme with it: escaping by
            // character once let these through.
            "\"\u{301} onmouseover=alert(2) x=\"", "<\u{301}img src=x onerror=alert(3)>", "&\u{301}amp;",
        ]
        for (index, text) in attacks.enumerated() {
            var record = Fleet.record(vin: "V1", index: index, time: Fleet.start)
            record.errorCode = text
            try recorder.append(record)
        }
        try recorder.close()
        _ = try FleetIngest.ingest(log: ws.path + "/v", publicKey: try key.publicKey, into: store)
        _ = try Fleet.exporter(formats: [.csv, .html], pseudonymiser: try VINPseudonymiser(.none)).export(
            from: store, to: ws.path + "/out")
        let text = String(decoding: try FileSystem.read(ws.path + "/out/records.csv"), as: UTF8.self)
        #expect(text.contains(",\"apply, \"\"stage\"\" 2\","))
        for cell in [
            "\"'=HYPERLINK(\"\"x\"\")\"", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tcmd", "\"'\r=1\"", "' =1+1",
            "'\u{FF1D}1+1",
        ] {
            #expect(text.contains("," + cell + ","), "not neutralised: \(cell.debugDescription)")
        }
        let html = String(decoding: try FileSystem.read(ws.path + "/out/report.html"), as: UTF8.self)
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("\"\u{301}") && !html.contains("<\u{301}") && !html.contains("&\u{301}"))
        #expect(html.contains("&quot;\u{301} onmouseover") && html.contains("&lt;\u{301}img"))
    }
}

/// Signs an altered export's manifest again, as an exporter holding the compliance key could.
enum Resign {
    static func manifest(_ directory: String, signer: ExportSigner) throws {
        var manifest = try JSONValue.parse(try FileSystem.read(directory + "/manifest.json")).objectValue!
        let hash = HashAlgorithm(rawValue: manifest["hash"]!.stringValue!)!
        var files: [JSONValue] = []
        for file in manifest["files"]!.arrayValue! {
            let name = file["name"]!.stringValue!
            let path = directory + "/" + name
            files.append(
                .object([
                    "name": .string(name), "bytes": .integer(try InputFile(path: path).size()),
                    "digest": .string(try Hasher.hash(hash, fileAt: path).hex),
                ]))
        }
        manifest["files"] = .array(files)
        let bytes = JSONValue.object(manifest).bytes + [0x0a]
        try AtomicFileWriter.write(bytes, to: directory + "/manifest.json")
        let signature =
            JSONValue.object([
                "alg": .string(try SignatureAlgorithm.forKey(signer.key.type).rawValue),
                "key": .string(try signer.key.publicKey.keyID(.sha256).hex),
                "sig": .string(Hex.encode(try signer.key.signature(for: bytes))),
            ]).bytes + [0x0a]
        try AtomicFileWriter.write(signature, to: directory + "/manifest.sig")
    }
}

/// Renames an export's evidence pairs (files, the `log` each description names, the manifest's
/// list), as an exporter numbering them differently would; the caller re-signs.
enum Renumber {
    static func evidence(_ directory: String, _ names: [String: String]) throws {
        var manifest = try JSONValue.parse(try FileSystem.read(directory + "/manifest.json")).objectValue!
        for (old, new) in names {
            let base = directory + "/evidence/"
            #expect(rename(base + old + ".log", base + new + ".log") == 0)
            var description = try JSONValue.parse(try FileSystem.read(base + old + ".json")).objectValue!
            description["log"] = .string(new + ".log")
            try AtomicFileWriter.write(JSONValue.object(description).bytes + [0x0a], to: base + new + ".json")
            unlink(base + old + ".json")
        }
        manifest["files"] = .array(
            manifest["files"]!.arrayValue!.map { file in
                var file = file.objectValue!
                let name = file["name"]!.stringValue!
                for (old, new) in names where name.hasPrefix("evidence/" + old + ".") {
                    file["name"] = .string("evidence/" + new + name.dropFirst("evidence/".count + old.count))
                }
                return .object(file)
            })
        try AtomicFileWriter.write(JSONValue.object(manifest).bytes + [0x0a], to: directory + "/manifest.json")
    }
}
