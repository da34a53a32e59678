internal import Foundation
public import OTACore
public import OTATUF

#if canImport(Glibc)
    import Glibc
#endif

/// A TUF repository on disk (cloud side: this module signs and is never linked by the vehicle).
///
/// ```
/// DIR/repository.json        settings and published versions (not served)
/// DIR/keys/<keyid>.key       role keys, 0600 in a 0700 folder (not served)
/// DIR/staged/<role>.json     the next targets metadata of each targets role (not served)
/// DIR/metadata/              served: N.root.json, root.json, timestamp.json, N.snapshot.json,
///                            N.targets.json, N.<role>.json (and unversioned copies)
/// DIR/targets/               served: HASH.NAME per listed hash (sha256; gm also sm3)
/// ```
public struct Repository {
    public let directory: String
    public let now: @Sendable () -> Int64

    public init(directory: String, now: @escaping @Sendable () -> Int64 = wallClockSeconds) {
        self.directory = directory
        self.now = now
    }

    var configPath: String { "\(directory)/repository.json" }
    public var metadataDirectory: String { "\(directory)/metadata" }
    public var targetsDirectory: String { "\(directory)/targets" }
    var keysDirectory: String { "\(directory)/keys" }
    var stagedDirectory: String { "\(directory)/staged" }
    func stagedPath(_ role: String) -> String { "\(stagedDirectory)/\(PercentEncoding.encode(role)).json" }
    func published(_ role: String) -> String { "\(metadataDirectory)/\(PercentEncoding.encode(role)).json" }

    public static let defaultLifetimes: [String: Int64] = [
        TUFRoleName.root: 365 * 86_400, TUFRoleName.targets: 90 * 86_400, TUFRoleName.snapshot: 7 * 86_400,
        TUFRoleName.timestamp: 86_400,
    ]

    // MARK: - init

    /// Creates the repository: keys for each role (as many as its threshold), root version 1,
    /// and an empty first targets, snapshot and timestamp.
    public func initialize(
        suite: Suite, keyType: KeyType? = nil, thresholds: [String: Int] = [:], lifetimes: [String: Int64] = [:],
        consistentSnapshot: Bool = true
    ) throws(OTAError) {
        guard !FileSystem.exists(configPath) else { throw OTAError(.ioExists, "\(directory): already a repository") }
        let type = keyType ?? (suite == .gm ? .sm2 : .p256)
        guard type.canSign, suite.signatureAlgorithms.contains(try SignatureAlgorithm.forKey(type)) else {
            throw OTAError(.keySuiteMismatch, "a \(type.rawValue) key does not sign in the \(suite.rawValue) suite")
        }
        for name in thresholds.keys where !TUFRoleName.topLevel.contains(name) {
            throw OTAError(.repoRole, "no top-level role '\(name)'")
        }
        for directory in [directory, metadataDirectory, targetsDirectory, stagedDirectory] {
            try FileSystem.createDirectory(directory)
        }
        try FileSystem.createDirectory(keysDirectory, mode: 0o700)
        var roles: [String: RepositoryConfig.Role] = [:]
        for name in TUFRoleName.topLevel {
            let threshold = thresholds[name] ?? 1
            guard (1...16).contains(threshold) else { throw OTAError(.usageInvalid, "threshold for \(name): 1...16") }
            let lifetime = lifetimes[name] ?? Self.defaultLifetimes[name]!
            guard lifetime > 0 else { throw OTAError(.usageInvalid, "lifetime for \(name) must be positive") }
            roles[name] = .init(
                keyIDs: try (0..<threshold).map { _ throws(OTAError) in try newKey(type) }, threshold: threshold,
                lifetime: lifetime, version: 0)
        }
        var config = RepositoryConfig(
            suite: suite, keyType: type, consistentSnapshot: consistentSnapshot, roles: roles, delegated: [:])
        try writeRoot(&config, signers: [])
        try AtomicFileWriter.write(
            OLPCCanonicalJSON.encodeFile(.object(try emptyTargets())), to: stagedPath(TUFRoleName.targets))
        try config.save(configPath)
        _ = try publish()
    }

