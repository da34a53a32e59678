import Foundation
package import OTABase

/// A trust store as files in memory: every file under its directory, by relative path
/// (`release/anchors/root-ca.crt`, `trust.json`). Trust updates are computed on a copy, written
/// to a staging directory beside the store and swapped in (`TrustStoreContents.swap`), so a
/// reader sees the old store or the new one, never a mix.
package struct TrustStoreContents: Sendable, Equatable {
    /// Relative path → bytes.
    package var files: [String: [UInt8]]

    /// Most files and bytes a trust store may hold (bounds what an update can make it grow to).
    package static let maximumFiles = 512
    package static let maximumFileSize = 1 << 20

    package init(files: [String: [UInt8]] = [:]) { self.files = files }

    /// Reads every regular file under `directory` (two levels: `<role>/<folder>/<file>`, plus
    /// top-level files such as `trust.json`).
    package init(directory: String) throws(OTAError) {
        guard FileSystem.isDirectory(directory) else {
            throw OTAError(.trustMissing, "\(directory): trust store directory does not exist")
        }
        var files: [String: [UInt8]] = [:]
        func walk(_ relative: String, depth: Int) throws(OTAError) {
            let path = relative.isEmpty ? directory : "\(directory)/\(relative)"
            for name in try FileSystem.list(path) {
                let child = relative.isEmpty ? name : "\(relative)/\(name)"
                if FileSystem.isDirectory("\(directory)/\(child)") {
                    guard depth < 2 else {
                        throw OTAError(.trustMalformed, "\(directory)/\(child): too deep for a trust store")
                    }
                    try walk(child, depth: depth + 1)
                } else {
                    guard files.count < Self.maximumFiles else {
                        throw OTAError(.trustMalformed, "\(directory): more than \(Self.maximumFiles) files")
                    }
                    files[child] = try FileSystem.read("\(directory)/\(child)", limit: Self.maximumFileSize)
                }
            }
        }
        try walk("", depth: 0)
        self.files = files
    }

    /// The store's metadata (`trust.json`), or the defaults when it has none.
    package var metadata: TrustMetadata {
        get throws(OTAError) {
            guard let bytes = files[TrustMetadata.fileName] else { return TrustMetadata() }
            return try CanonicalJSON.decode(TrustMetadata.self, from: bytes, as: .trustMalformed)
        }
    }

    /// Digest of the whole store: each file's path and contents, in path order.
    package func digest(_ algorithm: HashAlgorithm = .sha256) throws(OTAError) -> Digest {
        let hasher = try Hasher(algorithm)
        for path in files.keys.sorted() {
            let bytes = files[path]!
            hasher.update(Array(path.utf8) + [0] + BigEndian.bytes(UInt64(bytes.count)))
            hasher.update(bytes)
        }
        return hasher.finalize()
    }

    /// The paths of `role`'s files in `folder` (`anchors`, `crls`).
    func paths(_ role: TrustRole, _ folder: String) -> [String] {
        files.keys.filter { $0.hasPrefix("\(role.rawValue)/\(folder)/") }.sorted()
    }

    // MARK: Writing

    /// Where a store's next contents are staged, and its previous contents parked during a swap.
    package static func stagingPath(_ directory: String) -> String { directory + ".next" }
    package static func retiredPath(_ directory: String) -> String { directory + ".old" }

    /// Writes these contents to the staging directory beside `directory` (replacing any leftover),
    /// every file and directory fsync'd.
    package func stage(beside directory: String) throws(OTAError) {
        let staging = Self.stagingPath(directory)
        try Self.removeTree(staging)
        try FileSystem.createDirectory(staging, mode: 0o755)
        for path in files.keys.sorted() {
            let full = "\(staging)/\(path)"
            try FileSystem.createDirectory((full as NSString).deletingLastPathComponent, mode: 0o755)
            try AtomicFileWriter.write(files[path]!, to: full, mode: 0o644)
        }
        var folders = Set(files.keys.map { ($0 as NSString).deletingLastPathComponent }.filter { !$0.isEmpty })
        for folder in folders { folders.insert((folder as NSString).deletingLastPathComponent) }
        for folder in folders.filter({ !$0.isEmpty }).sorted(by: >) {
            try FileSystem.syncDirectory("\(staging)/\(folder)")
        }
        try FileSystem.syncDirectory(staging)
        try FileSystem.syncDirectory(Self.parent(directory))
    }

    /// Moves the staged store into place: `directory` → `.old`, `.next` → `directory`, then
    /// removes `.old`. `step` is called after each durable step (fault injection). A crash in
    /// between is finished by `recover` (the caller knows which contents to expect).
    package static func swap(_ directory: String, step: (String) -> Void = { _ in }) throws(OTAError) {
        let staging = stagingPath(directory), retired = retiredPath(directory), parent = Self.parent(directory)
        try removeTree(retired)
        if FileSystem.exists(directory) {
            try SystemCall.rename(
                directory, to: retired, message: "\(directory): cannot move the old trust store aside")
            try FileSystem.syncDirectory(parent)
            step("trust.old-parked")
        }
        try SystemCall.rename(staging, to: directory, message: "\(staging): cannot move the new trust store into place")
        try FileSystem.syncDirectory(parent)
        step("trust.swapped")
        try removeTree(retired)
    }

    /// After a crash during `stage` or `swap`: puts back whichever complete store has digest
    /// `expected` or `pending` (the old or the new), removes the leftovers, and returns the
    /// digest of the store now in place.
    package static func recover(_ directory: String, expected: Digest, pending: Digest?) throws(OTAError) -> Digest? {
        let staging = stagingPath(directory), retired = retiredPath(directory)
        func digest(_ path: String) -> Digest? {
            guard FileSystem.isDirectory(path), let contents = try? TrustStoreContents(directory: path) else {
                return nil
            }
            return try? contents.digest(expected.algorithm)
        }
        if !FileSystem.exists(directory) {
            // Crashed between the two renames: the new store is staged (or the old one parked).
            if let pending, digest(staging) == pending {
                guard rename(staging, directory) == 0 else {
                    throw OTAError(.ioRename, "\(staging): cannot finish the trust store swap")
                }
            } else if digest(retired) == expected {
                guard rename(retired, directory) == 0 else {
                    throw OTAError(.ioRename, "\(retired): cannot put the old trust store back")
                }
            }
            try FileSystem.syncDirectory(parent(directory))
        }
        try removeTree(staging)
        try removeTree(retired)
        return digest(directory)
    }

    static func parent(_ directory: String) -> String {
        let parent = (directory as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    static func removeTree(_ path: String) throws(OTAError) {
        guard FileSystem.exists(path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw OTAError(.ioUnlink, "\(path): cannot remove", cause: "\(error)")
        }
    }
}

/// `trust.json` at the top of a trust store: its version (raised by every signed trust update)
/// and, per role, how many of the role's current root keys must sign an update of that role.
package struct TrustMetadata: Codable, Sendable, Equatable {
    package static let fileName = "trust.json"
    package static let schemaIdentifier = "ota-trust/1"

    package var schema: String
    /// 0 for a store no update has touched.
    package var version: UInt64
    /// Role name → threshold (1 when absent).
    package var thresholds: [String: Int]
    /// Hex SHA-256 of the payload of the signed update that set `version` (absent before the
    /// first update): the same update offered again (by a bundle and the repository) is
    /// recognised as already applied, while a different one at this version is refused.
    package var update: String?

    package init(version: UInt64 = 0, thresholds: [String: Int] = [:]) {
        schema = Self.schemaIdentifier
        self.version = version
        self.thresholds = thresholds
    }

    package func threshold(_ role: TrustRole) -> Int { thresholds[role.rawValue] ?? 1 }
}
