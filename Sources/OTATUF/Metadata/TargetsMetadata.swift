public import OTACore

/// A target file: its length, hashes and any custom fields.
public struct TUFTargetFile: Sendable {
    public let length: Int64
    public let hashes: NamedList<String>
    /// The `custom` object, if any (for ota bundles: see docs/FORMAT.md).
    public let custom: JSONObject?
    public let json: JSONObject

    public init(_ value: TUFJSON, path: String) throws(OTAError) {
        let fields = try TUFFields(value, path: path)
        length = try fields.integer("length", in: 0...Int64.max)
        hashes = try TUFHashes.read(fields.object("hashes"))
        if fields.has("custom") {
            guard let custom = try fields.value("custom").object else {
                throw OTAError(.tufMetadata, "\(path).custom: expected an object")
            }
            self.custom = custom
        } else {
            custom = nil
        }
        json = fields.object
    }

    /// The hash used in a consistent-snapshot file name (`HASH.NAME`): sha256 when listed,
    /// else the first the client knows.
    public var preferredHash: (algorithm: String, hex: String)? {
        if let sha = hashes["sha256"] { return ("sha256", sha) }
        return hashes.entries.first { TUFHashes.isKnown($0.name) }.map { ($0.name, $0.value) }
    }
}

/// A role that targets metadata delegates to.
public struct TUFDelegatedRole: Sendable {
    public let name: String
    public let keys: TUFRoleKeys
    public let terminating: Bool
    public let paths: [String]?
    public let pathHashPrefixes: [String]?

    init(_ value: TUFJSON, path: String) throws(OTAError) {
        let fields = try TUFFields(value, path: path)
        name = try fields.string("name")
        guard !name.isEmpty, !TUFRoleName.isTopLevel(name) else {
            throw OTAError(.tufMetadata, "\(path).name: '\(name)' cannot name a delegated role")
        }
        keys = try TUFRoleKeys(fields)
        terminating = try fields.bool("terminating")
        paths = fields.has("paths") ? try fields.uniqueStrings("paths") : nil
        pathHashPrefixes = fields.has("path_hash_prefixes") ? try fields.uniqueStrings("path_hash_prefixes") : nil
        guard (paths == nil) != (pathHashPrefixes == nil) else {
            throw OTAError(.tufMetadata, "\(path): exactly one of paths and path_hash_prefixes")
        }
    }

    /// Whether this role is trusted for `target` (TUF §5.7.3: glob patterns matched part by
    /// part, `*` never crossing `/`; or a prefix of the SHA-256 of the path).
    public func covers(_ target: String) -> Bool {
        if let paths { return paths.contains { PathPattern.matches($0, target) } }
        guard let prefixes = pathHashPrefixes, let digest = try? Hasher.hash(.sha256, Array(target.utf8)).hex else {
            return false
        }
        return prefixes.contains { digest.hasPrefix($0.lowercased()) }
    }
}

/// Targets metadata (top-level or delegated): target files and delegations.
public struct TargetsMetadata: Sendable {
    public let metadata: SignedMetadata
    public let targets: NamedList<TUFTargetFile>
    public let delegationKeys: NamedList<TUFKey>
    public let delegations: [TUFDelegatedRole]

    public init(bytes: [UInt8], source: String = "targets", limit: Int) throws(OTAError) {
        metadata = try SignedMetadata(bytes: bytes, expectedType: TUFRoleName.targets, source: source, limit: limit)
        let signed = try TUFFields(.object(metadata.signed), path: "\(source).signed")
        let targetFields = try signed.object("targets")
        var entries: [NamedList<TUFTargetFile>.Entry] = []
        for member in targetFields.object.members {
            entries.append(
                .init(
                    name: member.name,
                    value: try TUFTargetFile(member.value, path: "\(targetFields.path).\(member.name)")))
        }
        targets = NamedList(entries)
        if signed.has("delegations") {
            let delegation = try signed.object("delegations")
            delegationKeys = try RootMetadata.readKeys(try delegation.object("keys"))
            var roles: [TUFDelegatedRole] = []
            var names = Set<[UInt8]>()
            for (index, item) in try delegation.array("roles").enumerated() {
                let role = try TUFDelegatedRole(item, path: "\(delegation.path).roles[\(index)]")
                guard names.insert(Array(role.name.utf8)).inserted else {
                    throw OTAError(
                        .tufMetadata, "\(delegation.path).roles[\(index)]: role '\(role.name)' delegated twice")
                }
                roles.append(role)
            }
            delegations = roles
        } else {
            delegationKeys = NamedList()
            delegations = []
        }
    }

    /// Verifies `other` as the delegated role `role` signed by its threshold of keys listed here.
    public func verify(_ other: SignedMetadata, delegated role: TUFDelegatedRole) throws(OTAError) {
        try other.verify(role: role.name, keys: role.keys, keyTable: delegationKeys)
    }
}

/// TUF path patterns: shell-style globs (`*`, `?`, `[...]`, `[!...]`) matched per `/`-separated
/// part, with the same number of parts on both sides (python-tuf's rule).
public enum PathPattern {
    public static func matches(_ pattern: String, _ path: String) -> Bool {
        let patternParts = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let pathParts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard patternParts.count == pathParts.count else { return false }
        return zip(patternParts, pathParts).allSatisfy { glob(Array($0.unicodeScalars), Array($1.unicodeScalars)) }
    }

    static func glob(_ p: [Unicode.Scalar], _ s: [Unicode.Scalar]) -> Bool {
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "*" {
                star = pi
                mark = si
                pi += 1
                continue
            }
            if pi < p.count, let next = single(p, pi, s[si]) {
                pi = next
                si += 1
                continue
            }
            guard star >= 0 else { return false }
            pi = star + 1
            mark += 1
            si = mark
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Matches one pattern element at `index` against `c`; returns the index after it.
    static func single(_ p: [Unicode.Scalar], _ index: Int, _ c: Unicode.Scalar) -> Int? {
        if p[index] == "?" { return index + 1 }
        if p[index] == "[" {
            var i = index + 1
            var negate = false
            if i < p.count, p[i] == "!" { negate = true; i += 1 }
            var matched = false
            var first = true
            while i < p.count, p[i] != "]" || first {
                first = false
                if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                    if p[i].value <= c.value && c.value <= p[i + 2].value { matched = true }
                    i += 3
                } else {
                    if p[i] == c { matched = true }
                    i += 1
                }
            }
            // An unclosed '[' is a literal character, as in fnmatch.
            guard i < p.count else { return p[index] == c ? index + 1 : nil }
            return matched != negate ? i + 1 : nil
        }
        return p[index] == c ? index + 1 : nil
    }
}
