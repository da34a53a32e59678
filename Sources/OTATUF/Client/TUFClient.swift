public import OTACore

/// The TUF client workflow (specification v1.0.34 §5.2–5.7): root chain, timestamp, snapshot,
/// targets and delegations, each checked for signatures, versions, expiry, lengths and hashes
/// before it is trusted and stored in the metadata directory.
///
/// ```swift
/// let client = try TUFClient(metadataDirectory: dir, metadataURL: url, fetcher: fetcher)
/// try client.refresh()
/// if let target = try client.target(named: "x1/ivi-2.4.0.ota") { ... }
/// ```
public final class TUFClient {
    public let store: TUFMetadataStore
    public let metadataURL: String
    public let fetcher: any TUFFetcher
    public let limits: TUFLimits
    /// Seconds since 1970; read at each expiry check.
    let now: @Sendable () -> Int64

    public private(set) var root: RootMetadata
    public private(set) var timestamp: TimestampMetadata?
    public private(set) var snapshot: SnapshotMetadata?
    /// Trusted targets roles by name (UTF-8 bytes).
    private var targetsRoles: [[UInt8]: TargetsMetadata] = [:]
    private var refreshed = false
    /// What happened, for the caller's record (`root 3->4`, `timestamp 17`, ...).
    public private(set) var events: [String] = []

    /// Loads the trusted root from `metadataDirectory/root.json` (it must be signed by its own
    /// threshold) and any other trusted metadata stored there.
    public init(
        metadataDirectory: String, metadataURL: String, fetcher: any TUFFetcher, limits: TUFLimits = .default,
        now: @escaping @Sendable () -> Int64 = wallClockSeconds
    ) throws(OTAError) {
        store = TUFMetadataStore(directory: metadataDirectory)
        self.metadataURL = metadataURL.hasSuffix("/") ? String(metadataURL.dropLast()) : metadataURL
        self.fetcher = fetcher
        self.limits = limits
        self.now = now
        guard let bytes = store.read(TUFRoleName.root, limit: limits.root) else {
            throw OTAError(
                .tufNotInitialized, "\(store.path(TUFRoleName.root)): no trusted root (run init with a root.json)")
        }
        let root = try RootMetadata(bytes: bytes, source: "trusted root.json", limit: limits.root)
        try root.verify(root.metadata, role: TUFRoleName.root)
        self.root = root
    }

    /// Writes the first trusted root into an empty metadata directory (`init ROOT`). The file is
    /// parsed (strictly) but its signatures are checked only when the client loads it.
    public static func initialize(metadataDirectory: String, trustedRoot bytes: [UInt8]) throws(OTAError) {
        _ = try RootMetadata(bytes: bytes, source: "initial root", limit: TUFLimits.default.root)
        try FileSystem.createDirectory(metadataDirectory)
        try TUFMetadataStore(directory: metadataDirectory).write(TUFRoleName.root, bytes)
    }

    // MARK: - §5.3 root

    /// Refreshes root, timestamp, snapshot and top-level targets, in that order.
    public func refresh() throws(OTAError) {
        try updateRoot()
        try updateTimestamp()
        try updateSnapshot()
        _ = try loadTargets(TUFRoleName.targets, delegator: nil)
        refreshed = true
    }

