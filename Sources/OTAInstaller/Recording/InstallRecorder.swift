public import Foundation
public import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// One step of the installer, as recorded for compliance: what was done, the outcome and its
/// stable code, and the details (versions, hashes, readings, notice digest...).
public struct InstallRecord: Codable, Sendable, Equatable {
    public enum Result: String, Codable, Sendable { case pass, fail, info }

    public var time: Date
    public var vin: String
    public var bundle: String?
    public var campaign: String?
    public var step: String
    public var result: Result
    public var code: String?
    public var message: String?
    public var fields: [String: String]

    public init(
        time: Date, vin: String, bundle: String?, campaign: String?, step: String, result: Result, code: String? = nil, message: String? = nil,
        fields: [String: String] = [:]
    ) {
        self.time = time
        self.vin = vin
        self.bundle = bundle
        self.campaign = campaign
        self.step = step
        self.result = result
        self.code = code
        self.message = message
        self.fields = fields
    }
}

/// Where the installer records every step. The vehicle's tamper-evident recorder (OTARecorder)
/// implements this; until it lands, `JSONLinesRecorder` does.
public protocol InstallRecorder: AnyObject {
    /// Persists one record durably before returning; a failure stops the install (nothing
    /// proceeds unrecorded).
    func record(_ record: InstallRecord) throws(OTAError)
}

/// Appends one JSON object per line to a file and fsyncs after each: simple, durable, not yet
/// hash-chained (that is OTARecorder's job).
public final class JSONLinesRecorder: InstallRecorder {
    public let path: String

    public init(path: String) { self.path = path }

    public func record(_ record: InstallRecord) throws(OTAError) {
        var line = try CanonicalJSON.encode(record)
        line.append(0x0A)
        let created = !FileSystem.exists(path)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw OTAError(.recordIo, "\(path): cannot open the record log", cause: String(cString: strerror(errno))) }
        defer { close(fd) }
        if created {
            // A new log's directory entry must survive power loss too.
            let slash = path.lastIndex(of: "/")
            try FileSystem.syncDirectory(slash.map { String(path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? ".")
        }
        var offset = 0
        while offset < line.count {
            let count = line.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw OTAError(.recordIo, "\(path): cannot append a record", cause: String(cString: strerror(errno)))
            }
            offset += count
        }
        guard fsync(fd) == 0 else { throw OTAError(.recordIo, "\(path): fsync failed", cause: String(cString: strerror(errno))) }
    }

    /// Reads every record back (for status, tests and export).
    public static func read(path: String) throws(OTAError) -> [InstallRecord] {
        guard FileSystem.exists(path) else { return [] }
        let bytes = try FileSystem.read(path, limit: 256 << 20)
        var records: [InstallRecord] = []
        for line in bytes.split(separator: 0x0A) where !line.isEmpty {
            records.append(try CanonicalJSON.decodeInput(InstallRecord.self, from: Array(line), as: .recordMalformed))
        }
        return records
    }
}
