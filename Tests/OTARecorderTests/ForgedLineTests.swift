import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

/// Lines anyone can write without the device key (own hash and `PREV` correct, appended after the
/// last checkpoint): the verifier must report them, never trap on them.
@Suite struct ForgedLineTests {
    /// A small log and a way to append a forged line to its last segment.
    struct Forgery {
        let dir: TemporaryDirectory
        let key: PrivateKey
        let layout: LogLayout

        init() throws {
            dir = try TemporaryDirectory("forged")
            key = try PrivateKey.generate(.p256)
            _ = try Samples.makeLog(at: dir.path, count: 12, key: key)
            layout = LogLayout(directory: dir.path)
        }

        var last: LogEntry {
            get throws {
                var found: LogEntry? = nil
                try SegmentReader.forEachLine(layout.path(try layout.segments().last!)) { line, _, _ in
                    found = LogEntry.parse(line)
                }
                return found!
            }
        }

        /// Appends `SEQ PREV KIND BODY` with its hash; `seq` defaults to the next number.
        func append(kind: String, body: String, seq: String? = nil) throws {
            let previous = try last
            let content = Array("\(seq ?? String(previous.seq + 1)) \(previous.hash) \(kind) \(body)".utf8)
            let line = try Hasher.hash(.sha256, content).hex + " " + String(decoding: content, as: UTF8.self) + "\n"
            let handle = try #require(FileHandle(forWritingAtPath: layout.path(try layout.segments().last!)))
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            handle.closeFile()
        }

        func verify() throws -> VerificationReport {
            try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        }
    }

    static let time = #"{"at":"2026-02-01T00:00:00.000Z","source":"test"}"#

    @Test(arguments: [
        #"{"cutoff":"2026-01-01T00:00:00.000Z","months":6,"reason":"r","requestedBy":"x","segments":[],"through":-1,"time":TIME}"#,
        #"{"cutoff":"2026-01-01T00:00:00.000Z","months":6,"reason":"r","requestedBy":"x","segments":[],"through":9223372036854775807,"time":TIME}"#,
        #"{"cutoff":"2026-01-01T00:00:00.000Z","months":-6,"reason":"r","requestedBy":"x","segments":[],"through":1,"time":TIME}"#,
        #"{"cutoff":"2026-01-01T00:00:00.000Z","months":6,"reason":"r","requestedBy":"x","segments":[],"through":99999999999999999999,"time":TIME}"#,
    ])
    func `a forged prune with a number out of range is reported, not trapped on`(body: String) throws {
        let forgery = try Forgery()
        try forgery.append(kind: "prune", body: body.replacingOccurrences(of: "TIME", with: Self.time))
        let report = try forgery.verify()
        #expect(report.issues.contains { $0.kind == .schema }, "\(report.issues)")
    }

    /// The hash chain is unkeyed: anyone who can write the log directory appends a correctly
    /// hashed record after the last checkpoint, and verify passes (it is only an unsigned tail).
    /// The recorder that opens the log next must not sign it silently: it records the range it
    /// found unsigned (numbers and the hash of its last entry) before its next checkpoint, and
    /// verify lists that range.
    @Test
    func `a record appended without the key is stated as unsigned when the recorder reopens, not signed silently`()
        throws
    {
        let forgery = try Forgery()
        let vin = "LSVAU2180N2000001"
        let forgedRecord = Samples.record(vin: vin, index: 40, time: Samples.start.addingTimeInterval(86_400))
        try forgery.append(
            kind: "record", body: String(decoding: EntryBody.record(forgedRecord).json.bytes, as: UTF8.self))
        let forged = try forgery.last
        var report = try forgery.verify()
        #expect(report.intact && report.unsignedTail == 1, "\(report.issues)")

        let clock = ManualClock(Samples.start.addingTimeInterval(2 * 86_400))
        let recorder = try Recorder.open(at: forgery.dir.path, signer: forgery.key, clock: clock)
        let appended = try recorder.append(Samples.record(vin: vin, index: 41, time: clock.now().date))
        try recorder.close()
        // Right after the forged entry, before any checkpoint covers it: the statement.
        let statement = try #require(try recorder.entry(at: forged.seq + 1))
        #expect(statement.kind.rawValue == "unsigned-tail", "\(statement.kind)")
        let text = String(decoding: statement.body, as: UTF8.self)
        #expect(
            text.contains("\"from\":\(forged.seq),") && text.contains("\"through\":\(forged.seq),")
                && text.contains("\"hash\":\"\(forged.hash)\""), "\(text)")
        #expect(appended.seq > forged.seq + 1)