    func updateRoot() throws(OTAError) {
        let initial = root
        var rotations = 0
        while rotations < limits.maximumRootRotations, root.metadata.version < Int64.max {
            let next = root.metadata.version + 1
            let bytes: [UInt8]
            do throws(OTAError) {
                bytes = try fetcher.fetch("\(metadataURL)/\(next).root.json", maxLength: limits.root)
            } catch  where error.code == .transportNotFound {
                break
            }
            let candidate = try RootMetadata(bytes: bytes, source: "\(next).root.json", limit: limits.root)
            // Signed by a threshold of the trusted root's root keys and of its own.
            try root.verify(candidate.metadata, role: TUFRoleName.root)
            try candidate.verify(candidate.metadata, role: TUFRoleName.root)
            guard candidate.metadata.version == next else {
                throw OTAError(
                    .tufVersionMismatch,
                    "\(next).root.json holds version \(candidate.metadata.version), expected \(next)")
            }
            root = candidate
            try store.write(TUFRoleName.root, bytes)
            events.append("root \(next - 1)->\(next)")
            rotations += 1
        }
        try root.metadata.requireUnexpired("root", now: now())
        // §5.3.11 fast-forward recovery: new timestamp or snapshot keys void what the old keys signed.
        if root.metadata.version != initial.metadata.version,
            root.fingerprint(TUFRoleName.timestamp) != initial.fingerprint(TUFRoleName.timestamp)
                || root.fingerprint(TUFRoleName.snapshot) != initial.fingerprint(TUFRoleName.snapshot)
        {
            store.remove(TUFRoleName.timestamp)
            store.remove(TUFRoleName.snapshot)
            timestamp = nil
            snapshot = nil
            events.append("fast-forward recovery: timestamp and snapshot keys rotated, trusted copies removed")
        }
    }

    // MARK: - §5.4 timestamp

    func updateTimestamp() throws(OTAError) {
        if timestamp == nil, let bytes = store.read(TUFRoleName.timestamp, limit: limits.timestamp) {
            // The stored copy, when its signatures still verify, is the floor for rollback checks
            // even if it has expired.
            if let local = try? TimestampMetadata(
                bytes: bytes, source: "trusted timestamp.json", limit: limits.timestamp),
                (try? root.verify(local.metadata, role: TUFRoleName.timestamp)) != nil
            {
                timestamp = local
            }
        }
        let bytes = try fetcher.fetch("\(metadataURL)/timestamp.json", maxLength: limits.timestamp)
        let new = try TimestampMetadata(bytes: bytes, source: "timestamp.json", limit: limits.timestamp)
        try root.verify(new.metadata, role: TUFRoleName.timestamp)
        if let trusted = timestamp {
            guard new.metadata.version >= trusted.metadata.version else {
                throw OTAError(
                    .tufRollback,
                    "timestamp version \(new.metadata.version) is older than the trusted \(trusted.metadata.version)")
            }
            guard new.snapshot.version >= trusted.snapshot.version else {
                throw OTAError(
                    .tufRollback,
                    "timestamp lists snapshot version \(new.snapshot.version), older than the trusted \(trusted.snapshot.version)"
                )
            }
            if new.metadata.version == trusted.metadata.version {
                // The same version again: keep the trusted copy (a replay of it changes nothing).
                try trusted.metadata.requireUnexpired("timestamp", now: now())
                return
            }
        }
        try new.metadata.requireUnexpired("timestamp", now: now())
        timestamp = new
        try store.write(TUFRoleName.timestamp, bytes)
        events.append("timestamp \(new.metadata.version)")
    }

    // MARK: - §5.5 snapshot

    func updateSnapshot() throws(OTAError) {
        guard let timestamp else { throw OTAError(.tufNotInitialized, "no trusted timestamp") }
        let expected = timestamp.snapshot
        var trusted: SnapshotMetadata? = snapshot
        if trusted == nil, let bytes = store.read(TUFRoleName.snapshot, limit: limits.snapshot),
            let local = try? SnapshotMetadata(bytes: bytes, source: "trusted snapshot.json", limit: limits.snapshot),
            (try? root.verify(local.metadata, role: TUFRoleName.snapshot)) != nil
        {
            trusted = local
        }
        if let trusted, trusted.metadata.version == expected.version, trusted.metadata.expires > now() {
            snapshot = trusted
            return
        }
        let name = root.consistentSnapshot ? "\(expected.version).snapshot.json" : "snapshot.json"
        let limit = expected.length.map { Int(clamping: $0) } ?? limits.snapshot
        let bytes = try fetcher.fetch("\(metadataURL)/\(name)", maxLength: limit)
        try Self.checkLengthAndHashes(bytes, expected, what: name)
        let new = try SnapshotMetadata(bytes: bytes, source: name, limit: limit)
        try root.verify(new.metadata, role: TUFRoleName.snapshot)
        guard new.metadata.version == expected.version else {
            throw OTAError(
                .tufVersionMismatch,
                "\(name) holds version \(new.metadata.version); the timestamp lists \(expected.version)")
        }
        if let trusted {
            guard new.metadata.version >= trusted.metadata.version else {
                throw OTAError(
                    .tufRollback,
                    "snapshot version \(new.metadata.version) is older than the trusted \(trusted.metadata.version)")
            }
            for entry in trusted.meta.entries {
                guard let now = new.meta[entry.name] else {
                    throw OTAError(.tufRollback, "snapshot \(new.metadata.version) no longer lists \(entry.name)")
                }
                guard now.version >= entry.value.version else {
                    throw OTAError(
                        .tufRollback,
                        "snapshot \(new.metadata.version) lists \(entry.name) version \(now.version), older than the trusted \(entry.value.version)"
                    )
                }
            }
        }
        try new.metadata.requireUnexpired("snapshot", now: now())
        snapshot = new
        targetsRoles = [:]
        try store.write(TUFRoleName.snapshot, bytes)
        events.append("snapshot \(new.metadata.version)")
    }