    func emptyTargets() throws(OTAError) -> JSONObject { try JSONObject([("targets", .object(JSONObject()))]) }

    /// Generates and stores a key; returns its key id.
    func newKey(_ type: KeyType) throws(OTAError) -> String {
        let key = try RepositoryKey(try PrivateKey.generate(type))
        try AtomicFileWriter.write(
            Array(try key.privateKey.pem().utf8), to: "\(keysDirectory)/\(key.keyID).key", mode: 0o600)
        return key.keyID
    }

    /// Loads role keys: `keys/<keyid>.key` (a key file) or `keys/<keyid>.pkcs11` (a PKCS#11 URI,
    /// its PIN by `pin-source`: the key stays in the token).
    func loadKeys(_ ids: [String]) throws(OTAError) -> [RepositoryKey] {
        var keys: [RepositoryKey] = []
        for id in ids {
            let tokenReference = "\(keysDirectory)/\(id).pkcs11"
            let path = FileSystem.exists(tokenReference) ? tokenReference : "\(keysDirectory)/\(id).key"
            let privateKey: PrivateKey
            if path == tokenReference {
                let uri = String(decoding: try FileSystem.read(tokenReference, limit: 8192), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                privateKey = try PrivateKey(token: try PKCS11URI(uri))
            } else {
                privateKey = try PrivateKey(contentsOf: path)
            }
            let key = try RepositoryKey(privateKey)
            guard key.keyID == id else { throw OTAError(.repoKey, "\(path) holds key \(key.keyID)") }
            keys.append(key)
        }
        return keys
    }

    /// Records a key that stays in a PKCS#11 token as `keys/<keyid>.pkcs11`; returns its key id.
    func tokenKey(_ reference: String) throws(OTAError) -> String {
        let uri = try PKCS11URI(reference)
        guard uri.pinValue != nil || uri.pinSource != nil else {
            throw OTAError(
                .keyPKCS11Pin,
                "\(uri.description): a repository key's URI must carry its PIN source (pin-source=FILE), as the repository signs unattended"
            )
        }
        let key = try RepositoryKey(try PrivateKey(token: uri))
        try AtomicFileWriter.write(
            Array((reference + "\n").utf8), to: "\(keysDirectory)/\(key.keyID).pkcs11", mode: 0o600)
        return key.keyID
    }

    /// Signs and writes the next root version; `signers` are extra (old root) key ids.
    func writeRoot(_ config: inout RepositoryConfig, signers: [String]) throws(OTAError) {
        var role = config.roles[TUFRoleName.root]!
        role.version += 1
        config.roles[TUFRoleName.root] = role
        var signed = try MetadataSigner.head(
            type: TUFRoleName.root, version: role.version, expires: now() + role.lifetime)
        signed.set("consistent_snapshot", .bool(config.consistentSnapshot))
        var keys = JSONObject()
        var roles = JSONObject()
        for name in TUFRoleName.topLevel {
            let entry = config.roles[name]!
            for id in entry.keyIDs { keys.set(id, try loadKeys([id])[0].object) }
            roles.set(
                name,
                .object(
                    try JSONObject([
                        ("keyids", .array(entry.keyIDs.map { .string($0) })),
                        ("threshold", .integer(Int64(entry.threshold))),
                    ])))
        }
        signed.set("keys", .object(keys))
        signed.set("roles", .object(roles))
        var ids = role.keyIDs
        for id in signers where !ids.contains(id) { ids.append(id) }
        let bytes = try MetadataSigner.sign(signed, keys: try loadKeys(ids))
        try AtomicFileWriter.write(bytes, to: "\(metadataDirectory)/\(role.version).root.json")
        try AtomicFileWriter.write(bytes, to: published(TUFRoleName.root))
    }

    // MARK: - targets

    /// What `add` did for one bundle.
    public struct Added: Codable, Sendable {
        public let name: String
        public let length: Int64
        public let hashes: [String: String]
        public let bundleId: String
        public let manifestDigest: String
    }

    /// Adds bundles as targets of `role`: each must verify against the release trust store
    /// (signatures, chains, threshold, every payload chunk); its file is stored under each hash.
    public func add(
        bundles: [String], trust: String, releaseThreshold: Int = 1, role: String = TUFRoleName.targets,
        names: [String]? = nil
    ) throws(OTAError) -> [Added] {
        let config = try RepositoryConfig.load(configPath)
        _ = try config.role(role)
        guard role != TUFRoleName.root, role != TUFRoleName.snapshot, role != TUFRoleName.timestamp else {
            throw OTAError(.repoRole, "targets can only be added to targets roles")
        }
        var staged = try loadStaged(role)
        var targets = staged["targets"]?.object ?? JSONObject()
        var added: [Added] = []
        for (index, path) in bundles.enumerated() {
            let name = names?[index] ?? String(path.split(separator: "/").last ?? Substring(path))
            try Self.checkTargetName(name)
            let store = try TrustStore(directory: trust)
            let report: BundleVerification.Report
            do throws(OTAError) {
                report = try BundleVerification.verify(
                    path: path, policy: BundleTrustPolicy(trust: store, time: SystemTime(), threshold: releaseThreshold)
                )
            } catch {
                throw OTAError(
                    .repoBundle,
                    "\(path): refused, it does not verify against the release trust store: \(error.message)",
                    cause: error.code.rawValue)
            }
            let head = try BundleReader(path: path).verifyHead(
                policy: BundleTrustPolicy(trust: store, time: SystemTime(), threshold: releaseThreshold))
            guard head.digest.hex == report.manifestDigest else {
                throw OTAError(.repoBundle, "\(path): changed while it was being added")
            }
            let (length, stored) = try storeTargetFile(
                path, name: name, custom: try BundleTargetFields.custom(for: head, file: path), config: config,
                into: &targets)
            added.append(
                Added(
                    name: name, length: Int64(length), hashes: stored, bundleId: head.manifest.bundle.id,
                    manifestDigest: head.digest.description))
        }
        staged.set("targets", .object(targets))
        try saveStaged(role, staged)
        return added
    }

    /// Adds any file as a target of `role` (no bundle check: for tests and for files that are
    /// not bundles, such as trust-store updates signed by other means).
    package func addFile(_ path: String, name: String, role: String = TUFRoleName.targets, custom: JSONObject? = nil)
        throws(OTAError)
    {
        let config = try RepositoryConfig.load(configPath)
        _ = try config.role(role)
        try Self.checkTargetName(name)
        var staged = try loadStaged(role)
        var targets = staged["targets"]?.object ?? JSONObject()
        _ = try storeTargetFile(path, name: name, custom: custom, config: config, into: &targets)
        staged.set("targets", .object(targets))
        try saveStaged(role, staged)
    }

    /// Trust material as targets (under `trust/`) that the agent fetches and hands to the
    /// vehicle: a signed trust update as `trust/update-<version>.json`, a CA's CRL as
    /// `trust/crls/<issuer id>.crl` (the CA's next CRL replaces the entry). The repository only
    /// checks that each file is what it claims to be; each vehicle checks the signatures against
    /// its own trust store (`Vehicle.applyTrust`), so the repository cannot change a vehicle's trust.
    ///
    /// A CRL file may carry the issuing CA's certificate (PEM `CERTIFICATE` blocks after the
    /// CRL), which a vehicle needs when the CA is an intermediate; `issuers` adds such
    /// certificates (those whose subject is the CRL's issuer) to the stored file.
    public func addTrust(_ paths: [String], issuers: [Certificate] = [], role: String = TUFRoleName.targets)
        throws(OTAError) -> [AddedTrust]
    {
        var added: [AddedTrust] = []
        for path in paths {
            var bytes = try FileSystem.read(path, limit: TrustUpdate.maximumSize)
            let name: String
            var fields: [(String, TUFJSON)]
            if SignedTrustUpdate.looksLikeOne(bytes) {
                let update = try SignedTrustUpdate.decode(bytes).contents().update
                name = "trust/update-\(update.version).json"
                fields = [
                    ("kind", .string("update")), ("version", .integer(Int64(clamping: update.version))),
                    ("expires", .string(Timestamp.format(update.expires))),
                ]
            } else {
                let text = String(decoding: bytes, as: UTF8.self)
                let crl: CertificateRevocationList
                var certificates: [Certificate] = []
                if text.contains("-----BEGIN") {
                    var lists: [CertificateRevocationList] = []
                    for block in PEMBlock.split(text) {
                        switch block.label {
                        case "X509 CRL": lists.append(try CertificateRevocationList(der: block.der, source: path))
                        case "CERTIFICATE": certificates.append(try Certificate(der: block.der, source: path))
                        default:
                            throw OTAError(
                                .crlMalformed,
                                "\(path): unexpected PEM block '\(block.label)' (a CRL and its issuing CA certificates)"
                            )
                        }
                    }
                    guard lists.count == 1 else {
                        throw OTAError(.crlMalformed, "\(path): one CRL per file (found \(lists.count))")
                    }
                    crl = lists[0]
                } else {
                    crl = try CertificateRevocationList(der: bytes, source: path)
                }
                let extra = issuers.filter { $0.subject == crl.issuer && !certificates.contains($0) }
                if !extra.isEmpty || text.contains("-----BEGIN") {
                    bytes = Array((crl.pem + (certificates + extra).map(\.pem).joined()).utf8)
                }
                let issuerID = try Hasher.hash(.sha256, Array(crl.issuer.utf8)).hex.prefix(24)
                name = "trust/crls/\(issuerID).crl"
                fields = [
                    ("kind", .string("crl")), ("issuer", .string(crl.issuer)),
                    ("thisUpdate", .string(Timestamp.format(crl.thisUpdate))),
                ]
                if let next = crl.nextUpdate { fields.append(("nextUpdate", .string(Timestamp.format(next)))) }
            }
            let staged = "\(stagedDirectory)/trust-\(Hex.encode(try SecureRandom.bytes(6))).tmp"
            try AtomicFileWriter.write(bytes, to: staged, mode: 0o644)
            defer { unlink(staged) }
            try addFile(
                staged, name: name, role: role, custom: try JSONObject([("otaTrust", .object(try JSONObject(fields)))]))
            added.append(AddedTrust(name: name, kind: fields[0].1.string ?? ""))
        }
        return added
    }

    /// A trust target added by `addTrust`.
    public struct AddedTrust: Codable, Sendable {
        public var name: String
        public var kind: String
    }

    /// Hashes a file, stores it under each hash name, and sets its entry in `targets`.
    func storeTargetFile(
        _ path: String, name: String, custom: JSONObject?, config: RepositoryConfig, into targets: inout JSONObject
    ) throws(OTAError) -> (UInt64, [String: String]) {
        let length = try InputFile(path: path).size()
        var algorithms: [HashAlgorithm] = [.sha256]
        if config.suite == .gm { algorithms.append(.sm3) }
        var hashes: [(String, TUFJSON)] = []
        var stored: [String: String] = [:]
        for algorithm in algorithms {
            let digest = try Hasher.hash(algorithm, fileAt: path)
            hashes.append((algorithm.rawValue, .string(digest.hex)))
            stored[algorithm.rawValue] = digest.hex
            if config.consistentSnapshot { try storeTarget(from: path, as: consistentName(name, hash: digest.hex)) }
        }
        // A plain name may hold an earlier file of the name: replaced (hash names never differ).
        if !config.consistentSnapshot { try storeTarget(from: path, as: name, replacing: true) }
        var entry = try JSONObject([("length", .integer(Int64(length))), ("hashes", .object(try JSONObject(hashes)))])
        if let custom { entry.set("custom", .object(custom)) }
        targets.set(name, .object(entry))
        return (UInt64(length), stored)
    }

    /// Removes targets from `role` (their files stay, for clients still on older snapshots).
    public func remove(names: [String], role: String = TUFRoleName.targets) throws(OTAError) {
        var staged = try loadStaged(role)
        var targets = staged["targets"]?.object ?? JSONObject()
        for name in names {
            guard targets[name] != nil else {
                throw OTAError(.repoTargetUnknown, "role \(role) has no target '\(name)'")
            }
            targets.remove(name)
        }
        staged.set("targets", .object(targets))
        try saveStaged(role, staged)
    }

    /// Target names are relative paths of plain parts: no empty, `.` or `..` part, no leading
    /// `/`, no control characters.
    static func checkTargetName(_ name: String) throws(OTAError) {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw OTAError(.repoTargetName, "'\(name)': a target name is a relative path of plain parts")
        }
    }

