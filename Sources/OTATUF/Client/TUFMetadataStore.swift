public import OTACore

/// The client's trusted metadata on disk: one unversioned file per role (`root.json`,
/// `timestamp.json`, `snapshot.json`, `targets.json`, `<percent-encoded role>.json`), each the
/// exact bytes that were verified, replaced atomically. Nothing else is written there.
public struct TUFMetadataStore: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func path(_ role: String) -> String { "\(directory)/\(PercentEncoding.encode(role)).json" }

    public func read(_ role: String, limit: Int) -> [UInt8]? {
        guard FileSystem.exists(path(role)) else { return nil }
        return try? FileSystem.read(path(role), limit: limit)
    }

    public func write(_ role: String, _ bytes: [UInt8]) throws(OTAError) {
        try AtomicFileWriter.write(bytes, to: path(role), mode: 0o644)
    }

    public func remove(_ role: String) {
        _ = try? FileSystem.remove(path(role))
    }
}

extension FileSystem {
    /// Removes a file; false when it did not exist.
    @discardableResult
    static func remove(_ path: String) throws(OTAError) -> Bool {
        guard FileSystem.exists(path) else { return false }
        guard unlinkFile(path) else { throw OTAError(.ioUnlink, "\(path): cannot remove") }
        return true
    }
}