        report = try forgery.verify()
        #expect(report.intact, "\(report.issues)")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        #expect(
            json.contains(
                #""unsignedRanges":[{"from":\#(forged.seq),"recordedAt":\#(forged.seq + 1),"through":\#(forged.seq)}]"#),
            "\(json)")
    }

    /// A crash between a record and its checkpoint leaves the same shape: the range is stated
    /// the same way (the recorder cannot tell the two apart, an auditor can weigh them).
    @Test func `records a crash left unsigned are stated when the log reopens`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        let clock = ManualClock(Samples.start)
        let vin = "LSVAU2180N2000001"
        var unsigned: [UInt64] = []
        do {
            let recorder = try Samples.makeLog(at: dir.path, count: 3, key: key, clock: clock)
            for index in 3..<6 {
                clock.advance(seconds: 60)
                unsigned.append(try recorder.append(Samples.record(vin: vin, index: index, time: clock.now().date)).seq)
            }
            // No close: the process died here.
        }
        let recorder = try Recorder.open(at: dir.path, signer: key, clock: clock)
        try recorder.close()
        let statement = try #require(try recorder.entry(at: unsigned.last! + 1))
        #expect(statement.kind.rawValue == "unsigned-tail", "\(statement.kind)")
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.intact && report.unsignedTail == 0, "\(report.issues)")
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(
            json.contains("\"from\":\(unsigned.first!)") && json.contains("\"through\":\(unsigned.last!)"), "\(json)")
    }

    /// What follows the last checkpoint is checked before the recorder continues: a line whose
    /// hash or link is wrong is not chained onto (verify names it), and a checkpoint that does not
    /// verify under the device key does not end the unsigned range.
    @Test
    func `a broken chain after the last checkpoint stops the recorder, a forged checkpoint does not end the range`()
        throws
    {
        let vin = "LSVAU2180N2000001"
        let recordBody = String(
            decoding: EntryBody.record(Samples.record(vin: vin, index: 40, time: Samples.start)).json.bytes,
            as: UTF8.self)
        do {
            let forgery = try Forgery()
            let previous = try forgery.last
            // Right hash over its content, wrong PREV.
            let content = Array("\(previous.seq + 1) \(String(repeating: "1", count: 64)) record \(recordBody)".utf8)
            let line = try Hasher.hash(.sha256, content).hex + " " + String(decoding: content, as: UTF8.self) + "\n"
            let handle = try #require(
                FileHandle(forWritingAtPath: forgery.layout.path(try forgery.layout.segments().last!)))
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            handle.closeFile()
            #expect(throws: OTAError(.recordsChanged, "")) {
                _ = try Recorder.open(at: forgery.dir.path, signer: forgery.key, clock: ManualClock(Samples.start))
            }
        }
        do {
            let forgery = try Forgery()
            try forgery.append(kind: "record", body: recordBody)
            let forged = try forgery.last
            let intruder = try PrivateKey.generate(.p256)
            let meta = try LogMeta.load(forgery.layout)
            let signature = try intruder.signature(
                for: LogEntry.checkpointMessage(genesis: meta.genesis, seq: forged.seq + 1, prev: forged.hash))
            let checkpoint = EntryBody.checkpoint(
                .init(
                    algorithm: .ecdsaP256SHA256, key: meta.keyID, signature: signature,
                    time: RecordTime(Samples.start, source: .test), version: .v2)
            ).json
            try forgery.append(kind: "checkpoint", body: String(decoding: checkpoint.bytes, as: UTF8.self))
            let recorder = try Recorder.open(
                at: forgery.dir.path, signer: forgery.key, clock: ManualClock(Samples.start))
            try recorder.close()
            let statement = try #require(try recorder.entry(at: forged.seq + 2))
            let text = String(decoding: statement.body, as: UTF8.self)
            #expect(
                statement.kind.rawValue == "unsigned-tail" && text.contains("\"from\":\(forged.seq),")
                    && text.contains("\"through\":\(forged.seq + 1),"), "\(statement.kind) \(text)")
        }
    }

    @Test(arguments: ["9223372036854775808", "9999999999999999999", "18446744073709551615", "99999999999999999999"])
    func `a forged entry number past Int64.max is malformed, not trapped on`(seq: String) throws {
        let forgery = try Forgery()
        try forgery.append(
            kind: "record",
            body: #"{"outcome":"success","step":"commit","time":TIME}"#.replacingOccurrences(
                of: "TIME", with: Self.time), seq: seq)
        let report = try forgery.verify()
        #expect(report.issues.contains { $0.kind == .malformed }, "\(report.issues)")
    }

    @Test(arguments: [
        #"{"location":"31.2304,121.4737","outcome":"success","step":"commit","time":TIME}"#,
        #"{"outcome":"success","ownerName":"Zhang San","step":"commit","time":TIME}"#,
        #"{"ecus":[{"driverName":"Li Si","ecu":"adas"}],"outcome":"success","step":"commit","time":TIME}"#,
        #"{"outcome":"success","preconditions":{"batteryPercent":1000},"step":"commit","time":TIME}"#,
        #"{"outcome":"pass","step":"commit","time":TIME}"#,
        #"{"outcome":"success","step":"commit","time":{"at":"2026-02-30T00:00:00.000Z","source":"test"}}"#,
        #"{"outcome":"success","step":"commit",  "time":TIME}"#,
        #"{"step":"commit","outcome":"success","time":TIME}"#,
    ])
    func `a record the schema forbids is reported by verify`(body: String) throws {
        let forgery = try Forgery()
        try forgery.append(kind: "record", body: body.replacingOccurrences(of: "TIME", with: Self.time))
        let report = try forgery.verify()
        #expect(report.issues.contains { $0.kind == .schema }, "\(report.issues)")
    }

    @Test func `a record the schema forbids is never appended`() throws {
        let dir = try TemporaryDirectory("records")
        let recorder = try Samples.makeLog(at: dir.path, count: 1, key: try PrivateKey.generate(.p256))
        var record = Samples.record(vin: "LSVAU2180N2000001", index: 3, time: Samples.start)
        record.preconditions?.batteryPercent = 1000
        #expect(throws: OTAError(.recordsFieldRange, "")) { try recorder.append(record) }
        // What the installer writes goes through `fitted()`: the reading is left out, not refused.
        #expect(try recorder.append(record.fitted()).seq > 0)
    }

    @Test(arguments: [0, 5, 1201, -3])
    func `a wrong retention in log.json is reported`(months: Int) throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        _ = try Samples.makeLog(at: dir.path, count: 3, key: key)
        let path = dir.path + "/log.json"
        let text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        try AtomicFileWriter.write(
            Array(text.replacingOccurrences(of: "\"retentionMonths\":6", with: "\"retentionMonths\":\(months)").utf8),
            to: path)
        #expect(throws: OTAError(.recordsMeta, "")) {
            _ = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        }
    }

    @Test func `a renamed segment is reported`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256)
        _ = try Samples.makeLog(at: dir.path, count: 400, key: key, segmentBytes: 64 << 10)
        let layout = LogLayout(directory: dir.path)
        let segments = try layout.segments()
        try #require(segments.count >= 3)
        // Renamed to another number: the name no longer matches its first entry.
        let second = try #require(LogLayout.firstSeq(ofSegment: segments[1]))
        try FileManager.default.moveItem(
            atPath: layout.path(segments[1]), toPath: layout.path(LogLayout.segmentName(firstSeq: second + 1)))
        var report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.contains { $0.kind == .segmentName }, "\(report.issues)")
        // Renamed out of the pattern: reported by name, besides the entries it takes away.
        try FileManager.default.moveItem(
            atPath: layout.path(LogLayout.segmentName(firstSeq: second + 1)), toPath: layout.path(segments[1]) + ".bak")
        report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.contains { $0.kind == .segmentName && $0.location.hasSuffix(".bak") }, "\(report.issues)")
        #expect(report.issues.contains { $0.kind == .deleted })
        // Renamed to a name that is not UTF-8: reported by its bytes, and the log still opens
        // and takes entries (the recorder skips what cannot be a segment's name).
        try FileManager.default.moveItem(atPath: layout.path(segments[1]) + ".bak", toPath: layout.path(segments[1]))
        let stray = try RawNamedFile(in: dir.path, name: Array("segment-".utf8) + [0xFF] + Array(".log".utf8))
        report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.map(\.location) == [#"segment-\xFF.log"#], "\(report.issues)")
        let clock = ManualClock(Samples.start)
        clock.advance(seconds: 86_400)
        let recorder = try Recorder.open(at: dir.path, signer: key, clock: clock)
        try recorder.append(Samples.record(vin: "LSVAU2180N2000001", index: 400, time: clock.now().date))
        try recorder.close()
        _ = stray
    }

    @Test func `entry bodies must be canonical JSON`() throws {
        for text in [
            #"{"a":1, "b":2}"#, #"{"b":1,"a":2}"#, #"{"a":01}"#, #"{"a":-0}"#, #"{"a":"\/"}"#, #"{"a":"\u0041"}"#,
            #"{"a":"\u001F"}"#, #"{"a":"\u000a"}"#, #"{"a":"\u00e9"}"#,
        ] {
            #expect(throws: OTAErrorBox.self, "\(text)") { _ = try JSONDocument(canonical: Array(text.utf8)) }
        }
        for text in [#"{"a":1,"b":[true,null,-5,0]}"#, #"{"a":"\u001f\n"}"#, #"{"":{},"a":"é/"}"#] {
            _ = try JSONDocument(canonical: Array(text.utf8))
            #expect(try JSONValue.parse(Array(text.utf8)).bytes == Array(text.utf8))
        }
    }
}

