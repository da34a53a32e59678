import Foundation
import OTACore
import OTARecorder
import Testing

/// Every refusal of the strict entry decoder (`EntryBody(entry:vin:)`), one input per attack: the
/// code it must get and the words the message must hold (the field's path, or the byte where the
/// text stops being canonical JSON). Whatever reads a log reads it through this decoder.
@Suite struct EntryDecodingTests {
    static let time = #"{"at":"2026-02-01T00:00:00.000Z","source":"test"}"#
    static let digest = String(repeating: "ab", count: 32)

    /// A line of kind `kind` and number 13 holding `body` (the hash is not checked here).
    static func entry(_ body: String, kind: String = "record", seq: UInt64 = 13) throws -> LogEntry {
        let zero = String(repeating: "0", count: 64)
        let line = "\(zero) \(seq) \(zero) \(kind) \(body.replacingOccurrences(of: "TIME", with: time))"
        return try #require(LogEntry.parse(Array(line.utf8)[...]), "not a line: \(line)")
    }

    static func decode(_ body: String, kind: String = "record") throws -> EntryBody {
        try EntryBody(entry: entry(body, kind: kind), vin: "LSVAU2180N2000001")
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let kind: String
        let body: String
        let code: OTAError.Code
        let says: String
        init(_ body: String, _ code: OTAError.Code, says: String, kind: String = "record") {
            self.kind = kind
            self.body = body
            self.code = code
            self.says = says
        }
        var testDescription: String { "\(kind) \(body)" }
    }

    static let record = #""outcome":"success","step":"commit","time":TIME"#

