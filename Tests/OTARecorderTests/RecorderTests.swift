import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

@Suite struct RecorderTests {
    @Test(arguments: [(KeyType.p256, HashAlgorithm.sha256), (KeyType.sm2, HashAlgorithm.sm3)])
    func `an intact log verifies with either suite`(keyType: KeyType, hash: HashAlgorithm) throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(keyType)
        _ = try Samples.makeLog(at: dir.path, count: 600, key: key, segmentBytes: 64 << 10, hash: hash)
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.intact, "\(report.issues)")
        #expect(report.records == 600)
        #expect(try LogLayout(directory: dir.path).segments().count > 2)
        #expect(report.unsignedTail == 0)
    }

    @Test func `a record round-trips through canonical JSON`() throws {
        let record = Samples.record(vin: "V1", index: 3, time: Samples.start)
        let bytes = record.json.bytes
        let decoded = try UpgradeRecord(jsonText: bytes, vin: "V1")
        #expect(decoded == record)
        #expect(decoded.json.bytes == bytes)
    }

    @Test func `canonical JSON sorts keys and escapes control characters`() {
        let value = JSONValue.object([
            "b": .integer(-1), "a": .string("x\"\\\n\u{1}é/"), "c": .array([.bool(true), .null]),
        ])
        #expect(String(decoding: value.bytes, as: UTF8.self) == #"{"a":"x\"\\\n\u0001é/","b":-1,"c":[true,null]}"#)
    }

    @Test func `a record with a location or a name field is refused`() throws {
        var json = Samples.record(vin: "V1", index: 1, time: Samples.start).json.objectValue!
        json["location"] = .string("31.2,121.4")
        #expect(throws: OTAError(.recordsFieldUnknown, "")) { try UpgradeRecord(json: .object(json), vin: "V1") }
        json["location"] = nil
        json["ownerName"] = .string("Zhang San")
        #expect(throws: OTAError(.recordsFieldUnknown, "")) { try UpgradeRecord(json: .object(json), vin: "V1") }
    }

    @Test func `a record for another VIN is refused`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let recorder = try Samples.makeLog(at: dir.path, count: 1, key: key)
        #expect(throws: OTAError(.recordsVinMismatch, "")) {
            try recorder.append(Samples.record(vin: "OTHER", index: 0, time: Samples.start))
        }
    }

    @Test func `a log verified with another device key is refused`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        _ = try Samples.makeLog(at: dir.path, count: 5, key: key)
        #expect(throws: OTAError(.recordsKeyMismatch, "")) {
            _ = try LogVerifier(directory: dir.path, publicKey: try PrivateKey.generate(.p256).publicKey).verify()
        }
    }

    @Test func `reopening continues the chain`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        do { _ = try Samples.makeLog(at: dir.path, count: 10, key: key, clock: clock) }
        let recorder = try Recorder.open(at: dir.path, signer: key, clock: clock)
        #expect(recorder.tornTails.isEmpty)
        try recorder.append(Samples.record(vin: "LSVAU2180N2000001", index: 11, time: clock.now().date))
        try recorder.close()
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.intact, "\(report.issues)")
        #expect(report.records == 11)
    }

    @Test func `a second writer is refused`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let recorder = try Samples.makeLog(at: dir.path, count: 1, key: key)
        #expect(throws: OTAError(.recordsBusy, "")) {
            _ = try Recorder.open(at: dir.path, signer: key, clock: ManualClock(Samples.start))
        }
        withExtendedLifetime(recorder) {}
    }

    @Test func `a torn tail is quarantined and recorded as an entry of its own`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        do { _ = try Samples.makeLog(at: dir.path, count: 3, key: key, clock: clock) }
        let layout = LogLayout(directory: dir.path)
        let segment = layout.path(try layout.segments().last!)
        let handle = FileHandle(forWritingAtPath: segment)!
        handle.seekToEndOfFile()
        handle.write(Data("0123abcd half a record".utf8))
        handle.closeFile()
        let before = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(before.issues.map(\.kind) == [.tornTail])
        let recorder = try Recorder.open(at: dir.path, signer: key, clock: clock)
        #expect(recorder.tornTails.count == 1)
        let entry = try #require(try recorder.entry(at: recorder.tornTails[0].seq))
        #expect(entry.kind == .tornTail)
        let file = try #require(try entry.json()["file"]?.stringValue)
        #expect(String(decoding: try FileSystem.read(dir.path + "/" + file), as: UTF8.self) == "0123abcd half a record")
        let after = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(after.intact, "\(after.issues)")
    }

    /// Torn tails are quarantined up to 64 MiB (FORMAT.md): one of 17 MiB, past the reader's
    /// 16 MiB line limit, stopped the log for good (every later append refused; an audit
    /// helper's finding). Past 64 MiB, the refusal names where the unended line starts.
    @Test func `a torn tail of 17 MiB is quarantined; one past 64 MiB is refused at its offset`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        do { _ = try Samples.makeLog(at: dir.path, count: 3, key: key, clock: clock) }
        let layout = LogLayout(directory: dir.path)
        let segment = layout.path(try layout.segments().last!)
        let handle = FileHandle(forWritingAtPath: segment)!
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 0x61, count: 17 << 20))
        handle.closeFile()
        let recorder = try Recorder.open(at: dir.path, signer: key, clock: clock)
        #expect(recorder.tornTails.count == 1)
        _ = try recorder.append(Samples.record(vin: "LSVAU2180N2000001", index: 4, time: clock.now().date))
        let after = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(after.intact, "\(after.issues)")
        withExtendedLifetime(recorder) {}

        let huge = try TemporaryDirectory("records")
        do { _ = try Samples.makeLog(at: huge.path, count: 3, key: key, clock: clock) }
        let hugeSegment = LogLayout(directory: huge.path).path(try LogLayout(directory: huge.path).segments().last!)
        let hugeLength = try InputFile(path: hugeSegment).size()
        let writer = FileHandle(forWritingAtPath: hugeSegment)!
        writer.seekToEndOfFile()
        writer.write(Data(repeating: 0x61, count: (64 << 20) + 1))
        writer.closeFile()
        do {
            _ = try Recorder.open(at: huge.path, signer: key, clock: clock)
            Issue.record("a 64 MiB tail was taken")
        } catch {
            #expect(error.code == .recordsMalformed && error.message.contains("byte \(hugeLength)"), "\(error)")
        }
    }

    /// The torn bytes are kept aside, not signed: their size and digest are, in the torn-tail
    /// entry. Verify checks the quarantined file against them, so changing or deleting it shows.
    @Test(arguments: ["changed", "deleted"])
    func `a quarantined torn tail changed or deleted is reported`(what: String) throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        do { _ = try Samples.makeLog(at: dir.path, count: 3, key: key, clock: clock) }
        let layout = LogLayout(directory: dir.path)
        let handle = FileHandle(forWritingAtPath: layout.path(try layout.segments().last!))!
        handle.seekToEndOfFile()
        handle.write(Data("0123abcd half a record".utf8))
        handle.closeFile()
        let recorder = try Recorder.open(at: dir.path, signer: key, clock: clock)
        let entry = try #require(try recorder.entry(at: recorder.tornTails[0].seq))
        let file = dir.path + "/" + (try #require(try entry.json()["file"]?.stringValue))
        #expect(try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify().intact)
        if what == "changed" {
            try AtomicFileWriter.write(Array("0123abcd half a recorD".utf8), to: file)
        } else {
            #expect(unlink(file) == 0)
        }
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(
            report.issues.contains { $0.location.hasPrefix("quarantine/") && $0.concerns(entry.seq) },
            "\(report.issues)")
    }

    @Test func `retention shorter than six months is refused`() throws {
        let dir = try TemporaryDirectory("records")
        #expect(throws: OTAError(.recordsRetentionMinimum, "")) {
            _ = try Recorder.create(
                at: dir.path, vin: "V1", signer: try PrivateKey.generate(.p256), clock: ManualClock(Samples.start),
                configuration: .init(retentionMonths: 5))
        }
    }

    @Test func `rewriting the chain without the device key breaks the next checkpoint`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let recorder = try Samples.makeLog(at: dir.path, count: 100, key: key)
        let path = recorder.layout.path(try recorder.layout.segments()[0])
        var lines = String(decoding: try FileSystem.read(path), as: UTF8.self).split(separator: "\n").map(String.init)
        // Change record 40, then recompute every later hash and PREV: a consistent chain, unsigned.
        var previous = ""
        for index in 40..<lines.count {
            guard var entry = LogEntry.parse(Array(lines[index].utf8)[...]) else { continue }
            var body = String(decoding: entry.body, as: UTF8.self)
            if index == 40 {
                body = body.replacingOccurrences(of: "\"outcome\":\"success\"", with: "\"outcome\":\"failure\"")
            }
            let kind = entry.kind
            let (line, hash) = try LogEntry.encode(
                seq: entry.seq, prev: index == 40 ? entry.prev : previous, kind: kind,
                body: try JSONValue.parse(Array(body.utf8)), hash: .sha256)
            lines[index] = String(decoding: line.dropLast(), as: UTF8.self)
            previous = hash
            entry = LogEntry.parse(line.dropLast())!
        }
        try AtomicFileWriter.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: path)
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.contains { $0.kind == .checkpointSignature })
        #expect(report.issues.contains { $0.kind == .changed }, "HEAD no longer matches")
    }

    @Test func `a missing HEAD is reported`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        _ = try Samples.makeLog(at: dir.path, count: 5, key: key)
        unlink(dir.path + "/HEAD")
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.map(\.kind) == [.truncated])
    }
}
