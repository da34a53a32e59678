public import OTACore

/// One line of a record log segment (docs/FORMAT.md, Records):
///
///     HASH SP SEQ SP PREV SP KIND SP JSON LF
///
/// `HASH` is the suite hash (lowercase hex) of every byte after `HASH SP` up to, not including,
/// `LF`; `PREV` is the `HASH` of the entry before (64 `0`s for the genesis entry); `SEQ` counts
/// entries from 0 in decimal; `JSON` is canonical JSON (`CanonicalJSON`).
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
        /// Whole segments removed under the retention rules.
        case prune
    }

    public let hash: String
    public let seq: UInt64
    public let prev: String
    public let kind: Kind
    /// The canonical JSON bytes.
    public let body: [UInt8]

    /// The `PREV` of entry 0.
    public static let zeroHash = String(repeating: "0", count: 64)

    /// The line for an entry (with its `LF`) and its hash.
    public static func encode(seq: UInt64, prev: String, kind: Kind, body: CanonicalJSON, hash: HashAlgorithm) throws(OTAError) -> (line: [UInt8], hash: String) {
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

    /// Splits a line (without its `LF`) into its fields; does not check the hash.
    public static func parse(_ line: ArraySlice<UInt8>) -> LogEntry? {
        let start = line.startIndex
        guard line.count > 64 + 1 + 1 + 1 + 64 + 1 + 1 + 1 + 2 else { return nil }
        guard line[start + 64] == 0x20 else { return nil }
        let hashBytes = line[start..<start + 64]
        guard hashBytes.allSatisfy(isHex) else { return nil }
        var index = start + 65
        var seq: UInt64 = 0
        let seqStart = index
        while index < line.endIndex, line[index] != 0x20 {
            let byte = line[index]
            guard (0x30...0x39).contains(byte), index - seqStart < 19 else { return nil }
            seq = seq * 10 + UInt64(byte - 0x30)
            index += 1
        }
        guard index > seqStart, index < line.endIndex, !(line[seqStart] == 0x30 && index - seqStart > 1) else { return nil }
        index += 1
        guard index + 65 <= line.endIndex, line[index + 64] == 0x20 else { return nil }
        let prevBytes = line[index..<index + 64]
        guard prevBytes.allSatisfy(isHex) else { return nil }
        index += 65
        let kindStart = index
        while index < line.endIndex, line[index] != 0x20 { index += 1 }
        guard index < line.endIndex, let kind = Kind(rawValue: String(decoding: line[kindStart..<index], as: UTF8.self)) else { return nil }
        index += 1
        guard index < line.endIndex, line[index] == UInt8(ascii: "{"), line.last == UInt8(ascii: "}") else { return nil }
        return LogEntry(
            hash: String(decoding: hashBytes, as: UTF8.self), seq: seq,
            prev: String(decoding: prevBytes, as: UTF8.self), kind: kind, body: Array(line[index...]))
    }

    /// The hash of a line's content as it is now (bytes after `HASH SP`).
    public static func computeHash(_ line: ArraySlice<UInt8>, _ algorithm: HashAlgorithm) throws(OTAError) -> String {
        try Hasher.hash(algorithm, Array(line[(line.startIndex + 65)...])).hex
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// The body parsed as JSON.
    public func json() throws(OTAError) -> CanonicalJSON {
        do { return try CanonicalJSON.parse(body) } catch {
            throw .rejected("records.malformed", "entry \(seq): \(error.message)")
        }
    }

    /// The message a checkpoint's signature covers.
    public static func checkpointMessage(vin: String, seq: UInt64, prev: String) -> [UInt8] {
        Array("ota-records-checkpoint/1 \(vin) \(seq) \(prev)".utf8)
    }
}
