import Foundation
import OTAAgent
import OTACore
import OTARepository
import OTATUF

/// TUF metadata as the vehicle-side client reads it. The first input byte is a mode, the rest a
/// metadata document:
///
/// - always: `TUFJSONParser.parse` (its OLPC canonical file encoding must read back the same
///   value) and every typed reader (`RootMetadata`, `TimestampMetadata`, `SnapshotMetadata`,
///   `TargetsMetadata`), each verified against the harness repository's root;
/// - then the whole client workflow (`TUFClient.refresh`, `target(named:)` through the
///   delegations, `allTargets`, `checkTarget`, and the agent's `BundleTarget` reading of each
///   target's `custom.ota` fields and chunk list) against a repository made at set-up by
///   `OTARepository` (root rotated once, a path delegation and a hash-prefix delegation), with
///   the document served in place of the file the mode's low four bits pick, in fetch order;
/// - mode bit 0x80: the document's `signed` object is first signed again with every key of the
///   repository, and the snapshot and timestamp that list it get its new length and hash (and
///   are signed again), as a holder of the role keys could do, so mutated content gets past
///   the signature, length and hash checks to the version, expiry and delegation rules.
struct TUFTarget: FuzzTarget {
    static let name = "tuf"
    static let summary =
        "TUF metadata: TUFJSONParser, Root/Timestamp/Snapshot/TargetsMetadata, TUFClient refresh and delegated target search over a served repository"

    /// The repository's clock and the client's: the metadata is fresh at this instant.
    static let now: Int64 = 1_800_000_000
    /// Target names the search looks for: one per role, and one no role lists.
    static let names = ["x1/ivi-2.4.0.ota", "apps/nav.ota", "fw/bms.bin", "apps/deep/none.ota"]

    let scratch: String
    let trustedRoot: [UInt8]
    let rootMetadata: RootMetadata
    /// Served files by URL, and the URLs in the order a clean refresh and search fetch them.
    let served: [String: [UInt8]]
    let fetchOrder: [String]
    let keys: [RepositoryKey]
    let targetBytes: [String: [UInt8]]

    static let baseURL = "fuzz://repo/metadata"

    /// The committed repository the harness serves (`--make-seeds Fuzz tuf` makes it again).
    static var fixture: String { "\(FuzzFixtures.fixtures)/tuf-repository" }
    static let contents: [(name: String, role: String)] = [
        ("x1/ivi-2.4.0.ota", "targets"), ("apps/nav.ota", "apps"), ("fw/bms.bin", "hashed"),
    ]

    static func content(_ name: String) -> [UInt8] { Array("target \(name)\n".utf8) }