    static func checkLengthAndHashes(_ bytes: [UInt8], _ meta: TUFMetaFile, what: String) throws(OTAError) {
        if let length = meta.length, Int64(bytes.count) != length {
            throw OTAError(.tufLengthMismatch, "\(what): \(bytes.count) bytes; \(length) signed")
        }
        if let hashes = meta.hashes { try TUFHashes.check(bytes, against: hashes, what: what) }
    }

    // MARK: - §5.6 targets

    /// Loads (from the store when current, else from the repository) and verifies a targets role.
    func loadTargets(_ role: String, delegator: (metadata: TargetsMetadata, role: TUFDelegatedRole)?) throws(OTAError)
        -> TargetsMetadata
    {
        if let cached = targetsRoles[Array(role.utf8)] { return cached }
        guard let snapshot else { throw OTAError(.tufNotInitialized, "no trusted snapshot") }
        guard let expected = snapshot.entry(role: role) else {
            throw OTAError(.tufRoleMissing, "snapshot \(snapshot.metadata.version) does not list \(role).json")
        }
        func verify(_ metadata: SignedMetadata) throws(OTAError) {
            if let delegator {
                try delegator.metadata.verify(metadata, delegated: delegator.role)
            } else {
                try root.verify(metadata, role: TUFRoleName.targets)
            }
        }
        let limit = expected.length.map { Int(clamping: $0) } ?? limits.targets
        if let bytes = store.read(role, limit: limit),
            let local = try? TargetsMetadata(bytes: bytes, source: "trusted \(role).json", limit: limit),
            local.metadata.version == expected.version, local.metadata.expires > now(),
            (try? verify(local.metadata)) != nil
        {
            targetsRoles[Array(role.utf8)] = local
            return local
        }
        let encoded = PercentEncoding.encode(role)
        let name = root.consistentSnapshot ? "\(expected.version).\(encoded).json" : "\(encoded).json"
        let bytes = try fetcher.fetch("\(metadataURL)/\(name)", maxLength: limit)
        try Self.checkLengthAndHashes(bytes, expected, what: name)
        let new = try TargetsMetadata(bytes: bytes, source: name, limit: limit)
        try verify(new.metadata)
        guard new.metadata.version == expected.version else {
            throw OTAError(
                .tufVersionMismatch,
                "\(name) holds version \(new.metadata.version); the snapshot lists \(expected.version)")
        }
        try new.metadata.requireUnexpired(role, now: now())
        try store.write(role, bytes)
        targetsRoles[Array(role.utf8)] = new
        events.append("\(role) \(new.metadata.version)")
        return new
    }

    /// The version of a trusted targets role, once loaded.
    public func trustedVersion(ofTargetsRole role: String) -> Int64? {
        targetsRoles[Array(role.utf8)]?.metadata.version
    }

    // MARK: - §5.7 target search

