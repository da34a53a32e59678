import Foundation
import OTACore
import OTADelta
import Testing

@testable import OTABuilder

@Suite("Bundle round trips")
struct RoundTripTests {
    /// Decodes every payload with the reader and returns the contents.
    func contents(of path: String, fixture: BundleFixture, keys: [PrivateKey] = []) throws -> [String: [UInt8]] {
        let reader = try BundleReader(path: path)
        let head = try reader.verifyHead(policy: try fixture.policy())
        let contentKey =
            head.manifest.encryption == nil
            ? nil : try head.recipients.contentKey(using: keys, manifestDigest: head.digest)
        var result: [String: [UInt8]] = [:]
        while let stream = try reader.nextPayload() {
            let decoder = try PayloadDecoder(manifest: head.manifest, image: stream.image, contentKey: contentKey)
            var bytes: [UInt8] = []
            while try stream.withNextChunk({ chunk, isLast throws(OTAError) in
                try decoder.consume(chunk, isLast: isLast) { bytes += $0 }
            }) {}
            try decoder.finish()
            result[stream.image.name] = bytes
        }
        return result
    }

    @Test(arguments: Suite.allCases, [false, true])
    func `one and several images round trip, encrypted or not`(suite: Suite, encrypted: Bool) throws {
        let fixture = try BundleFixture(suite: suite)
        let a = try fixture.image("a.img", size: 100_000, seed: 3)
        let b = try fixture.image("b.img", size: 1, seed: 4)
        let c = try fixture.image("c.img", size: 16 * 1024 * 3, seed: 5)  // exact multiple of the chunk size
        let recipientPath = suite == .gm ? "vehicle/device.crt" : "vehicle/fleet-recipient.crt"
        let recipientKey = suite == .gm ? "vehicle/device.key" : "vehicle/fleet-recipient.key"
        let recipients = encrypted ? [try fixture.certificate(recipientPath)] : []
        let single = try fixture.build(
            manifest: try fixture.manifest(images: [("only", "a.img")]), recipients: recipients)
        let keys = encrypted ? [try fixture.key(recipientKey)] : []
        #expect(try contents(of: single, fixture: fixture, keys: keys) == ["only": a])
        let several = try fixture.build(
            manifest: try fixture.manifest(images: [("first", "a.img"), ("second", "b.img"), ("third", "c.img")]),
            recipients: recipients)
        #expect(try contents(of: several, fixture: fixture, keys: keys) == ["first": a, "second": b, "third": c])
        #expect(fixture.verifyCode(several, deep: true, keys: keys) == nil)
    }

