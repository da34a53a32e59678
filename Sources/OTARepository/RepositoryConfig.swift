internal import Foundation
public import OTACore

/// `repository.json`: the repository's settings and the state `publish` continues from. Kept
/// beside the served `metadata/` and `targets/` folders, never served itself.
public struct RepositoryConfig: Codable, Sendable {
    public struct Role: Codable, Sendable {
        /// Key ids; each key's private half is `keys/<keyid>.key`.
        public var keyIDs: [String]
        public var threshold: Int
        /// How long a new version stays valid, in seconds.
        public var lifetime: Int64
        /// The last published version.
        public var version: Int64
    }

    public var suite: Suite
    public var keyType: KeyType
    public var consistentSnapshot: Bool
    /// Top-level roles by name.
    public var roles: [String: Role]
    /// Delegated targets roles by name (their keys, threshold, paths and order live in the
    /// staged delegating metadata).
    public var delegated: [String: Role]

    public static func load(_ path: String) throws(OTAError) -> RepositoryConfig {
        try CanonicalJSON.decode(
            RepositoryConfig.self, from: try FileSystem.read(path, limit: 1 << 20), as: .repoConfig)
    }

    public func save(_ path: String) throws(OTAError) {
        try AtomicFileWriter.write(try CanonicalJSON.encode(self), to: path, mode: 0o600)
    }

    public func role(_ name: String) throws(OTAError) -> Role {
        if let role = roles[name] ?? delegated[name] { return role }
        throw OTAError(.repoRole, "no role '\(name)' in this repository")
    }
}