    /// The verified entry for `name`, searching delegations in pre-order (terminating roles stop
    /// the search, at most `maximumDelegations` roles visited); nil when no role lists it.
    public func target(named name: String) throws(OTAError) -> TUFTargetFile? {
        if !refreshed { try refresh() }
        var stack: [(role: String, delegator: (metadata: TargetsMetadata, role: TUFDelegatedRole)?)] = [
            (TUFRoleName.targets, nil)
        ]
        var visited = Set<[UInt8]>()
        while let (role, delegator) = stack.popLast() {
            guard visited.count < limits.maximumDelegations else {
                events.append("delegation search stopped after \(limits.maximumDelegations) roles")
                return nil
            }
            guard visited.insert(Array(role.utf8)).inserted else { continue }
            let metadata = try loadTargets(role, delegator: delegator)
            if let found = metadata.targets[name] { return found }
            var children: [(String, (TargetsMetadata, TUFDelegatedRole)?)] = []
            for child in metadata.delegations where child.covers(name) {
                children.append((child.name, (metadata, child)))
                if child.terminating {
                    stack.removeAll()
                    break
                }
            }
            stack.append(
                contentsOf: children.reversed().map {
                    (role: $0.0, delegator: $0.1.map { (metadata: $0.0, role: $0.1) })
                })
        }
        return nil
    }

    /// Every target the trusted roles list, with the delegations' path rules applied (a role's
    /// entry counts only for names its delegation covers); the first role in search order wins.
    public func allTargets() throws(OTAError) -> [(name: String, file: TUFTargetFile)] {
        if !refreshed { try refresh() }
        var result: [(name: String, file: TUFTargetFile)] = []
        var seen = Set<[UInt8]>()
        var visited = Set<[UInt8]>()
        // (role, its delegator, the chain of delegations leading to it)
        var stack:
            [(role: String, delegator: (metadata: TargetsMetadata, role: TUFDelegatedRole)?, chain: [TUFDelegatedRole])] =
                [(TUFRoleName.targets, nil, [])]
        while let (role, delegator, chain) = stack.popLast() {
            guard visited.count < limits.maximumDelegations else { break }
            guard visited.insert(Array(role.utf8)).inserted else { continue }
            let metadata = try loadTargets(role, delegator: delegator)
            for entry in metadata.targets.entries where chain.allSatisfy({ $0.covers(entry.name) }) {
                if seen.insert(Array(entry.name.utf8)).inserted { result.append((entry.name, entry.value)) }
            }
            stack.append(
                contentsOf: metadata.delegations.reversed().map {
                    (role: $0.name, delegator: (metadata: metadata, role: $0), chain: chain + [$0])
                })
        }
        return result
    }

    /// The URL of a target file (`HASH.NAME` in its directory with consistent snapshots).
    public func targetURL(_ name: String, _ file: TUFTargetFile, baseURL: String) -> String {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if root.consistentSnapshot, let hash = file.preferredHash, let last = parts.popLast() {
            parts.append("\(hash.hex).\(last)")
        }
        return base + "/" + parts.map { PercentEncoding.encode($0) }.joined(separator: "/")
    }

    /// Downloads a (small) target into memory and checks its length and hashes.
    public func fetchTarget(_ name: String, _ file: TUFTargetFile, baseURL: String) throws(OTAError) -> [UInt8] {
        guard file.length <= Int64(Int.max) else { throw OTAError(.tufTooLarge, "\(name): \(file.length) bytes") }
        let bytes = try fetcher.fetch(targetURL(name, file, baseURL: baseURL), maxLength: Int(file.length))
        try Self.checkTarget(bytes, file, name: name)
        return bytes
    }

    public static func checkTarget(_ bytes: [UInt8], _ file: TUFTargetFile, name: String) throws(OTAError) {
        guard Int64(bytes.count) == file.length else {
            throw OTAError(.tufLengthMismatch, "\(name): \(bytes.count) bytes; \(file.length) signed")
        }
        try TUFHashes.check(bytes, against: file.hashes, what: name)
    }
}
