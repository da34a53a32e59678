import Foundation
import OTACore
import OTARepository
import OTATUF
import Testing

/// The TUF attacks (specification §1.5.2), each staged on a repository ota made and refused by
/// the vehicle-side client with its own code.
@Suite struct ClientAttackTests {
    @Test(arguments: [Suite.intl, .gm])
    func `a fresh repository refreshes and its target downloads with the right bytes`(suite: Suite) throws {
        let fixture = try RepositoryFixture(suite: suite)
        try fixture.addTarget("x1/ivi.ota", "payload bytes")
        let client = try fixture.client()
        let file = try #require(try client.target(named: "x1/ivi.ota"))
        #expect(file.hashes.count == (suite == .gm ? 2 : 1))
        let bytes = try client.fetchTarget("x1/ivi.ota", file, baseURL: "file://" + fixture.repository.targetsDirectory)
        #expect(String(decoding: bytes, as: UTF8.self) == "payload bytes")
    }

    /// Without consistent snapshots a target's file has its plain name: adding the name again
    /// must replace the file, or the repository serves the old bytes under the new entry.
    @Test func `a target added again replaces its file in a repository without consistent snapshots`() throws {
        let fixture = try RepositoryFixture(consistentSnapshot: false)
        try fixture.addTarget("x1/ivi.ota", "first bytes")
        try fixture.addTarget("x1/ivi.ota", "second, longer bytes")
        let client = try fixture.client()
        let file = try #require(try client.target(named: "x1/ivi.ota"))
        let bytes = try client.fetchTarget("x1/ivi.ota", file, baseURL: "file://" + fixture.repository.targetsDirectory)
        #expect(String(decoding: bytes, as: UTF8.self) == "second, longer bytes")
    }

    @Test func `ed25519 repositories verify too`() throws {
        let fixture = try RepositoryFixture(keyType: .ed25519)
        try fixture.addTarget("a.bin", "a")
        #expect(try fixture.client().target(named: "a.bin") != nil)
    }

    @Test func `freeze: an expired timestamp is refused`() throws {
        let fixture = try RepositoryFixture()
        fixture.clock.seconds += 2 * 86_400
        #expect(refusal { try fixture.client().refresh() } == .tufExpired)
    }

    @Test func `replay: an older timestamp than the trusted one is refused`() throws {
        let fixture = try RepositoryFixture()
        let old = try fixture.read("timestamp.json")
        try fixture.repository.timestamp()
        try fixture.client().refresh()
        try fixture.write("timestamp.json", old)
        #expect(refusal { try fixture.client().refresh() } == .tufRollback)
    }

    @Test func `rollback: a timestamp naming an older snapshot is refused`() throws {
        let fixture = try RepositoryFixture()
        try fixture.addTarget("a.bin", "one")
        try fixture.client().refresh()
        // A valid, newer timestamp that points back at snapshot 1: re-sign with the real key.
        let signed = try #require(try TUFJSONParser.parse(try fixture.read("timestamp.json")).object?["signed"]?.object)
        var forged = signed
        forged.set("version", .integer(99))
        var meta = try #require(forged["meta"]?.object)
        meta.set("snapshot.json", .object(try JSONObject([("version", .integer(1))])))
        forged.set("meta", .object(meta))
        try fixture.write("timestamp.json", try fixture.resign(forged, role: "timestamp"))
        #expect(refusal { try fixture.client().refresh() } == .tufRollback)
    }