    func consistentName(_ name: String, hash: String) -> String {
        var parts = name.split(separator: "/").map(String.init)
        let last = parts.removeLast()
        return (parts + ["\(hash).\(last)"]).joined(separator: "/")
    }

    /// Stores a target file: a hard link where possible, else a copy (atomic either way). A file
    /// already there stays unless `replacing`.
    func storeTarget(from source: String, as name: String, replacing: Bool = false) throws(OTAError) {
        let destination = "\(targetsDirectory)/\(name)"
        let parent = destination.split(separator: "/").dropLast().joined(separator: "/")
        try FileSystem.createDirectory((destination.hasPrefix("/") ? "/" : "") + parent)
        if FileSystem.exists(destination) && !replacing { return }
        if !replacing, link(source, destination) == 0 { return }
        let writer = try AtomicFileWriter(path: destination)
        let input = try InputFile(path: source)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try input.read(into: &buffer)
            if count == 0 { break }
            try writer.write(buffer[0..<count])
        }
        try writer.commit()
    }

    func loadStaged(_ role: String) throws(OTAError) -> JSONObject {
        let bytes = try FileSystem.read(stagedPath(role), limit: 64 << 20)
        guard let object = try TUFJSONParser.parse(bytes, source: stagedPath(role), limit: 64 << 20).object else {
            throw OTAError(.repoConfig, "\(stagedPath(role)): not an object")
        }
        return object
    }

    func saveStaged(_ role: String, _ object: JSONObject) throws(OTAError) {
        try AtomicFileWriter.write(OLPCCanonicalJSON.encodeFile(.object(object)), to: stagedPath(role))
    }

    // MARK: - delegations

    /// Delegates `paths` (glob patterns) or hash prefixes from `parent` to a new role with its
    /// own keys; `terminating` stops the client's search there.
    public func delegate(
        role name: String, from parent: String = TUFRoleName.targets, paths: [String]? = nil,
        pathHashPrefixes: [String]? = nil, terminating: Bool = false,
        threshold: Int = 1, lifetime: Int64 = 90 * 86_400
    ) throws(OTAError) {
        var config = try RepositoryConfig.load(configPath)
        let plain = name.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2d
                || $0 == 0x5f || $0 == 0x2e
        }
        guard plain, !name.hasPrefix("."), !TUFRoleName.isTopLevel(name), config.delegated[name] == nil, !name.isEmpty
        else {
            throw OTAError(
                .repoRole,
                "'\(name)' cannot be a new delegated role (a new name of A-Z a-z 0-9 . _ -, not starting with '.')")
        }
        guard (paths == nil) != (pathHashPrefixes == nil) else {
            throw OTAError(.usageInvalid, "give paths or hash prefixes, not both")
        }
        _ = try config.role(parent)
        let ids = try (0..<max(1, threshold)).map { _ throws(OTAError) in try newKey(config.keyType) }
        config.delegated[name] = .init(keyIDs: ids, threshold: threshold, lifetime: lifetime, version: 0)
        var staged = try loadStaged(parent)
        let empty = try JSONObject([("keys", .object(JSONObject())), ("roles", .array([]))])
        var delegations = staged["delegations"]?.object ?? empty
        var keys = delegations["keys"]?.object ?? JSONObject()
        for key in try loadKeys(ids) { keys.set(key.keyID, key.object) }
        var entry: [(String, TUFJSON)] = [
            ("name", .string(name)), ("keyids", .array(ids.map { .string($0) })),
            ("threshold", .integer(Int64(threshold))), ("terminating", .bool(terminating)),
        ]
        if let paths { entry.append(("paths", .array(paths.map { .string($0) }))) }
        if let pathHashPrefixes { entry.append(("path_hash_prefixes", .array(pathHashPrefixes.map { .string($0) }))) }
        delegations.set("keys", .object(keys))
        delegations.set("roles", .array((delegations["roles"]?.array ?? []) + [.object(try JSONObject(entry))]))
        staged.set("delegations", .object(delegations))
        try saveStaged(parent, staged)
        try saveStaged(name, try emptyTargets())
        try config.save(configPath)
    }

    // MARK: - publish, timestamp

    /// What a publish or timestamp wrote.
    public struct Published: Codable, Sendable {
        public var targets: [String: Int64] = [:]
        public var snapshot: Int64?
        public var timestamp: Int64
    }

    /// Signs a new version of every targets role whose staged content changed (or all, with
    /// `force`), then a new snapshot and timestamp.
    @discardableResult
    public func publish(force: Bool = false) throws(OTAError) -> Published {
        var config = try RepositoryConfig.load(configPath)
        var result = Published(timestamp: 0)
        let roleNames = [TUFRoleName.targets] + config.delegated.keys.sorted()
        for name in roleNames {
            var role = try config.role(name)
            let staged = try loadStaged(name)
            if !force, role.version > 0, let current = try? currentSigned(name), Self.sameContent(current, staged) {
                continue
            }
            role.version += 1
            var signed = staged
            for member in try MetadataSigner.head(
                type: TUFRoleName.targets, version: role.version, expires: now() + role.lifetime
            ).members {
                signed.set(member.name, member.value)
            }
            let bytes = try MetadataSigner.sign(signed, keys: try loadKeys(role.keyIDs))
            if config.consistentSnapshot {
                try AtomicFileWriter.write(
                    bytes, to: "\(metadataDirectory)/\(role.version).\(PercentEncoding.encode(name)).json")
            }
            try AtomicFileWriter.write(bytes, to: published(name))
            if config.roles[name] != nil { config.roles[name] = role } else { config.delegated[name] = role }
            result.targets[name] = role.version
        }
        if !result.targets.isEmpty || force || config.roles[TUFRoleName.snapshot]!.version == 0 {
            var snapshot = config.roles[TUFRoleName.snapshot]!
            snapshot.version += 1
            var signed = try MetadataSigner.head(
                type: TUFRoleName.snapshot, version: snapshot.version, expires: now() + snapshot.lifetime)
            var meta = JSONObject()
            for name in roleNames {
                let bytes = try FileSystem.read(published(name), limit: 64 << 20)
                meta.set(
                    "\(name).json",
                    try Self.metaEntry(version: try config.role(name).version, bytes: bytes, suite: config.suite))
            }
            signed.set("meta", .object(meta))
            let bytes = try MetadataSigner.sign(signed, keys: try loadKeys(snapshot.keyIDs))
            if config.consistentSnapshot {
                try AtomicFileWriter.write(bytes, to: "\(metadataDirectory)/\(snapshot.version).snapshot.json")
            }
            try AtomicFileWriter.write(bytes, to: published(TUFRoleName.snapshot))
            config.roles[TUFRoleName.snapshot] = snapshot
            result.snapshot = snapshot.version
        }
        result.timestamp = try signTimestamp(&config)
        try config.save(configPath)
        return result
    }

    /// Re-signs the timestamp only (the job run every few hours so vehicles see fresh time).
    @discardableResult
    public func timestamp() throws(OTAError) -> Published {
        var config = try RepositoryConfig.load(configPath)
        let version = try signTimestamp(&config)
        try config.save(configPath)
        return Published(timestamp: version)
    }

    func signTimestamp(_ config: inout RepositoryConfig) throws(OTAError) -> Int64 {
        var timestamp = config.roles[TUFRoleName.timestamp]!
        timestamp.version += 1
        var signed = try MetadataSigner.head(
            type: TUFRoleName.timestamp, version: timestamp.version, expires: now() + timestamp.lifetime)
        // Our extension (an unknown field to other clients, kept under the signature): when the
        // timestamp was signed, so vehicles can move their clock floor by verified repository time.
        signed.set("x-ota-signed-at", .string(TUFTime.format(now())))
        let snapshotBytes = try FileSystem.read(published(TUFRoleName.snapshot), limit: 64 << 20)
        let entry = try Self.metaEntry(
            version: config.roles[TUFRoleName.snapshot]!.version, bytes: snapshotBytes, suite: config.suite)
        signed.set("meta", .object(try JSONObject([("snapshot.json", entry)])))
        try AtomicFileWriter.write(
            try MetadataSigner.sign(signed, keys: try loadKeys(timestamp.keyIDs)), to: published(TUFRoleName.timestamp))
        config.roles[TUFRoleName.timestamp] = timestamp
        return timestamp.version
    }

    static func metaEntry(version: Int64, bytes: [UInt8], suite: Suite) throws(OTAError) -> TUFJSON {
        var hashes: [(String, TUFJSON)] = [("sha256", .string(try Hasher.hash(.sha256, bytes).hex))]
        if suite == .gm { hashes.append(("sm3", .string(try Hasher.hash(.sm3, bytes).hex))) }
        return .object(
            try JSONObject([
                ("version", .integer(version)), ("length", .integer(Int64(bytes.count))),
                ("hashes", .object(try JSONObject(hashes))),
            ]))
    }

    func currentSigned(_ role: String) throws(OTAError) -> JSONObject {
        let bytes = try FileSystem.read(published(role), limit: 64 << 20)
        guard let signed = try TUFJSONParser.parse(bytes).object?["signed"]?.object else {
            throw OTAError(.repoConfig, "\(published(role)): no signed object")
        }
        return signed
    }

    /// Equal apart from the fields publish sets.
    static func sameContent(_ a: JSONObject, _ b: JSONObject) -> Bool {
        var x = a, y = b
        for name in ["_type", "spec_version", "version", "expires"] {
            x.remove(name)
            y.remove(name)
        }
        return x == y
    }

    // MARK: - rotate

    /// Replaces the keys of `role` (top-level) with new ones; the new root version is signed by
    /// the old root keys and the new ones, so clients can walk the chain. A rotated timestamp,
    /// snapshot or targets role is re-signed at once with its new keys.
    /// Replaces a top-level role's keys: new key files, or the PKCS#11 keys `tokenKeys` names
    /// (as many as the role's threshold, of the repository's key type).
    public func rotate(role name: String, tokenKeys: [String] = []) throws(OTAError) {
        var config = try RepositoryConfig.load(configPath)
        guard var role = config.roles[name] else {
            throw OTAError(.repoRole, "only top-level roles rotate here; '\(name)' is not one")
        }
        let oldRootKeys = config.roles[TUFRoleName.root]!.keyIDs
        let retired = role.keyIDs
        if tokenKeys.isEmpty {
            role.keyIDs = try (0..<role.threshold).map { _ throws(OTAError) in try newKey(config.keyType) }
        } else {
            guard tokenKeys.count >= role.threshold else {
                throw OTAError(.usageInvalid, "\(name) needs \(role.threshold) key(s); \(tokenKeys.count) --key given")
            }
            role.keyIDs = try tokenKeys.map { reference throws(OTAError) in try tokenKey(reference) }
            for id in role.keyIDs {
                let type = try loadKeys([id])[0].privateKey.type
                guard type == config.keyType else {
                    throw OTAError(
                        .repoKey,
                        "token key \(id) is \(type.rawValue); this repository signs with \(config.keyType.rawValue)")
                }
            }
            guard Set(role.keyIDs).count == role.keyIDs.count else {
                throw OTAError(.repoKey, "the same token key was given twice for \(name)")
            }
        }
        config.roles[name] = role
        try writeRoot(&config, signers: oldRootKeys)
        try FileSystem.createDirectory("\(keysDirectory)/retired", mode: 0o700)
        for id in retired where !role.keyIDs.contains(id) {
            for suffix in ["key", "pkcs11"] {
                _ = rename("\(keysDirectory)/\(id).\(suffix)", "\(keysDirectory)/retired/\(id).\(suffix)")
            }
        }
        try config.save(configPath)
        switch name {
        case TUFRoleName.targets: try publish(force: true)
        case TUFRoleName.snapshot: try publish(force: true)
        case TUFRoleName.timestamp: try timestamp()
        default: break
        }
    }

    // MARK: - verify

    /// What `verify` found.
    public struct Verification: Codable, Sendable {
        public var rootVersion: Int64
        public var timestampVersion: Int64
        public var snapshotVersion: Int64
        public var targets: Int
        public var bytes: Int64
    }

    /// Reads the repository as a vehicle would, from `1.root.json` through every root version,
    /// timestamp, snapshot, targets and delegations, then checks every target file's length
    /// and hashes.
    public func verify() throws(OTAError) -> Verification {
        let scratch = NSTemporaryDirectory() + "ota-repo-verify-\(Hex.encode(try SecureRandom.bytes(6)))"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let first = "\(metadataDirectory)/1.root.json"
        let rootBytes =
            FileSystem.exists(first)
            ? try FileSystem.read(first, limit: TUFLimits.default.root)
            : try FileSystem.read(published(TUFRoleName.root), limit: TUFLimits.default.root)
        try TUFClient.initialize(metadataDirectory: scratch, trustedRoot: rootBytes)
        let client = try TUFClient(
            metadataDirectory: scratch, metadataURL: "file://" + metadataDirectory, fetcher: FileFetcher(), now: now)
        try client.refresh()
        var count = 0
        var bytes: Int64 = 0
        for (name, file) in try client.allTargets() {
            let url = client.targetURL(name, file, baseURL: targetsDirectory)
            let path = PercentEncoding.decode(url) ?? url
            guard FileSystem.exists(path) else {
                throw OTAError(.repoTargetMissing, "target \(name): \(path) is missing")
            }
            let length = Int64(try InputFile(path: path).size())
            guard length == file.length else {
                throw OTAError(.tufLengthMismatch, "target \(name): \(length) bytes; \(file.length) signed")
            }
            for entry in file.hashes.entries {
                guard let algorithm = HashAlgorithm(rawValue: entry.name) else { continue }
                guard try Hasher.hash(algorithm, fileAt: path).hex == entry.value.lowercased() else {
                    throw OTAError(.tufHashMismatch, "target \(name): \(entry.name) does not match")
                }
            }
            count += 1
            bytes += length
        }
        return Verification(
            rootVersion: client.root.metadata.version, timestampVersion: client.timestamp?.metadata.version ?? 0,
            snapshotVersion: client.snapshot?.metadata.version ?? 0, targets: count, bytes: bytes)
    }
}
