public import OTACore
#if canImport(Glibc)
import Glibc
#endif

/// Names inside a log directory (docs/FORMAT.md, Records):
///
///     log.json                      format, VIN, suite hash, device key id, retention
///     segment-<first seq, 20 digits>.log
///     HEAD                          the latest checkpoint line (a copy)
///     ACK                           "<seq> <hash>\n": what the fleet store has acknowledged
///     quarantine/torn-<segment>-<offset>.bin
public struct LogLayout: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var metaPath: String { directory + "/log.json" }
    public var headPath: String { directory + "/HEAD" }
    public var ackPath: String { directory + "/ACK" }
    public var lockPath: String { directory + "/lock" }
    public var quarantineDirectory: String { directory + "/quarantine" }

    public static func segmentName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The first sequence number a segment name claims, or nil for other names.
    public static func firstSeq(ofSegment name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".log"), name.count == 32 else { return nil }
        return UInt64(name.dropFirst(8).dropLast(4))
    }

    /// Segment file names in order.
    public func segments() throws(OTAError) -> [String] {
        try FileSystem.list(directory).filter { Self.firstSeq(ofSegment: $0) != nil }
    }

    public func path(_ name: String) -> String { directory + "/" + name }
}

/// What `log.json` holds.
public struct LogMeta: Sendable, Equatable {
    public static let format = "ota-records/1"
    public var vin: String
    public var hash: HashAlgorithm
    /// Suite hash (SHA-256) of the device public key's SubjectPublicKeyInfo, hex.
    public var keyID: String
    public var retentionMonths: Int
    public var created: String

    public var json: CanonicalJSON {
        .object([
            "format": .string(Self.format), "vin": .string(vin), "hash": .string(hash.rawValue),
            "key": .string(keyID), "retentionMonths": .integer(Int64(retentionMonths)), "created": .string(created),
        ])
    }

    public init(vin: String, hash: HashAlgorithm, keyID: String, retentionMonths: Int, created: String) {
        self.vin = vin
        self.hash = hash
        self.keyID = keyID
        self.retentionMonths = retentionMonths
        self.created = created
    }

    public static func load(_ layout: LogLayout) throws(OTAError) -> LogMeta {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(layout.metaPath, limit: 64 << 10) } catch {
            throw error.prefixed("\(layout.directory): not a record log (no log.json)")
        }
        let json: CanonicalJSON
        do { json = try CanonicalJSON.parse(bytes) } catch {
            throw .usage("records.malformed", "\(layout.metaPath): \(error.message)")
        }
        guard json["format"]?.stringValue == format, let vin = json["vin"]?.stringValue,
              let hashName = json["hash"]?.stringValue, let hash = HashAlgorithm(rawValue: hashName),
              let keyID = json["key"]?.stringValue, let months = json["retentionMonths"]?.integerValue,
              let created = json["created"]?.stringValue
        else { throw .usage("records.malformed", "\(layout.metaPath): not an \(format) log description") }
        return LogMeta(vin: vin, hash: hash, keyID: keyID, retentionMonths: Int(months), created: created)
    }
}

/// Reads a segment file line by line in fixed-size chunks (memory does not grow with the file).
public enum SegmentReader {
    /// Calls `body` for each line (without its `LF`), its byte offset, and whether it ended with
    /// `LF` (only the last line of a file can lack it: a torn tail).
    public static func forEachLine(
        _ path: String, _ body: (_ line: ArraySlice<UInt8>, _ offset: Int64, _ terminated: Bool) throws(OTAError) -> Void
    ) throws(OTAError) {
        let file = try InputFile(path: path)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var pending: [UInt8] = []
        var pendingOffset: Int64 = 0
        var offset: Int64 = 0
        while true {
            let count = try file.read(into: &chunk)
            if count == 0 { break }
            var start = 0
            var index = 0
            while index < count {
                if chunk[index] == 0x0a {
                    if pending.isEmpty {
                        try body(chunk[start..<index], offset + Int64(start), true)
                    } else {
                        pending.append(contentsOf: chunk[start..<index])
                        try body(pending[...], pendingOffset, true)
                        pending.removeAll(keepingCapacity: true)
                    }
                    start = index + 1
                }
                index += 1
            }
            if start < count {
                if pending.isEmpty { pendingOffset = offset + Int64(start) }
                pending.append(contentsOf: chunk[start..<count])
                if pending.count > 16 << 20 {
                    throw .rejected("records.malformed", "\(path): a line longer than 16 MiB")
                }
            }
            offset += Int64(count)
        }
        if !pending.isEmpty { try body(pending[...], pendingOffset, false) }
    }
}

/// Thin libc file helpers for the recorder: one place for `EINTR` and error text.
enum LogIO {
    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(OTAError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .io("io.write", "\(path): write failed", cause: errnoText())
            }
            offset += written
        }
    }

    static func sync(_ fd: Int32, path: String) throws(OTAError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw .io("io.fsync", "\(path): fsync failed", cause: errnoText())
        }
    }

    static func syncDirectory(_ path: String) throws(OTAError) {
        try FileSystem.syncDirectory(path)
    }

    /// Replaces `path` with `bytes` via a temporary file and `rename`; with `durable`, the data
    /// is fsync'd before the rename and the directory after it.
    static func replace(_ path: String, with bytes: [UInt8], durable: Bool) throws(OTAError) {
        if durable {
            try AtomicFileWriter.write(bytes, to: path)
            return
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io("io.create", "\(temporary): cannot create", cause: errnoText()) }
        do { try writeAll(fd, bytes, path: temporary) } catch { close(fd); throw error }
        close(fd)
        if rename(temporary, path) != 0 { throw .io("io.rename", "\(path): rename failed", cause: errnoText()) }
    }
}