    @Test func `rollback: a snapshot listing an older targets version, or dropping a role, is refused`() throws {
        let fixture = try RepositoryFixture()
        try fixture.repository.delegate(role: "body", paths: ["body/*"])
        try fixture.addTarget("a.bin", "one")
        try fixture.addTarget("body/b.bin", "two", role: "body")
        try fixture.client().refresh()
        let trusted = try #require(try TUFJSONParser.parse(try fixture.read("snapshot.json")).object?["signed"]?.object)
        let targetsVersion = try #require(trusted["meta"]?.object?["targets.json"]?.object?["version"]?.integer)
        #expect(targetsVersion >= 2)
        // Snapshot and timestamp keys re-sign a newer snapshot that lists an older targets
        // version (or no longer lists the delegated role); the timestamp names it.
        for (step, (label, change)) in [
            (
                "older targets",
                { (meta: inout JSONObject) in
                    meta.set("targets.json", .object(try! JSONObject([("version", .integer(1))])))
                }
            ),
            ("dropped role", { (meta: inout JSONObject) in meta.remove("body.json") }),
        ].enumerated() as EnumeratedSequence<[(String, (inout JSONObject) -> Void)]> {
            // Each attempt newer than the last (a refused refresh still keeps the timestamp it verified).
            var snapshot = trusted
            let version = (trusted["version"]?.integer ?? 0) + 1 + Int64(step)
            snapshot.set("version", .integer(version))
            var meta = try #require(snapshot["meta"]?.object)
            change(&meta)
            snapshot.set("meta", .object(meta))
            let bytes = try fixture.resign(snapshot, role: "snapshot")
            try fixture.write("\(version).snapshot.json", bytes)
            var timestamp = try #require(
                try TUFJSONParser.parse(try fixture.read("timestamp.json")).object?["signed"]?.object)
            timestamp.set("version", .integer((timestamp["version"]?.integer ?? 0) + 1 + Int64(step)))
            let entry = try JSONObject([
                ("version", .integer(version)), ("length", .integer(Int64(bytes.count))),
                ("hashes", .object(try JSONObject([("sha256", .string(try Hasher.hash(.sha256, bytes).hex))]))),
            ])
            timestamp.set("meta", .object(try JSONObject([("snapshot.json", .object(entry))])))
            let saved = try fixture.read("timestamp.json")
            try fixture.write("timestamp.json", try fixture.resign(timestamp, role: "timestamp"))
            #expect(refusal { try fixture.client().refresh() } == .tufRollback, "\(label)")
            try fixture.write("timestamp.json", saved)
        }
    }

    @Test func `mix-and-match: a snapshot of another version than the timestamp names is refused`() throws {
        let fixture = try RepositoryFixture()
        try fixture.addTarget("a.bin", "one")
        // The server swaps in snapshot 1 under snapshot 2's name.
        try fixture.write("2.snapshot.json", try fixture.read("1.snapshot.json"))
        let code = refusal { try fixture.client().refresh() }
        // A longer file is cut at the signed length; otherwise its length, hashes or version differ.
        #expect([OTAError.Code.tufTooLarge, .tufLengthMismatch, .tufHashMismatch, .tufVersionMismatch].contains(code))
        // Without length and hashes in the timestamp, the version check alone catches it.
        let signed = try #require(try TUFJSONParser.parse(try fixture.read("timestamp.json")).object?["signed"]?.object)
        var bare = signed
        bare.set("version", .integer(3))
        bare.set(
            "meta", .object(try JSONObject([("snapshot.json", .object(try JSONObject([("version", .integer(2))])))])))
        try fixture.write("timestamp.json", try fixture.resign(bare, role: "timestamp"))
        #expect(refusal { try fixture.client().refresh() } == .tufVersionMismatch)
    }

    @Test func `endless data: metadata over its size limit is refused`() throws {
        let fixture = try RepositoryFixture()
        var limits = TUFLimits.default
        limits.timestamp = 100
        #expect(refusal { try fixture.client(limits: limits).refresh() } == .tufTooLarge)
    }

    @Test func `a target longer or different than signed is refused`() throws {
        let fixture = try RepositoryFixture()
        try fixture.addTarget("a.bin", "good")
        let client = try fixture.client()
        let file = try #require(try client.target(named: "a.bin"))
        let url = client.targetURL("a.bin", file, baseURL: "file://" + fixture.repository.targetsDirectory)
        try AtomicFileWriter.write(Array("good and more".utf8), to: String(url.dropFirst(7)))
        #expect(
            refusal {
                _ = try client.fetchTarget("a.bin", file, baseURL: "file://" + fixture.repository.targetsDirectory)
            } == .tufTooLarge)
        try AtomicFileWriter.write(Array("evil".utf8), to: String(url.dropFirst(7)))
        #expect(
            refusal {
                _ = try client.fetchTarget("a.bin", file, baseURL: "file://" + fixture.repository.targetsDirectory)
            } == .tufHashMismatch)
    }

    @Test func `a tampered signed field breaks the threshold`() throws {
        let fixture = try RepositoryFixture()
        let text = String(decoding: try fixture.read("timestamp.json"), as: UTF8.self)
        try fixture.write(
            "timestamp.json", Array(text.replacingOccurrences(of: "\"version\":1}", with: "\"version\":7}").utf8))
        #expect(refusal { try fixture.client().refresh() } == .tufSignatureThreshold)
    }

    /// A key id may appear once in "signatures" (§4.2.1). Repeating a good signature is refused
    /// with a threshold of two (where it would fake a second signer) and with a threshold of one
    /// (where the threshold is met anyway): the document is malformed either way.
    @Test(arguments: [1, 2])
    func `a key id that signs twice is refused, whatever the threshold`(threshold: Int) throws {
        let fixture = try RepositoryFixture(thresholds: ["timestamp": threshold])
        let document = try #require(try TUFJSONParser.parse(try fixture.read("timestamp.json")).object)
        let signatures = try #require(document["signatures"]?.array)
        #expect(signatures.count == threshold)
        // Every distinct signature stays: the threshold is met, only the repetition is wrong.
        var doubled = document
        doubled.set("signatures", .array(signatures + [signatures[0]]))
        try fixture.write("timestamp.json", OLPCCanonicalJSON.encodeFile(.object(doubled)))
        #expect(refusal { try fixture.client().refresh() } == .tufMetadata)
    }

    /// One timestamp key listed in root under a second key id, written another way (a compressed
    /// EC point; upper-case hex for ed25519), with threshold 2: the one key signing twice, once
    /// under each id, is one signer.
    @Test(arguments: [KeyType.p256, .ed25519])
    func `one key listed under two key ids in another encoding counts once`(keyType: KeyType) throws {
        let fixture = try RepositoryFixture(keyType: keyType)
        let config = try RepositoryConfig.load(fixture.directory.path + "/repo/repository.json")
        let keyID = try #require(config.roles["timestamp"]?.keyIDs.first)
        let key = try PrivateKey(contentsOf: fixture.directory.path + "/repo/keys/\(keyID).key")
        let der = try key.publicKey.der()
        let twin: TUFJSON
        if keyType == .ed25519 {
            twin = try Self.keyObject("ed25519", "ed25519", Hex.encode(Array(der.suffix(32))).uppercased())
        } else {
            // SubjectPublicKeyInfo of a P-256 key with the point compressed (SEC 1 §2.3.3).
            let x = Array(der.suffix(64).prefix(32))
            let prefix = Hex.decode("3039301306072a8648ce3d020106082a8648ce3d030107032200")!
            let spki = prefix + [der.last! & 1 == 0 ? 0x02 : 0x03] + x
            let pem = "-----BEGIN PUBLIC KEY-----\n" + Data(spki).base64EncodedString() + "\n-----END PUBLIC KEY-----\n"
            twin = try Self.keyObject("ecdsa", "ecdsa-sha2-nistp256", pem)
        }
        let twinID = try TUFKey.keyID(of: twin)
        #expect(twinID != keyID)
        // Root 2 (signed by the root key) lists the key twice for the timestamp role, threshold 2.
        var root = try #require(try TUFJSONParser.parse(try fixture.read("1.root.json")).object?["signed"]?.object)
        root.set("version", .integer(2))
        var keys = try #require(root["keys"]?.object)
        keys.set(twinID, twin)
        root.set("keys", .object(keys))
        var roles = try #require(root["roles"]?.object)
        roles.set(
            "timestamp",
            .object(
                try JSONObject([("keyids", .array([.string(keyID), .string(twinID)])), ("threshold", .integer(2))])))
        root.set("roles", .object(roles))
        try fixture.write("2.root.json", try fixture.resign(root, role: "root"))
        // The timestamp, signed by the one key under each of its ids.
        var timestamp = try #require(
            try TUFJSONParser.parse(try fixture.read("timestamp.json")).object?["signed"]?.object)
        timestamp.set("version", .integer(2))
        let message = OLPCCanonicalJSON.encode(.object(timestamp))
        var signatures: [TUFJSON] = []
        for id in [keyID, twinID] {
            let signature = Hex.encode(try key.signature(for: message))
            signatures.append(.object(try JSONObject([("keyid", .string(id)), ("sig", .string(signature))])))
        }
        try fixture.write(
            "timestamp.json",
            OLPCCanonicalJSON.encodeFile(
                .object(try JSONObject([("signatures", .array(signatures)), ("signed", .object(timestamp))]))))
        let client = try fixture.client()
        let error = try #require(fixture.expect(.tufSignatureThreshold) { try client.refresh() })
        #expect(error.code == .tufSignatureThreshold)
        #expect(error.message.hasPrefix("timestamp version 2: 1 valid signature"), "\(error.message)")
    }

    static func keyObject(_ type: String, _ scheme: String, _ value: String) throws -> TUFJSON {
        .object(
            try JSONObject([
                ("keytype", .string(type)), ("scheme", .string(scheme)),
                ("keyval", .object(try JSONObject([("public", .string(value))]))),
            ]))
    }

    @Test func `root rotation: the client walks every root version, each signed by old and new keys`() throws {
        let fixture = try RepositoryFixture()
        try fixture.client().refresh()
        try fixture.repository.rotate(role: "root")
        try fixture.repository.rotate(role: "root")
        let client = try fixture.client()
        try client.refresh()
        #expect(client.root.metadata.version == 3)
        #expect(client.events.contains("root 1->2") && client.events.contains("root 2->3"))
    }

    @Test func `a new root signed only by its own new keys is refused`() throws {
        let fixture = try RepositoryFixture()
        let rootTwo = try #require(try TUFJSONParser.parse(try fixture.read("1.root.json")).object?["signed"]?.object)
        var forged = rootTwo
        forged.set("version", .integer(2))
        // Signed with the timestamp key only (not a root key of version 1).
        try fixture.write("2.root.json", try fixture.resign(forged, role: "timestamp"))
        #expect(refusal { try fixture.client().refresh() } == .tufSignatureThreshold)
    }

    @Test func `a root file holding another version than its name is refused`() throws {
        let fixture = try RepositoryFixture()
        try fixture.repository.rotate(role: "root")
        try fixture.write("3.root.json", try fixture.read("2.root.json"))
        #expect(refusal { try fixture.client().refresh() } == .tufVersionMismatch)
    }

    @Test func `fast-forward recovery: after a timestamp key rotation the client accepts the lower timestamp version`()
        throws
    {
        let fixture = try RepositoryFixture()
        // An attacker with the old timestamp key pushed version 1000.
        let signed = try #require(try TUFJSONParser.parse(try fixture.read("timestamp.json")).object?["signed"]?.object)
        var fast = signed
        fast.set("version", .integer(1000))
        try fixture.write("timestamp.json", try fixture.resign(fast, role: "timestamp"))
        try fixture.client().refresh()
        // The repository rotates the timestamp key and signs version 2 with the new one.
        try fixture.repository.rotate(role: "timestamp")
        let client = try fixture.client()
        try client.refresh()
        #expect(client.timestamp?.metadata.version == 2)
        #expect(client.events.contains { $0.hasPrefix("fast-forward recovery") })
    }

    @Test func `delegations: paths, hash prefixes, terminating roles and two levels`() throws {
        let fixture = try RepositoryFixture()
        let repository = fixture.repository
        try repository.delegate(role: "x1", paths: ["x1/*"], terminating: true)
        try repository.delegate(role: "x1-ivi", from: "x1", paths: ["x1/ivi-*"])
        try repository.delegate(role: "other", paths: ["x1/*"])
        let prefix = String(try Hasher.hash(.sha256, Array("hashed.bin".utf8)).hex.prefix(3))
        try repository.delegate(role: "hashed", pathHashPrefixes: [prefix])
        try fixture.addTarget("x1/tbox.ota", "tbox", role: "x1")
        try fixture.addTarget("x1/ivi-2.ota", "ivi", role: "x1-ivi")
        try fixture.addTarget("x1/shadow.ota", "shadow", role: "other")
        try fixture.addTarget("hashed.bin", "h", role: "hashed")
        let client = try fixture.client()
        #expect(try client.target(named: "x1/tbox.ota")?.length == 4)
        #expect(try client.target(named: "x1/ivi-2.ota")?.length == 3)
        #expect(try client.target(named: "hashed.bin")?.length == 1)
        // "x1" is terminating: "other" is never consulted for x1/*.
        #expect(try client.target(named: "x1/shadow.ota") == nil)
        // A delegated role cannot list a target outside its paths.
        try fixture.addTarget("y/escape.ota", "escape", role: "x1")
        #expect(try fixture.client().target(named: "y/escape.ota") == nil)
        #expect(try repository.verify().targets == 4)
    }

    @Test func `a delegation search stops after the role limit`() throws {
        let fixture = try RepositoryFixture()
        var parent = "targets"
        for level in 0..<4 {
            try fixture.repository.delegate(role: "level\(level)", from: parent, paths: ["*"])
            parent = "level\(level)"
        }
        try fixture.addTarget("deep.bin", "d", role: parent)
        var limits = TUFLimits.default
        limits.maximumDelegations = 3
        #expect(try fixture.client(limits: limits).target(named: "deep.bin") == nil)
        #expect(try fixture.client().target(named: "deep.bin") != nil)
    }

    @Test func `the metadata directory holds only unversioned role files`() throws {
        let fixture = try RepositoryFixture()
        try fixture.repository.delegate(role: "body-ecus", paths: ["*"])
        try fixture.addTarget("f", "f", role: "body-ecus")
        _ = try fixture.client().target(named: "f")
        #expect(
            try FileSystem.list(fixture.clientDirectory.path) == [
                "body-ecus.json", "root.json", "snapshot.json", "targets.json", "timestamp.json",
            ])
        // Role names from metadata are percent-encoded into file names and URLs: no path escapes.
        #expect(TUFMetadataStore(directory: "/m").path("a/../b?") == "/m/a%2F..%2Fb%3F.json")
        #expect(TUFMetadataStore(directory: "/m").path("..") == "/m/%2E%2E.json")
        // ota's repository only makes role names that are plain file names.
        #expect(refusal { try fixture.repository.delegate(role: "a/../b?", paths: ["*"]) } == .repoRole)
    }
}

extension RepositoryFixture {
    /// Signs `signed` with the repository's current keys of `role` (what a holder of that key can do).
    func resign(_ signed: JSONObject, role: String) throws -> [UInt8] {
        let config = try RepositoryConfig.load(directory.path + "/repo/repository.json")
        let keys = try config.roles[role]!.keyIDs.map {
            try RepositoryKey(try PrivateKey(contentsOf: directory.path + "/repo/keys/\($0).key"))
        }
        return try MetadataSigner.sign(signed, keys: keys)
    }
}
