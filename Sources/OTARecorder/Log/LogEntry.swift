public import OTACore

/// One line of a record log segment (docs/FORMAT.md, Records):
///
///     HASH SP SEQ SP PREV SP KIND SP JSON LF
///
/// `HASH` is the suite hash (lowercase hex) of every byte after `HASH SP` up to, not including,
/// `LF`; `PREV` is the `HASH` of the entry before (64 `0`s for the genesis entry); `SEQ` counts
/// entries from 0 in decimal; `JSON` is canonical JSON (`JSONValue`).
public struct LogEntry: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Entry 0: names the format, VIN, hash and device key.
        case genesis
        /// An `UpgradeRecord`.
        case record
        /// The device key's signature over the chain so far; first entry of every later segment.
        case checkpoint
        /// Bytes found torn at the end of the log on open, moved to `quarantine/`.
        case tornTail = "torn-tail"
        /// Whole segments removed under the retention rules (a tombstone).
        case prune
        /// A new device key announced by the current one.
        case keyRotation = "key-rotation"
        /// Entries the recorder found after the last checkpoint when it opened the log (a crash
        /// between a record and its checkpoint, or lines written without the device key), stated
        /// before its next checkpoint signs them.
        case unsignedTail = "unsigned-tail"

        /// Matches the kind's ASCII name without building a `String`.
        init?(ascii: UnsafePointer<UInt8>, count: Int) {
            let kind: Kind
            switch (ascii[0], count) {
            case (UInt8(ascii: "r"), 6): kind = .record
            case (UInt8(ascii: "c"), 10): kind = .checkpoint
            case (UInt8(ascii: "g"), 7): kind = .genesis
            case (UInt8(ascii: "t"), 9): kind = .tornTail
            case (UInt8(ascii: "p"), 5): kind = .prune
            case (UInt8(ascii: "k"), 12): kind = .keyRotation
            case (UInt8(ascii: "u"), 13): kind = .unsignedTail
            default: return nil
            }
            guard kind.rawValue.utf8.elementsEqual(UnsafeBufferPointer(start: ascii, count: count)) else { return nil }
            self = kind
        }
    }

    public let hash: String
    public let seq: UInt64
    public let prev: String
    public let kind: Kind
    /// The canonical JSON bytes.
    public let body: ArraySlice<UInt8>

    /// The `PREV` of entry 0.
    public static let zeroHash = String(repeating: "0", count: 64)

    /// The line for an entry (with its `LF`) and its hash.
    package static func encode(seq: UInt64, prev: String, kind: Kind, body: JSONValue, hash: HashAlgorithm)
        throws(OTAError) -> (line: [UInt8], hash: String)
    {
        guard seq <= EntryBody.maximumSeq else {
            throw OTAError(
                .recordsFieldRange, "entry number \(seq) is past the largest a log may hold (\(EntryBody.maximumSeq))")
        }
        var content: [UInt8] = []
        content.reserveCapacity(512)
        content.append(contentsOf: String(seq).utf8)
        content.append(0x20)
        content.append(contentsOf: prev.utf8)
        content.append(0x20)
        content.append(contentsOf: kind.rawValue.utf8)
        content.append(0x20)
        body.write(into: &content)
        let digest = try Hasher.hash(hash, content).hex
        var line = Array(digest.utf8)
        line.reserveCapacity(line.count + content.count + 2)
        line.append(0x20)
        line.append(contentsOf: content)
        line.append(0x0a)
        return (line, digest)
    }

    /// Why a line could not be read as an entry.
    public enum ParseFailure: Error, Sendable { case malformed(String) }

    /// Splits a line (without its `LF`) into its fields; does not check the hash. Nil for a line
    /// that is not an entry, including one whose number is past `EntryBody.maximumSeq`.
    public static func parse(_ line: ArraySlice<UInt8>) -> LogEntry? {
        // Scans through a raw pointer: this runs once per entry on every verification, and the
        // test suite runs unoptimised builds.
        let fields = line.withUnsafeBufferPointer {
            buffer -> (seq: UInt64, prevStart: Int, kind: Kind, bodyStart: Int)? in
            guard let raw = buffer.baseAddress else { return nil }
            let count = buffer.count
            guard count > 64 + 1 + 1 + 1 + 64 + 1 + 1 + 1 + 2, raw[64] == 0x20, allHex(raw, 64) else { return nil }
            var index = 65
            var seq: UInt64 = 0
            while index < count, raw[index] != 0x20 {
                let byte = raw[index]
                guard byte >= 0x30, byte <= 0x39, index - 65 < 19 else { return nil }
                seq = seq &* 10 &+ UInt64(byte &- 0x30)
                index += 1
            }
            guard index > 65, index < count, !(raw[65] == 0x30 && index - 65 > 1), seq <= EntryBody.maximumSeq else {
                return nil
            }
            index += 1
            let prevStart = index
            guard index + 65 <= count, raw[index + 64] == 0x20, allHex(raw + index, 64) else { return nil }
            index += 65
            let kindStart = index
            while index < count, raw[index] != 0x20 { index += 1 }
            guard index < count, let kind = Kind(ascii: raw + kindStart, count: index - kindStart) else { return nil }
            index += 1
            guard index < count, raw[index] == UInt8(ascii: "{"), raw[count - 1] == UInt8(ascii: "}") else {
                return nil
            }
            return (seq, prevStart, kind, index)
        }
        guard let fields else { return nil }
        let start = line.startIndex
        let prevStart = start + fields.prevStart
        return LogEntry(
            hash: String(decoding: line[start..<start + 64], as: UTF8.self), seq: fields.seq,
            prev: String(decoding: line[prevStart..<prevStart + 64], as: UTF8.self), kind: fields.kind,
            body: line[(start + fields.bodyStart)...])
    }

    private static func allHex(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var index = 0
        while index < count {
            let byte = bytes[index]
            if !((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)) { return false }
            index += 1
        }
        return true
    }

    /// The hash of a line's content as it is now (bytes after `HASH SP`).
    public static func computeHash(_ line: ArraySlice<UInt8>, _ algorithm: HashAlgorithm) throws(OTAError) -> String {
        try Hasher.hash(algorithm, line[(line.startIndex + 65)...]).hex
    }

    /// Whether a line's `HASH` field matches the hash of its content.
    public static func hashMatches(_ line: ArraySlice<UInt8>, _ algorithm: HashAlgorithm) throws(OTAError) -> Bool {
        guard line.count > 65 else { return false }
        let digest = try Hasher.hash(algorithm, line[(line.startIndex + 65)...]).bytes
        return line.withUnsafeBufferPointer { buffer in
            digest.withUnsafeBufferPointer { digestBuffer in
                let raw = buffer.baseAddress!
                let bytes = digestBuffer.baseAddress!
                var index = 0
                while index < digestBuffer.count {
                    let byte = bytes[index]
                    let high = byte >> 4, low = byte & 0x0f
                    if raw[2 * index] != (high < 10 ? 0x30 + high : 0x57 + high) { return false }
                    if raw[2 * index + 1] != (low < 10 ? 0x30 + low : 0x57 + low) { return false }
                    index += 1
                }
                return true
            }
        }
    }

    /// The body parsed as JSON.
    package func json() throws(OTAError) -> JSONValue {
        do { return try JSONValue.parse(body) } catch {
            throw OTAError(.recordsMalformed, "entry \(seq): \(error.message)")
        }
    }

    /// The message a version 2 checkpoint's signature covers (older logs): the log's genesis
    /// hash (which names the VIN and a random nonce), the checkpoint's own number and the hash of
    /// the entry before it. It leaves out the checkpoint's time, which version 3 covers.
    public static func checkpointMessage(genesis: String, seq: UInt64, prev: String) -> [UInt8] {
        Array("ota-records-checkpoint/2 \(genesis) \(seq) \(prev)".utf8)
    }

    /// The message a version 3 checkpoint's signature covers (what the recorder writes): as
    /// version 2, then the checkpoint's time as its body states it (`at`, `source`), so the time
    /// cannot be rewritten without the device key.
    public static func checkpointMessage(genesis: String, seq: UInt64, prev: String, time: RecordTime) -> [UInt8] {
        Array("ota-records-checkpoint/3 \(genesis) \(seq) \(prev) \(time.text) \(time.source.rawValue)".utf8)
    }

    /// The line's bytes as they appear in a segment, without the `LF`.
    public var line: [UInt8] {
        var out = Array("\(hash) \(seq) \(prev) \(kind.rawValue) ".utf8)
        out.append(contentsOf: body)
        return out
    }
}