    static let refusals: [Refusal] = [
        // Duplicate keys, at the top and nested: one key read two ways by different tools.
        Refusal(
            #"{"outcome":"success","outcome":"failure","step":"commit","time":TIME}"#, .recordsMalformed,
            says: "duplicate key 'outcome'"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":{"at":"2026-02-01T00:00:00.000Z","at":"2026-02-02T00:00:00.000Z","source":"test"}}"#,
            .recordsMalformed, says: "duplicate key 'at'"),
        Refusal(
            #"{"ecus":[{"ecu":"a","ecu":"b"}],"outcome":"success","step":"commit","time":TIME}"#,
            .recordsMalformed, says: "duplicate key 'ecu'"),
        // Unknown fields, at every level, and a key that only looks like a known one.
        Refusal(#"{"location":"31.2,121.4",\#(record)}"#, .recordsFieldUnknown, says: "(record).location"),
        Refusal(
            #"{"ecus":[{"driverName":"Li Si","ecu":"adas"}],\#(record)}"#, .recordsFieldUnknown,
            says: "ecus[0].driverName"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":{"at":"2026-02-01T00:00:00.000Z","source":"test","tz":"+8"}}"#,
            .recordsFieldUnknown, says: "time.tz"),
        Refusal(
            #"{"certificate":"x","key":"\#(digest)","public\#u{212A}ey":"3059","reason":"r","time":TIME}"#,
            .recordsFieldUnknown, says: "canonically equivalent to 'publicKey' but spelled with U+212A",
            kind: "key-rotation"),
        // The same name twice, once with U+212A KELVIN SIGN: a duplicate key to a reader that
        // compares text by canonical equivalence (Swift's ==), two keys to one comparing bytes.
        Refusal(
            #"{"certificate":"x","key":"\#(digest)","publicKey":"3059","public\#u{212A}ey":"3059","reason":"r","time":TIME}"#,
            .recordsFieldUnknown,
            says: "public\u{212A}ey: duplicate key 'publicKey', spelled a second time with U+212A", kind: "key-rotation"
        ),
        Refusal(
            #"{"outcome":"success","step":"commit","time":TIME,"tim\#u{0065}\#u{0301}":"x"}"#,
            .recordsFieldUnknown, says: "(record).tim\u{0065}\u{0301}: not a field of the record schema (",
            kind: "record"),
        Refusal(
            #"{"alg":"ecdsa-p256-sha256","key":"\#(digest)","sig":"00","time":TIME,"vin":"X"}"#,
            .recordsFieldUnknown, says: "(checkpoint).vin", kind: "checkpoint"),
        // Wrong types.
        Refusal(#"{"outcome":1,"step":"commit","time":TIME}"#, .recordsFieldType, says: "(record).outcome"),
        Refusal(#"{"outcome":"pass","step":"commit","time":TIME}"#, .recordsFieldType, says: "(record).outcome"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":"2026-02-01T00:00:00.000Z"}"#, .recordsFieldType,
            says: "(record).time"),
        Refusal(#"{"durationMs":"5",\#(record)}"#, .recordsFieldType, says: "(record).durationMs"),
        Refusal(#"{"attempt":true,\#(record)}"#, .recordsFieldType, says: "(record).attempt"),
        Refusal(#"{"attempt":null,\#(record)}"#, .recordsFieldType, says: "(record).attempt"),
        Refusal(#"{"attempt":"",\#(record)}"#, .recordsFieldType, says: "(record).attempt"),
        Refusal(#"{"ecus":{"ecu":"a"},\#(record)}"#, .recordsFieldType, says: "(record).ecus"),
        Refusal(#"{"ecus":["adas"],\#(record)}"#, .recordsFieldType, says: "(record).ecus[0]"),
        Refusal(#"{"boot":{"count":7},\#(record)}"#, .recordsFieldType, says: "boot.count"),
        Refusal(#"{"boot":{"count":"007"},\#(record)}"#, .recordsFieldType, says: "boot.count"),
        Refusal(#"{"boot":{"count":"18446744073709551616"},\#(record)}"#, .recordsFieldType, says: "boot.count"),
        Refusal(
            #"{"notice":{"digest":"\#(digest.uppercased())","language":"en"},\#(record)}"#, .recordsFieldType,
            says: "notice.digest"),
        Refusal(
            #"{"outcome":"success","preconditions":{"parked":"yes"},"step":"commit","time":TIME}"#, .recordsFieldType,
            says: "preconditions.parked"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":{"at":"2026-02-30T00:00:00.000Z","source":"test"}}"#,
            .recordsFieldType, says: "time.at"),
        Refusal(
            #"{"alg":"rsa","key":"\#(digest)","sig":"00","time":TIME}"#, .recordsFieldType,
            says: "(checkpoint).alg", kind: "checkpoint"),
        Refusal(
            #"{"alg":"ecdsa-p256-sha256","key":"\#(digest)","sig":"0g","time":TIME}"#, .recordsFieldType,
            says: "(checkpoint).sig", kind: "checkpoint"),
        // One form per signed-message version: version 2 has no `v`.
        Refusal(
            #"{"alg":"ecdsa-p256-sha256","key":"\#(digest)","sig":"00","time":TIME,"v":2}"#, .recordsFieldRange,
            says: "(checkpoint).v", kind: "checkpoint"),
        Refusal(
            #"{"alg":"ecdsa-p256-sha256","key":"\#(digest)","sig":"00","time":TIME,"v":"3"}"#, .recordsFieldType,
            says: "(checkpoint).v", kind: "checkpoint"),
        Refusal(
            #"{"alg":"ecdsa-p256-sha256","key":"\#(digest)","sig":"00","time":{"at":"2026-02-01T00:00:00Z","source":"test"},"v":3}"#,
            .recordsFieldType,
            says: "(checkpoint).time.at: a version 3 checkpoint writes it as 2026-02-01T00:00:00.000Z",
            kind: "checkpoint"),
        // Missing fields.
        Refusal(#"{"outcome":"success","time":TIME}"#, .recordsFieldMissing, says: "(record).step"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":{"source":"test"}}"#, .recordsFieldMissing,
            says: "time.at"),
        // Numbers out of range, strings too long, arrays too long.
        Refusal(
            #"{"outcome":"success","preconditions":{"batteryPercent":101},"step":"commit","time":TIME}"#,
            .recordsFieldRange, says: "preconditions.batteryPercent"),
        Refusal(#"{"durationMs":-1,\#(record)}"#, .recordsFieldRange, says: "(record).durationMs"),
        Refusal(#"{"boot":{"triesRemaining":1001},\#(record)}"#, .recordsFieldRange, says: "boot.triesRemaining"),
        Refusal(
            #"{"attempt":"\#(String(repeating: "a", count: 65))",\#(record)}"#, .recordsFieldRange,
            says: "(record).attempt"),
        Refusal(
            #"{"ecus":[\#(Array(repeating: #"{"ecu":"a"}"#, count: 257).joined(separator: ","))],\#(record)}"#,
            .recordsFieldRange, says: "(record).ecus"),
        Refusal(
            #"{"cutoff":"2026-01-01T00:00:00.000Z","months":6,"reason":"r","requestedBy":"x","segments":[],"through":13,"time":TIME}"#,
            .recordsFieldRange, says: "(prune).through", kind: "prune"),
        // Huge numbers and numbers that are not integers.
        Refusal(#"{"durationMs":9223372036854775808,\#(record)}"#, .recordsMalformed, says: "9223372036854775808"),
        Refusal(#"{"durationMs":18446744073709551616,\#(record)}"#, .recordsMalformed, says: "18446744073709551616"),
        Refusal(#"{"durationMs":-9223372036854775809,\#(record)}"#, .recordsMalformed, says: "-9223372036854775809"),
        Refusal(
            #"{"durationMs":99999999999999999999999999999999,\#(record)}"#, .recordsMalformed, says: "out of range"),
        Refusal(#"{"durationMs":1e3,\#(record)}"#, .recordsMalformed, says: "only integers"),
        Refusal(#"{"durationMs":1.0,\#(record)}"#, .recordsMalformed, says: "only integers"),
        Refusal(#"{"durationMs":-0,\#(record)}"#, .recordsMalformed, says: "-0"),
        Refusal(#"{"durationMs":01,\#(record)}"#, .recordsMalformed, says: "leading zeros"),
        Refusal(#"{"durationMs":-,\#(record)}"#, .recordsMalformed, says: "digits"),
        // Escapes and encodings that are not the canonical one (another tool may read them
        // differently, and the hash would cover two spellings of one record).
        Refusal(#"{"attempt":"a\/b",\#(record)}"#, .recordsMalformed, says: "escaped '/'"),
        Refusal(#"{"attempt":"\u0041",\#(record)}"#, .recordsMalformed, says: "\\u escape"),
        Refusal(#"{"attempt":"\u001F",\#(record)}"#, .recordsMalformed, says: "\\u escape"),
        Refusal(#"{"attempt":"\u000a",\#(record)}"#, .recordsMalformed, says: "\\u escape"),
        Refusal(#"{"attempt":"\u00e9",\#(record)}"#, .recordsMalformed, says: "\\u escape"),
        Refusal(#"{"attempt":"\ud83d\ude00",\#(record)}"#, .recordsMalformed, says: "\\u escape"),
        Refusal(#"{"attempt":"\x",\#(record)}"#, .recordsMalformed, says: "escape"),
        Refusal(#"{"o\u0075tcome":"success","step":"commit","time":TIME}"#, .recordsMalformed, says: "\\u escape"),
        Refusal(#"{"outcome":"success","step":"commit",  "time":TIME}"#, .recordsMalformed, says: "whitespace"),
        Refusal(#"{"outcome":"success", "step":"commit","time":TIME}"#, .recordsMalformed, says: "whitespace"),
        Refusal(#"{"outcome" :"success","step":"commit","time":TIME}"#, .recordsMalformed, says: "whitespace"),
        Refusal(#"{"step":"commit","outcome":"success","time":TIME}"#, .recordsMalformed, says: "canonical order"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":{"source":"test","at":"2026-02-01T00:00:00.000Z"}}"#,
            .recordsMalformed, says: "canonical order"),
        Refusal(#"{"attempt":tru,\#(record)}"#, .recordsMalformed, says: "unexpected character"),
        Refusal(#"{"attempt":'a',\#(record)}"#, .recordsMalformed, says: "unexpected character"),
        Refusal(#"{outcome:"success","step":"commit","time":TIME}"#, .recordsMalformed, says: "quoted key"),
        Refusal(#"{"ecus":[{"ecu":"a"},],\#(record)}"#, .recordsMalformed, says: "unexpected character"),
        Refusal(#"{"outcome":"success","step":"commit","time":TIME,}"#, .recordsMalformed, says: "quoted key"),
        Refusal(#"{"outcome":"success","step":"commit","time":TIME}}"#, .recordsMalformed, says: "after the JSON"),
        Refusal(#"{"outcome":"success","step":"commit","time":TIME}{}"#, .recordsMalformed, says: "after the JSON"),
        // Nesting deeper than the reader allows.
        Refusal(
            #"{"reasons":\#(String(repeating: "[", count: 40))\#(String(repeating: "]", count: 40)),\#(record)}"#,
            .recordsMalformed, says: "nested deeper"),
        // Truncated input.
        Refusal(#"{"outcome":"success","step":"commit","time":TIME"#, .recordsMalformed, says: "end of input"),
        Refusal(
            #"{"outcome":"success","step":"commit","time":{"at":"2026-02-01T00:00:00.000Z","source":"test}"#,
            .recordsMalformed, says: "unterminated"),
        Refusal(#"{"ecus":[{"ecu":"a"}"#, .recordsMalformed, says: "end of input"),
        Refusal(#"{"attempt":"a\"}"#, .recordsMalformed, says: "unterminated"),
        Refusal(#"{"attempt":"a\u00}"#, .recordsMalformed, says: "escape"),
        Refusal(#"{"attempt":}"#, .recordsMalformed, says: "unexpected character"),
    ]

    @Test(arguments: refusals)
    func `every malformed or out-of-schema entry body is refused with its code, naming where`(refusal: Refusal) throws {
        do {
            let body = try Self.decode(refusal.body, kind: refusal.kind)
            Issue.record("accepted: \(body)")
        } catch let error as OTAError {
            #expect(error.code == refusal.code, "\(error.message)")
            #expect(error.message.contains(refusal.says), "\(error.message)")
            #expect(error.message.hasPrefix("entry 13"), "\(error.message)")
        }
    }

    /// Bytes that are not UTF-8 (or are, but spell a character two ways) inside a string.
    @Test(
        arguments: [
            [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
            [0xFF], [0x80], [0xE2, 0x84], [0x01], [0x1F], [0x0A],
        ] as [[UInt8]])
    func `invalid UTF-8 and raw control characters in a string are refused`(bytes: [UInt8]) throws {
        let head = Array(#"{"attempt":"a"#.utf8)
        let tail = Array(#"b","outcome":"success","step":"commit","time":TIME}"#.utf8)
        let body = String(decoding: head + bytes + tail, as: UTF8.self)
        // Built from bytes: `String(decoding:)` would repair them, so the line is assembled raw.
        let zero = Array(String(repeating: "0", count: 64).utf8)
        var line = zero + Array(" 13 ".utf8) + zero + Array(" record ".utf8) + head + bytes
        line += Array(String(decoding: tail, as: UTF8.self).replacingOccurrences(of: "TIME", with: Self.time).utf8)
        let entry = try #require(LogEntry.parse(line[...]), "\(body)")
        #expect(throws: OTAError(.recordsMalformed, "")) { _ = try EntryBody(entry: entry, vin: "LSVAU2180N2000001") }
    }

    /// What the writer produces reads back as the same value, for every kind and every field.
    @Test func `every kind of entry the writer produces reads back unchanged`() throws {
        var bodies: [EntryBody] = []
        for index in 0..<14 {
            var record = Samples.record(vin: "LSVAU2180N2000001", index: index, time: Date(timeIntervalSince1970: 1e9))
            record.attempt = "a\u{0}\u{1}\u{1f}\"\\\n\t/é\u{212A}😀"
            record.boot = BootReading(booted: "b", triesRemaining: 3, count: UInt64.max, unrecorded: 0)
            record.repository = RepositoryFacts(
                repository: "https://r", target: "t", required: true, workshop: false, rootVersion: Int64.max,
                timestampVersion: 0, snapshotVersion: 2, targetsVersion: 3, signedAt: "2026-01-01T00:00:00.000Z",
                clockFloor: "2026-01-01T00:00:00.000Z", floorBounded: true)
            record.repository?.events = ["e1", "e2"]
            record.repository?.download = DownloadReading(
                bytes: 10, resumedFrom: 0, received: 10, refetchedChunks: 1, retries: 2, retryLog: "x")
            record.trust = TrustFacts(
                source: "s", kind: "crl", fromVersion: 1, toVersion: 2, anchorsAdded: ["a"], anchorsRetired: ["b"],
                crlsApplied: ["c"], crlsNotNewer: ["d"], changed: true, recovery: nil)
            record.resultNotices = [NoticeShown(digest: Self.digest, language: "en")]
            bodies.append(.record(record))
        }
        let stamp = RecordTime(milliseconds: 1_700_000_000_123, source: .test)
        bodies.append(
            .genesis(
                .init(
                    format: "f", vin: "LSVAU2180N2000001", hash: .sm3, key: Self.digest,
                    nonce: "00112233445566778899aabbccddeeff", time: stamp)))
        for version in [EntryBody.Checkpoint.Version.v2, .v3] {
            bodies.append(
                .checkpoint(
                    .init(
                        algorithm: .ecdsaP256SHA256, key: Self.digest, signature: [1, 2, 255], time: stamp,
                        version: version)))
        }
        bodies.append(
            .tornTail(
                .init(
                    segment: LogLayout.segmentName(firstSeq: 0), offset: 5, bytes: 7, digest: Self.digest,
                    file: "quarantine/torn-1", time: stamp)))
        bodies.append(
            .prune(
                .init(
                    through: 3, throughHash: Self.digest, segments: [LogLayout.segmentName(firstSeq: 0)],
                    cutoff: "2026-01-01T00:00:00.000Z", months: 6, reason: "retention", requestedBy: "vehicle",
                    acknowledged: .init(through: 3, hash: Self.digest, by: "fleet"), time: stamp)))
        bodies.append(
            .keyRotation(.init(key: Self.digest, publicKey: [0x30, 0x59], certificate: nil, reason: "r", time: stamp)))
        bodies.append(.unsignedTail(.init(from: 4, through: 12, hash: Self.digest, time: stamp)))
        for body in bodies {
            let text = String(decoding: body.json.bytes, as: UTF8.self)
            let entry = try #require(
                LogEntry.parse(
                    Array(
                        (String(repeating: "0", count: 64) + " 13 " + String(repeating: "0", count: 64) + " "
                            + body.kind.rawValue + " " + text).utf8)[...]))
            #expect(try EntryBody(entry: entry, vin: "LSVAU2180N2000001") == body, "\(text)")
        }
    }
}
