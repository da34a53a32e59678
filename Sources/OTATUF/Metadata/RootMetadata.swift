public import OTACore

/// Root metadata: the keys and thresholds of the four top-level roles.
public struct RootMetadata: Sendable {
    public let metadata: SignedMetadata
    public let consistentSnapshot: Bool
    public let keys: NamedList<TUFKey>
    public let roles: NamedList<TUFRoleKeys>

    public init(bytes: [UInt8], source: String = "root", limit: Int = TUFLimits.default.root) throws(OTAError) {
        metadata = try SignedMetadata(bytes: bytes, expectedType: TUFRoleName.root, source: source, limit: limit)
        let signed = try TUFFields(.object(metadata.signed), path: "\(source).signed")
        consistentSnapshot = signed.has("consistent_snapshot") ? try signed.bool("consistent_snapshot") : false
        keys = try Self.readKeys(try signed.object("keys"))
        let roleFields = try signed.object("roles")
        var entries: [NamedList<TUFRoleKeys>.Entry] = []
        for name in TUFRoleName.topLevel {
            entries.append(.init(name: name, value: try TUFRoleKeys(try roleFields.object(name))))
        }
        guard roleFields.object.count == TUFRoleName.topLevel.count else {
            throw OTAError(.tufMetadata, "\(roleFields.path): exactly the roles root, timestamp, snapshot and targets")
        }
        roles = NamedList(entries)
    }

    static func readKeys(_ fields: TUFFields) throws(OTAError) -> NamedList<TUFKey> {
        var entries: [NamedList<TUFKey>.Entry] = []
        for member in fields.object.members {
            entries.append(
                .init(name: member.name, value: try TUFKey(member.value, path: "\(fields.path).\(member.name)")))
        }
        return NamedList(entries)
    }

    public func role(_ name: String) -> TUFRoleKeys { roles[name]! }

    /// Verifies `other` as signed by the threshold of `role` in this root.
    public func verify(_ other: SignedMetadata, role: String) throws(OTAError) {
        try other.verify(role: role, keys: self.role(role), keyTable: keys)
    }

    /// The set of key ids (sorted) and threshold of a role, to see whether it was rotated.
    func fingerprint(_ name: String) -> String {
        let role = self.role(name)
        let ids = role.keyIDs.compactMap { keys[$0]?.identity }.sorted()
        return "\(role.threshold)\u{0}" + ids.joined(separator: "\u{1}")
    }
}

/// Timestamp metadata: the current snapshot version (and optionally its length and hashes).
public struct TimestampMetadata: Sendable {
    public let metadata: SignedMetadata
    public let snapshot: TUFMetaFile

    public init(bytes: [UInt8], source: String = "timestamp", limit: Int = TUFLimits.default.timestamp) throws(OTAError)
    {
        metadata = try SignedMetadata(bytes: bytes, expectedType: TUFRoleName.timestamp, source: source, limit: limit)
        let meta = try TUFFields(.object(metadata.signed), path: "\(source).signed").object("meta")
        guard meta.object.count == 1, let entry = meta.object["snapshot.json"] else {
            throw OTAError(.tufMetadata, "\(meta.path): exactly one entry, snapshot.json")
        }
        snapshot = try TUFMetaFile(entry, path: "\(meta.path).snapshot.json")
    }
}

/// Snapshot metadata: the version of every targets role.
public struct SnapshotMetadata: Sendable {
    public let metadata: SignedMetadata
    public let meta: NamedList<TUFMetaFile>

    public init(bytes: [UInt8], source: String = "snapshot", limit: Int) throws(OTAError) {
        metadata = try SignedMetadata(bytes: bytes, expectedType: TUFRoleName.snapshot, source: source, limit: limit)
        let fields = try TUFFields(.object(metadata.signed), path: "\(source).signed").object("meta")
        var entries: [NamedList<TUFMetaFile>.Entry] = []
        for member in fields.object.members {
            entries.append(
                .init(name: member.name, value: try TUFMetaFile(member.value, path: "\(fields.path).\(member.name)")))
        }
        meta = NamedList(entries)
    }

    /// The entry for a targets role (`targets.json`, `ROLE.json`).
    public func entry(role: String) -> TUFMetaFile? { meta["\(role).json"] }
}