    @Test(arguments: Suite.allCases)
    func `an uncompressed image and an empty image round trip`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let a = try fixture.image("a.img", size: 40_000)
        _ = try fixture.image("empty.img", size: 0)
        let path = try fixture.build(
            manifest: try fixture.manifest(images: [("a", "a.img"), ("empty", "empty.img")], compression: "none"))
        #expect(try contents(of: path, fixture: fixture) == ["a": a, "empty": []])
    }

    @Test func `several recipients each decrypt, and rewrap adds one without re-signing`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let path = try fixture.standardBundle(recipients: [
            try fixture.certificate("vehicle/fleet-recipient.crt"), try fixture.certificate("vehicle/device.crt"),
        ])
        let before = try BundleFixture.entries(of: path)
        for key in ["vehicle/fleet-recipient.key", "vehicle/device.key"] {
            #expect(fixture.verifyCode(path, deep: true, keys: [try fixture.key(key)]) == nil, "\(key)")
        }
        // A new recipient (its own key pair, certified by nobody: a recipient needs no chain).
        let newKey = try PrivateKey.generate(.x25519)
        let pki = try TestCertificates.leaf(publicKey: try newKey.publicKey)
        _ = try BundleRewriter.addRecipients(path: path, key: try fixture.key("vehicle/device.key"), recipients: [pki])
        #expect(fixture.verifyCode(path, deep: true, keys: [newKey]) == nil)
        let after = try BundleFixture.entries(of: path)
        #expect(after[0].data == before[0].data)  // manifest unchanged
        #expect(after[1].data == before[1].data)  // signatures unchanged
        #expect(after.dropFirst(3).map(\.data) == before.dropFirst(3).map(\.data))  // payloads unchanged
    }

    @Test(arguments: Suite.allCases)
    func `co-signing meets a threshold of two; the same key twice does not`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let path = try fixture.standardBundle()
        #expect(fixture.verifyCode(path, threshold: 2) == "signature.threshold")
        #expect(throws: OTAError(.signatureDuplicate, "")) {
            try BundleRewriter.cosign(path: path, signer: try fixture.signer())
        }
        _ = try BundleRewriter.cosign(path: path, signer: try fixture.signer("signer-2"))
        #expect(fixture.verifyCode(path, threshold: 2) == nil)
        #expect(fixture.verifyCode(path, threshold: 3) == "signature.threshold")
    }

    @Test func `the same inputs give the same bytes except signatures`() throws {
        let fixture = try BundleFixture(suite: .intl)
        try fixture.image("a.img", size: 30_000)
        let manifest = try fixture.manifest(images: [("a", "a.img")])
        let first = try BundleFixture.entries(of: try fixture.build(manifest: manifest))
        let second = try BundleFixture.entries(of: try fixture.build(manifest: manifest))
        #expect(first.map(\.name) == second.map(\.name))
        #expect(first[0].data == second[0].data)
        #expect(first[3].data == second[3].data)
    }

    @Test(arguments: Suite.allCases)
    func `a delta image carries a patch that rebuilds the new image from the named source`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let old = try fixture.image("old.img", size: 300_000, seed: 11)
        var new = old
        // An edit that shifts the rest.
        new.replaceSubrange(100_000..<100_100, with: [UInt8](repeating: 0xAB, count: 300))
        new[250_000] ^= 0xff
        try Data(new).write(to: URL(fileURLWithPath: fixture.directory + "/images/new.img"))
        var text = try String(contentsOfFile: try fixture.manifest(images: [("sys", "new.img")]), encoding: .utf8)
        text = text.replacingOccurrences(
            of: "    file: new.img\n",
            with: "    file: new.img\n    kind: delta\n    source: {file: old.img, version: 0.9.0}\n")
        let manifestPath = fixture.directory + "/delta.yaml"
        try text.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let bundle = try fixture.build(manifest: manifestPath)

        let reader = try BundleReader(path: bundle)
        let head = try reader.verifyHead(policy: try fixture.policy())
        let image = head.manifest.images[0]
        #expect(image.kind == .delta)
        #expect(
            image.source
                == Manifest.DeltaSource(
                    version: "0.9.0", hash: try Hasher.hash(suite.hash, old).hex, size: UInt64(old.count)))
        #expect(image.target == Manifest.Target(hash: try Hasher.hash(suite.hash, new).hex, size: UInt64(new.count)))
        #expect(image.payload.plainSize < 20_000)
        var rebuilt: [UInt8] = []
        let applier = DeltaDecoder(source: MemoryDeltaSource(old)) { rebuilt += $0 }
        let stream = try #require(try reader.nextPayload())
        let decoder = try PayloadDecoder(manifest: head.manifest, image: image, contentKey: nil)
        while try stream.withNextChunk({ chunk, isLast throws(OTAError) in
            try decoder.consume(chunk, isLast: isLast) { patch throws(OTAError) in try applier.update(patch) }
        }) {}
        try decoder.finish()
        _ = try applier.finish()
        #expect(rebuilt == new)
    }

    @Test func `the tar lists the entries a release engineer expects`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let names = try BundleFixture.entries(of: try fixture.standardBundle()).map(\.name)
        #expect(names == ["manifest.json", "signatures.json", "recipients.json", "payloads/alpha", "payloads/beta"])
    }
}

/// Certificates for tests that need one outside the sample PKI.
enum TestCertificates {
    static func leaf(publicKey: PublicKey) throws -> Certificate {
        let caKey = try PrivateKey.generate(.p256)
        let now = Date()
        let ca = try CertificateIssuer.selfSignedRoot(
            key: caKey,
            profile: CertificateProfile(
                commonName: "Test CA", organization: "tests",
                usage: .certificateAuthority(pathLength: 0), notBefore: now.addingTimeInterval(-60),
                notAfter: now.addingTimeInterval(86400)))
        return try CertificateIssuer(key: caKey, certificate: ca).issue(
            CertificateProfile(
                commonName: "Recipient", organization: "tests", usage: .keyAgreement,
                notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86400)), publicKey: publicKey)
    }
}