    /// Makes the repository with `OTARepository` (Ed25519 keys, intl): a target per role, a
    /// path delegation and a hash-prefix delegation, published, then the timestamp key rotated
    /// (root version 2); copies its served metadata and its keys to `destination`.
    static func makeRepository(_ destination: String) throws(OTAError) {
        let work = try FuzzFixtures.scratch("tuf-repository")
        let repository = Repository(directory: "\(work)/repo", now: { TUFTarget.now })
        try repository.initialize(suite: .intl, keyType: .ed25519)
        try repository.delegate(role: "apps", paths: ["apps/*"])
        try repository.delegate(
            role: "hashed",
            pathHashPrefixes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"])
        for (name, role) in contents {
            let file = "\(work)/\(role).bin"
            FuzzFixtures.write(content(name), to: file)
            try repository.addFile(
                file, name: name, role: role, custom: role == "targets" ? try bundleFields(content(name)) : nil)
        }
        try repository.publish()
        try repository.rotate(role: TUFRoleName.timestamp)
        try? FileManager.default.removeItem(atPath: destination)
        for folder in ["metadata", "keys"] { try FileSystem.createDirectory("\(destination)/\(folder)") }
        for name in try FileSystem.list(repository.metadataDirectory) {
            try AtomicFileWriter.write(
                try FileSystem.read("\(repository.metadataDirectory)/\(name)"), to: "\(destination)/metadata/\(name)")
        }
        for folder in ["\(work)/repo/keys", "\(work)/repo/keys/retired"] {
            for name in try FileSystem.list(folder) where name.hasSuffix(".key") {
                try AtomicFileWriter.write(try FileSystem.read("\(folder)/\(name)"), to: "\(destination)/keys/\(name)")
            }
        }
    }

    /// `custom.ota` as `ota repo add` lists a bundle (docs/FORMAT.md), for the agent's reader,
    /// with the file cut into 8-byte chunks.
    static func bundleFields(_ bytes: [UInt8]) throws(OTAError) -> JSONObject {
        var chunks: [UInt8] = []
        for start in stride(from: 0, to: bytes.count, by: 8) {
            chunks += try Hasher.hash(.sha256, Array(bytes[start..<min(start + 8, bytes.count)])).bytes
        }
        let ota = try JSONObject([
            ("bundleId", .string("fuzz-bundle-intl")), ("campaign", .string("CAMP-FUZZ")),
            ("models", .array([.string("X1")])),
            ("vins", .array([.string("LSVX1A2B3C4D56789")])), ("ecus", .array([.string("IVI")])),
            ("hardwareIds", .array([.string("IVI-HW-3")])),
            ("manifestDigest", .string("sha256:" + String(repeating: "ab", count: 32))),
            ("versions", .object(try JSONObject([("IVI", .string("2.4.0"))]))),
            ("securityVersions", .object(try JSONObject([("IVI", .integer(3))]))),
            ("chunks", .object(try JSONObject([("size", .integer(8)), ("sha256", .string(Hex.encode(chunks)))]))),
        ])
        return try JSONObject([("ota", .object(ota))])
    }

    init() throws(OTAError) { try self.init(fixture: Self.fixture) }

    init(fixture: String) throws(OTAError) {
        scratch = try FuzzFixtures.scratch(Self.name)
        var served: [String: [UInt8]] = [:]
        for name in try FileSystem.list("\(fixture)/metadata") {
            served["\(Self.baseURL)/\(name)"] = try FileSystem.read("\(fixture)/metadata/\(name)")
        }
        self.served = served
        trustedRoot = try FileSystem.read("\(fixture)/metadata/1.root.json")
        rootMetadata = try RootMetadata(bytes: try FileSystem.read("\(fixture)/metadata/root.json"))
        keys = try FileSystem.list("\(fixture)/keys").sorted().map { name throws(OTAError) in
            try RepositoryKey(try PrivateKey(contentsOf: "\(fixture)/keys/\(name)"))
        }
        targetBytes = Dictionary(uniqueKeysWithValues: Self.contents.map { ($0.name, Self.content($0.name)) })

        // A clean run: every document verifies, and the order of fetches is what the mode indexes.
        let recorder = ServedFiles(files: served)
        let client = try Self.client(scratch: scratch, trustedRoot: trustedRoot, fetcher: recorder)
        try client.refresh()
        for name in Self.names.dropLast() {
            guard try client.target(named: name) != nil else {
                throw OTAError(.tufRoleMissing, "fuzz repository: \(name) not found")
            }
        }
        fetchOrder = recorder.log.fetched
    }

    static func client(scratch: String, trustedRoot: [UInt8], fetcher: any TUFFetcher) throws(OTAError) -> TUFClient {
        let directory = "\(scratch)/client"
        try? FileManager.default.removeItem(atPath: directory)
        try TUFClient.initialize(metadataDirectory: directory, trustedRoot: trustedRoot)
        return try TUFClient(
            metadataDirectory: directory, metadataURL: baseURL, fetcher: fetcher, now: { TUFTarget.now })
    }

    func run(_ input: [UInt8]) {
        guard let mode = input.first else { return }
        var document = Array(input.dropFirst())
        readAlone(document)

        let slot = fetchOrder[Int(mode & 0x0f) % fetchOrder.count]
        var files = served
        if mode & 0x80 != 0 {
            guard let signed = (try? TUFJSONParser.parse(document))?.object?["signed"]?.object,
                let bytes = try? MetadataSigner.sign(signed, keys: keys)
            else { return }
            document = bytes
            files[slot] = document
            fixUpListings(for: slot, &files)
        } else {
            files[slot] = document
        }
        do throws(OTAError) {
            let client = try Self.client(scratch: scratch, trustedRoot: trustedRoot, fetcher: ServedFiles(files: files))
            try client.refresh()
            for name in Self.names {
                guard let file = try client.target(named: name) else { continue }
                _ = client.targetURL(name, file, baseURL: "fuzz://repo/targets")
                try TUFClient.checkTarget(targetBytes[name] ?? [], file, name: name)
            }
            // What the agent does with the list: each bundle's custom.ota fields and chunk list.
            for (name, file) in try client.allTargets() {
                _ = client.targetURL(name, file, baseURL: "fuzz://repo/targets")
                do throws(OTAError) {
                    _ = try OTAAgent.BundleTarget(name: name, file: file)
                } catch {
                    FuzzTargets.explain(error)
                }
            }
        } catch {
            FuzzTargets.explain(error)
        }
    }

    /// After a document was signed again: the length and hashes that list it (a targets role in
    /// the snapshot, the snapshot in the timestamp) are set to the new bytes and those listings
    /// signed again too, so the document itself is what the client checks next.
    private func fixUpListings(for slot: String, _ files: inout [String: [UInt8]]) {
        var name = String(slot.split(separator: "/").last ?? "")
        if let dot = name.firstIndex(of: "."), name[..<dot].allSatisfy(\.isNumber) {
            name = String(name[name.index(after: dot)...])
        }
        guard name != "root.json", name != "timestamp.json", let bytes = files[slot] else { return }
        if name != "snapshot.json" {
            guard let snapshotURL = fetchOrder.first(where: { $0.hasSuffix("snapshot.json") }),
                let snapshot = files[snapshotURL],
                let listed = relisted(snapshot, entry: name, bytes: bytes)
            else { return }
            files[snapshotURL] = listed
            fixUpListings(for: snapshotURL, &files)
            return
        }
        guard let timestampURL = fetchOrder.first(where: { $0.hasSuffix("/timestamp.json") }),
            let timestamp = files[timestampURL],
            let listed = relisted(timestamp, entry: "snapshot.json", bytes: bytes)
        else { return }
        files[timestampURL] = listed
    }

    /// `document` with `signed.meta[entry]`'s length and sha256 set for `bytes`, signed again.
    private func relisted(_ document: [UInt8], entry: String, bytes: [UInt8]) -> [UInt8]? {
        guard var signed = (try? TUFJSONParser.parse(document))?.object?["signed"]?.object,
            var meta = signed["meta"]?.object,
            var listing = meta[entry]?.object, let sha256 = try? Hasher.hash(.sha256, bytes).hex,
            let hashes = try? JSONObject([("sha256", .string(sha256))])
        else { return nil }
        listing.set("length", .integer(Int64(bytes.count)))
        listing.set("hashes", .object(hashes))
        meta.set(entry, .object(listing))
        signed.set("meta", .object(meta))
        return try? MetadataSigner.sign(signed, keys: keys)
    }

    /// The parser and each typed reader on the document alone.
    private func readAlone(_ document: [UInt8]) {
        if let value = try? TUFJSONParser.parse(document) {
            let file = OLPCCanonicalJSON.encodeFile(value)
            guard let again = try? TUFJSONParser.parse(file) else {
                FuzzTargets.violated("tuf: the canonical file encoding of accepted metadata is refused")
            }
            if again != value { FuzzTargets.violated("tuf: the canonical file encoding reads back another value") }
            if OLPCCanonicalJSON.encode(again) != OLPCCanonicalJSON.encode(value) {
                FuzzTargets.violated("tuf: the canonical encoding is not stable")
            }
        }
        if let root = try? RootMetadata(bytes: document) {
            _ = try? rootMetadata.verify(root.metadata, role: TUFRoleName.root)
            _ = try? root.verify(root.metadata, role: TUFRoleName.root)
        }
        if let timestamp = try? TimestampMetadata(bytes: document) {
            _ = try? rootMetadata.verify(timestamp.metadata, role: TUFRoleName.timestamp)
        }
        if let snapshot = try? SnapshotMetadata(bytes: document, limit: TUFLimits.default.snapshot) {
            _ = try? rootMetadata.verify(snapshot.metadata, role: TUFRoleName.snapshot)
            _ = snapshot.entry(role: "apps")
        }
        if let targets = try? TargetsMetadata(bytes: document, limit: TUFLimits.default.targets) {
            _ = try? rootMetadata.verify(targets.metadata, role: TUFRoleName.targets)
            for role in targets.delegations {
                for name in Self.names { _ = role.covers(name) }
                _ = try? targets.verify(targets.metadata, delegated: role)
            }
        }
    }
}

/// Serves the repository's files from memory, as a `TUFFetcher` over HTTP would: a missing file
/// is `transport.not-found`, a body over the limit `tuf.too-large`. Records what was fetched.
final class ServedFiles: TUFFetcher, @unchecked Sendable {
    final class Log { var fetched: [String] = [] }

    let files: [String: [UInt8]]
    // Written only on libFuzzer's one thread.
    let log = Log()

    init(files: [String: [UInt8]]) { self.files = files }

    func fetch(_ url: String, maxLength: Int) throws(OTAError) -> [UInt8] {
        log.fetched.append(url)
        guard let bytes = files[url] else { throw OTAError(.transportNotFound, "\(url): not found") }
        guard bytes.count <= maxLength else { throw OTAError(.tufTooLarge, "\(url): more than \(maxLength) bytes") }
        return bytes
    }
}