@Suite struct KeyRotationTests {
    @Test(arguments: [(KeyType.p256, KeyType.ed25519), (KeyType.sm2, KeyType.sm2)])
    func `the log continues across a device key rotation announced by the old key`(old: KeyType, new: KeyType) throws {
        let dir = try TemporaryDirectory("records")
        let oldKey = try PrivateKey.generate(old), newKey = try PrivateKey.generate(new)
        let hash: HashAlgorithm = old == .sm2 ? .sm3 : .sha256
        let clock = ManualClock(Samples.start)
        do {
            let recorder = try Samples.makeLog(at: dir.path, count: 20, key: oldKey, hash: hash, clock: clock)
            try recorder.rotateKey(to: newKey, reason: "device key renewed")
            try recorder.append(Samples.record(vin: "LSVAU2180N2000001", index: 21, time: clock.now().date))
            try recorder.close()
        }
        // A verifier holding only the old key learns the new one from the chain.
        let report = try LogVerifier(directory: dir.path, publicKey: try oldKey.publicKey).verify()
        #expect(report.intact, "\(report.issues)")
        let newKeyID = try newKey.publicKey.keyID(.sha256).hex
        #expect(report.keyRotations == 1 && report.keyID == newKeyID)
        // The log reopens only with the new key.
        #expect(throws: OTAError(.recordsWrongKey, "")) {
            _ = try Recorder.open(at: dir.path, signer: oldKey, clock: clock)
        }
        _ = try Recorder.open(at: dir.path, signer: newKey, clock: clock)
        // A verifier with only the new key cannot anchor the start of the log.
        #expect(throws: OTAError(.recordsKeyMismatch, "")) {
            _ = try LogVerifier(directory: dir.path, publicKey: try newKey.publicKey).verify()
        }
    }

    @Test func `a checkpoint signed by an unannounced key is refused`() throws {
        let forgery = try ForgedLineTests.Forgery()
        let intruder = try PrivateKey.generate(.p256)
        let meta = try LogMeta.load(forgery.layout)
        let previous = try forgery.last
        let seq = previous.seq + 1
        let signature = try intruder.signature(
            for: LogEntry.checkpointMessage(genesis: meta.genesis, seq: seq, prev: previous.hash))
        let body = EntryBody.checkpoint(
            .init(
                algorithm: .ecdsaP256SHA256, key: try intruder.publicKey.keyID(.sha256).hex, signature: signature,
                time: RecordTime(Samples.start, source: .test), version: .v2)
        ).json
        try forgery.append(kind: "checkpoint", body: String(decoding: body.bytes, as: UTF8.self))
        let report = try forgery.verify()
        #expect(report.issues.contains { $0.kind == .checkpointSignature && $0.seq == seq }, "\(report.issues)")
    }

    @Test func `log.json follows the chain's key, not the other way round`() throws {
        let dir = try TemporaryDirectory("records")
        let key = try PrivateKey.generate(.p256), intruder = try PrivateKey.generate(.p256)
        _ = try Samples.makeLog(at: dir.path, count: 10, key: key)
        let layout = LogLayout(directory: dir.path)
        var meta = try LogMeta.load(layout)
        meta.keyID = try intruder.publicKey.keyID(.sha256).hex
        try AtomicFileWriter.write(meta.json.bytes + [0x0a], to: layout.metaPath)
        // Verification names the disagreement; the intruder's key does not open the log.
        let report = try LogVerifier(directory: dir.path, publicKey: try key.publicKey).verify()
        #expect(report.issues.contains { $0.kind == .meta }, "\(report.issues)")
        #expect(throws: OTAError(.recordsWrongKey, "")) {
            _ = try Recorder.open(at: dir.path, signer: intruder, clock: ManualClock(Samples.start))
        }
    }
}
