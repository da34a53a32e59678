import Foundation
public import OTACore
public import OTARecorder

#if canImport(Glibc)
    import Glibc
#endif

/// Where the installer records every step: the vehicle's tamper-evident log
/// (`ChainedInstallRecorder`) on a vehicle; anything that keeps `UpgradeRecord`s durably.
public protocol InstallRecorder: AnyObject {
    /// Persists one record durably before returning; a failure stops the install (nothing
    /// proceeds unrecorded).
    func record(_ record: UpgradeRecord) throws(OTAError)
}

/// An opt-in debug sink: one record per line (the log's canonical JSON with the VIN added),
/// fsync'd, not hash-chained. Never the evidence and never the test oracle: the tamper-evident
/// log is. Turned on with the vehicle option `debugRecordLines`.
public final class JSONLinesRecorder: InstallRecorder {
    public let path: String

    public init(path: String) { self.path = path }

    public func record(_ record: UpgradeRecord) throws(OTAError) {
        var object = record.json.objectValue ?? [:]
        object["vin"] = .string(record.vin)
        var line = JSONValue.object(object).bytes
        line.append(0x0A)
        let created = !FileSystem.exists(path)
        let fd = try SystemCall.open(
            path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode: 0o640,
            what: "opening the debug record lines",
            code: .recordIo)
        defer { SystemCall.close(fd) }
        if created {
            let slash = path.lastIndex(of: "/")
            try FileSystem.syncDirectory(slash.map { String(path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? ".")
        }
        try SystemCall.writeAll(fd, line, path: path, code: .recordIo)
        try SystemCall.retrying("fsync", path: path, code: .recordIo) { fsync(fd) }
    }
}

/// Records to several recorders in order; each must succeed.
public final class RecorderChain: InstallRecorder {
    public let recorders: [any InstallRecorder]

    public init(_ recorders: [any InstallRecorder]) { self.recorders = recorders }

    public func record(_ record: UpgradeRecord) throws(OTAError) {
        for recorder in recorders { try recorder.record(record) }
    }
}
