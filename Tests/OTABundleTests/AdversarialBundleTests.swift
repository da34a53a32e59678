import Foundation
import Testing

@testable import OTABuilder
@testable import OTACore

/// One test per attack on the bundle format; each must be refused with its own code.
@Suite("Adversarial bundles")
struct AdversarialBundleTests {
    let fixture: BundleFixture
    let bundle: String
    let entries: [RawTar.Entry]

    init() throws {
        fixture = try BundleFixture(suite: .intl)
        bundle = try fixture.standardBundle()
        entries = try BundleFixture.entries(of: bundle)
    }

    func code(_ entries: [RawTar.Entry], threshold: Int = 1, deep: Bool = false) throws -> String? {
        fixture.verifyCode(try fixture.write(RawTar.archive(entries)), threshold: threshold, deep: deep)
    }

    /// Replaces the manifest with a mutated copy, re-signed by a trusted signer.
    func resigned(_ mutate: (inout Manifest) -> Void, signer: SignerIdentity? = nil) throws -> [RawTar.Entry] {
        var manifest = try CanonicalJSON.decode(Manifest.self, from: entries[0].data, as: .manifestMalformed)
        mutate(&manifest)
        let bytes = try CanonicalJSON.encode(manifest)
        let envelope = SignatureEnvelope(
            payloadType: SignatureEnvelope.manifestType,
            signatures: [try (signer ?? fixture.signer()).sign(bytes, type: SignatureEnvelope.manifestType)])
        var copy = entries
        copy[0].data = bytes
        copy[1].data = try envelope.encoded()
        return copy
    }

    func withEnvelope(_ mutate: (inout SignatureEnvelope) throws -> Void) throws -> [RawTar.Entry] {
        var envelope = try SignatureEnvelope.decode(entries[1].data)
        try mutate(&envelope)
        var copy = entries
        copy[1].data = try envelope.encoded()
        return copy
    }

    @Test func `a faithful re-archive of the entries is accepted (the crafting tool is honest)`() throws {
        #expect(try code(entries) == nil)
    }

    @Test func `any single flipped byte anywhere in the bundle is refused`() throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: bundle)))
        // Every byte of the head entries' headers and the first KiB, then a stride over the rest.
        var offsets = Array(0..<min(original.count, 2048))
        offsets += stride(from: 2048, to: original.count, by: 61).map { $0 }
        offsets += Array(max(0, original.count - 1100)..<original.count)
        var accepted: [Int] = []
        for offset in Set(offsets).sorted() {
            var copy = original
            copy[offset] ^= 0x01
            if fixture.verifyCode(try fixture.write(copy, name: "flip.ota")) == nil { accepted.append(offset) }
        }
        #expect(accepted.isEmpty, "flips accepted at offsets \(accepted.prefix(20))")
        #expect(offsets.count > 3000)
    }

    @Test func `truncation at every entry boundary and inside entries is refused`() throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: bundle)))
        var boundaries: [Int] = [0]
        var position = 0
        for entry in entries {
            position += 512 + (entry.data.count + 511) / 512 * 512
            boundaries.append(position)
        }
        let cuts =
            boundaries + boundaries.map { $0 + 100 } + [
                original.count - 1, original.count - 512, original.count - 1024,
            ]
        for cut in Set(cuts) where cut < original.count {
            let code = fixture.verifyCode(try fixture.write(Array(original.prefix(cut)), name: "cut.ota"))
            #expect(code != nil, "truncated at \(cut) accepted")
        }
        #expect(
            fixture.verifyCode(try fixture.write(Array(original.prefix(boundaries.last!)), name: "nomarker.ota"))
                == "bundle.truncated")
    }

    @Test func `data after the end-of-archive marker is refused`() throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: bundle)))
        #expect(fixture.verifyCode(try fixture.write(original + [0], name: "trail.ota")) == "bundle.trailing-data")
        #expect(
            fixture.verifyCode(try fixture.write(original + [UInt8](repeating: 0, count: 512), name: "trail2.ota"))
                == "bundle.trailing-data")
    }

    @Test func `extra, missing, duplicated and reordered entries are each refused with their own code`() throws {
        #expect(try code(entries + [RawTar.Entry(name: "payloads/gamma", data: [1, 2, 3])]) == "bundle.extra-entry")
        var inserted = entries
        inserted.insert(RawTar.Entry(name: "notes.txt", data: [1]), at: 3)
        #expect(try code(inserted) == "bundle.unexpected-entry")
        #expect(try code(Array(entries.dropLast())) == "bundle.missing-entry")
        var duplicated = entries
        duplicated.insert(entries[3], at: 4)
        #expect(try code(duplicated) == "bundle.duplicate-entry")
        var reordered = entries
        reordered.swapAt(3, 4)
        #expect(try code(reordered) == "bundle.entry-order")
        var headReordered = entries
        headReordered.swapAt(0, 1)
        #expect(try code(headReordered) == "bundle.entry-order")
    }

    @Test(arguments: [RawTar.EntryType.symbolicLink, .hardLink, .characterDevice, .blockDevice, .directory, .fifo])
    func `links, devices and directories are refused wherever they appear`(type: RawTar.EntryType) throws {
        var crafted = entries
        crafted[3] = RawTar.Entry(name: entries[3].name, data: [], type: type, linkName: "/etc/shadow")
        #expect(try code(crafted) == "bundle.entry-type")
    }

    @Test func `pax and GNU extension headers are refused, wherever they appear`() throws {
        // A pax `path` record would rename the next entry to a name the manifest expects.
        var renamed = entries
        renamed[3].name = "payloads/zzz"
        renamed.insert(RawTar.pax([("path", entries[3].name)]), at: 3)
        #expect(try code(renamed) == "bundle.extension-header")
        // Hidden data in a pax comment before the manifest.
        var comment = entries
        comment.insert(RawTar.pax([("comment", String(repeating: "hidden ", count: 100))]), at: 0)
        #expect(try code(comment) == "bundle.extension-header")
        var global = entries
        global.insert(RawTar.pax([("comment", "x")], type: .paxGlobal), at: 0)
        #expect(try code(global) == "bundle.extension-header")
        var longName = entries
        longName.insert(
            RawTar.Entry(name: "././@LongLink", data: Array((entries[3].name + "\0").utf8), type: .gnuLongName), at: 3)
        #expect(try code(longName) == "bundle.extension-header")
    }

    @Test func `only POSIX ustar regular-file headers are read`() throws {
        var gnuMagic = entries
        gnuMagic[0].magic = Array("ustar  \0".utf8)
        #expect(try code(gnuMagic) == "bundle.framing")
        var v7 = entries
        v7[0].magic = [UInt8](repeating: 0, count: 8)
        #expect(try code(v7) == "bundle.not-a-bundle")  // a pre-POSIX tar is not a bundle
        var v7Later = entries
        v7Later[2].magic = [UInt8](repeating: 0, count: 8)
        #expect(try code(v7Later) == "bundle.framing")
        var prefixed = entries
        prefixed[3].prefix = "payloads"
        prefixed[3].name = "alpha"
        #expect(try code(prefixed) == "bundle.framing")
        for type in [RawTar.EntryType.contiguous, .oldRegular] {
            var crafted = entries
            crafted[3].type = type
            #expect(try code(crafted) == "bundle.entry-type", "type \(type)")
        }
    }

    @Test func `more signatures than the format allows are refused, not ignored`() throws {
        let crafted = try withEnvelope { envelope in
            envelope.signatures = Array(
                repeating: envelope.signatures[0], count: SignatureEnvelope.maximumSignatures + 1)
        }
        #expect(try code(crafted) == "signature.too-many")
        let withManyCertificates = try withEnvelope { envelope in
            envelope.signatures[0].certificates += Array(
                repeating: envelope.signatures[0].certificates[0], count: SignatureEnvelope.maximumCertificates)
        }
        #expect(try code(withManyCertificates) == "signature.certificates")
    }

    @Test(arguments: [
        "../payloads/alpha", "/payloads/alpha", "payloads/../payloads/alpha", "./payloads/alpha", "payloads/ALPHA",
        "payloads/alpha.xz",
    ])
    func `path tricks and look-alike names are refused`(name: String) throws {
        var crafted = entries
        crafted[3].name = name
        #expect(try code(crafted) == "bundle.unexpected-entry")
    }

    @Test func `look-alike image names never reach a manifest`() throws {
        for name in ["Alpha", "alpha/x", "..", ".hidden", "a\u{0301}", String(repeating: "a", count: 65), ""] {
            #expect(!BundleLayout.isValidImageName(name), "\(name)")
        }
        #expect(throws: OTAError.self) {
            try fixture.build(manifest: try fixture.manifest(images: [("Alpha", "a.img")]))
        }
    }

    @Test func `a manifest entry larger than its bound is refused before it is read`() throws {
        var crafted = entries
        crafted[0].data = [UInt8](repeating: 0x20, count: BundleLayout.maximumManifestSize + 1)
        #expect(try code(crafted) == "bundle.entry-too-large")
    }

    @Test func `a payload longer or shorter than signed is refused at its header`() throws {
        var longer = entries
        longer[3].data += [UInt8](repeating: 7, count: 1000)  // endless data
        #expect(try code(longer) == "bundle.entry-size")
        var shorter = entries
        shorter[3].data.removeLast(10)
        #expect(try code(shorter) == "bundle.entry-size")
    }

    @Test func `signed sizes past the limits are refused by the manifest rules`() throws {
        let crafted = try resigned { $0.images[0].payload.storedSize = BundleLayout.maximumImageSize + 1 }
        #expect(try code(crafted) == "manifest.rules")
        let tooManyChunks = try resigned { $0.images[0].payload.chunkHashes.append(String(repeating: "0", count: 64)) }
        #expect(try code(tooManyChunks) == "manifest.rules")
        let hugeChunk = try resigned { $0.images[0].payload.chunkSize = 1 << 40 }
        #expect(try code(hugeChunk) == "manifest.rules")
    }

    @Test(arguments: Suite.allCases)
    func `signed numbers at the edges of their types are refused, never trap`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let encrypted = try fixture.standardBundle(recipients: [try fixture.certificate("vehicle/fleet-recipient.crt")])
        let plain = try fixture.standardBundle()
        let edges: [(String, String, (inout Manifest) -> Void)] = [
            ("zero encryption chunk size", encrypted, { $0.encryption?.chunkSize = 0 }),
            ("zero payload chunk size", plain, { $0.images[0].payload.chunkSize = 0 }),
            ("stored size near 2^64", plain, { $0.images[0].payload.storedSize = UInt64.max }),
            ("stored size near 2^64, encrypted", encrypted, { $0.images[0].payload.storedSize = UInt64.max - 1 }),
            ("compressed size near 2^64, encrypted", encrypted, { $0.images[0].payload.compressedSize = UInt64.max }),
            ("compressed size near 2^64", plain, { $0.images[0].payload.compressedSize = UInt64.max }),
            ("plain size near 2^64", plain, { $0.images[0].payload.plainSize = UInt64.max }),
            ("target size near 2^64", plain, { $0.images[0].target.size = UInt64.max }),
            ("chunk size near 2^64", plain, { $0.images[0].payload.chunkSize = UInt64.max }),
            ("encryption chunk size near 2^64", encrypted, { $0.encryption?.chunkSize = UInt64.max }),
            ("negative notice duration", plain, { $0.notice["en"]?.expectedDurationMinutes = Int.min }),
            ("battery percent at Int.min", plain, { $0.preconditions.minimumBatteryPercent = Int.min }),
            ("security version at 2^64 - 1", plain, { $0.images[0].securityVersion = UInt64.max }),
        ]
        for (what, bundle, mutate) in edges {
            let entries = try BundleFixture.entries(of: bundle)
            var manifest = try CanonicalJSON.decode(Manifest.self, from: entries[0].data, as: .manifestMalformed)
            mutate(&manifest)
            let bytes = try CanonicalJSON.encode(manifest)
            var copy = entries
            copy[0].data = bytes
            copy[1].data = try SignatureEnvelope(
                payloadType: SignatureEnvelope.manifestType,
                signatures: [try fixture.signer().sign(bytes, type: SignatureEnvelope.manifestType)]
            ).encoded()
            let path = try fixture.write(RawTar.archive(copy))
            let code = fixture.verifyCode(path, deep: true, keys: [try fixture.key("vehicle/fleet-recipient.key")])
            if what.hasPrefix("security version") {
                #expect(code == nil, "\(what): \(code ?? "accepted")")  // a legal value: the vehicle's counter decides
            } else {
                #expect(code == "manifest.rules", "\(what): \(code ?? "accepted")")
            }
            // Co-signing reads the manifest before any signature is checked: it must refuse, not trap.
            #expect(throws: OTAError.self, "\(what): co-signing") {
                if what.hasPrefix("security version") { throw OTAError(.manifestRules, "skip") }
                _ = try BundleRewriter.cosign(path: path, signer: try fixture.signer("signer-2"))
            }
        }
    }

    @Test func `a payload that decodes to more than its signed size is refused (xz bomb)`() throws {
        // Signed, correctly chunked, but the content is far larger than the signed plainSize.
        let bomb = try XZEncoder.compress([UInt8](repeating: 0, count: 5_000_000), preset: 6)
        var crafted = try resigned { manifest in
            manifest.images[0].payload.compressedSize = UInt64(bomb.count)
            manifest.images[0].payload.storedSize = UInt64(bomb.count)
            manifest.images[0].payload.chunkHashes = stride(
                from: 0, to: bomb.count, by: Int(manifest.images[0].payload.chunkSize)
            ).map {
                (try? Hasher.hash(
                    .sha256, Array(bomb[$0..<min($0 + Int(manifest.images[0].payload.chunkSize), bomb.count)])
                ).hex) ?? ""
            }
        }
        crafted[3].data = bomb
        #expect(try code(crafted) == nil)  // every stored byte is as signed …
        let deepCode = try code(crafted, deep: true)
        // … but decoding stops at the signed size
        #expect(deepCode == "xz.output-limit", "got \(deepCode ?? "accepted")")
    }

    @Test func `a signature by an unknown, expired, not yet valid or revoked certificate is refused`() throws {
        let stranger = try BundleFixture(suite: .intl)  // same layout, but a fresh PKI
        let strangerKey = try PrivateKey.generate(.p256)
        let now = Date()
        let strangerRoot = try CertificateIssuer.selfSignedRoot(
            key: strangerKey,
            profile: CertificateProfile(
                commonName: "Evil Root", organization: "evil",
                usage: .certificateAuthority(pathLength: 1), notBefore: now.addingTimeInterval(-60),
                notAfter: now.addingTimeInterval(86400)))
        let evilKey = try PrivateKey.generate(.p256)
        let evil = try CertificateIssuer(key: strangerKey, certificate: strangerRoot).issue(
            CertificateProfile(
                commonName: "Release Signer 1", organization: "ota sample OEM",
                usage: .signer(codeSigning: true), notBefore: now.addingTimeInterval(-60),
                notAfter: now.addingTimeInterval(86400), role: .release), publicKey: try evilKey.publicKey)
        _ = stranger
        #expect(
            try code(
                try resigned({ _ in }, signer: SignerIdentity(key: evilKey, certificate: evil, chain: [strangerRoot])))
                == "certificate.untrusted")

        let signingCA = CertificateIssuer(
            key: try fixture.key("release/signing-ca.key"),
            certificate: try fixture.certificate("release/signing-ca.crt"))
        func caSigned(notBefore: Date, notAfter: Date) throws -> SignerIdentity {
            let key = try PrivateKey.generate(.p256)
            let certificate = try signingCA.issue(
                CertificateProfile(
                    commonName: "Signer", organization: "ota sample OEM", usage: .signer(codeSigning: true),
                    notBefore: notBefore, notAfter: notAfter, role: .release), publicKey: try key.publicKey)
            return SignerIdentity(
                key: key, certificate: certificate, chain: [try fixture.certificate("release/signing-ca.crt")])
        }
        #expect(
            try code(
                try resigned(
                    { _ in },
                    signer: caSigned(
                        notBefore: now.addingTimeInterval(-86400 * 10), notAfter: now.addingTimeInterval(-86400))))
                == "certificate.expired")
        #expect(
            try code(
                try resigned(
                    { _ in },
                    signer: caSigned(
                        notBefore: now.addingTimeInterval(86400), notAfter: now.addingTimeInterval(86400 * 10))))
                == "certificate.not-yet-valid")
        #expect(try code(try resigned({ _ in }, signer: fixture.signer("revoked-signer"))) == "certificate.revoked")
    }

    @Test func `a valid approval or repository certificate is not a release signer`() throws {
        for (role, name) in [
            ("approval", "approval-signer"), ("repository", "repository-signer"), ("compliance", "compliance-signer"),
        ] {
            #expect(
                try code(try resigned({ _ in }, signer: fixture.signer(name, role: role))) == "certificate.untrusted",
                "\(role)")
        }
    }

    @Test func `two signatures by the same key count once`() throws {
        let crafted = try withEnvelope { envelope in envelope.signatures.append(envelope.signatures[0]) }
        #expect(try code(crafted, threshold: 2) == "signature.duplicate-signer")
    }

    @Test func `an envelope algorithm that disagrees with the certificate key is refused`() throws {
        let crafted = try withEnvelope { envelope in
            envelope.signatures[0].algorithm = SignatureAlgorithm.ed25519.rawValue
        }
        #expect(try code(crafted) == "signature.algorithm-mismatch")
        let unknown = try withEnvelope { envelope in envelope.signatures[0].algorithm = "rsa-pss-sha256" }
        #expect(try code(unknown) == "signature.algorithm-unknown")
    }

    @Test func `a signature algorithm from the other suite is refused`() throws {
        // A trust store that trusts both suites' release roots; a gm manifest signed by an intl key.
        let gm = try BundleFixture(suite: .gm)
        let both = fixture.directory + "/both-trust"
        try FileManager.default.createDirectory(atPath: both + "/release", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: gm.trust + "/release/anchors", toPath: both + "/release/anchors")
        try FileManager.default.copyItem(atPath: gm.trust + "/release/crls", toPath: both + "/release/crls")
        try FileManager.default.copyItem(
            atPath: fixture.trust + "/release/anchors/root-ca.crt", toPath: both + "/release/anchors/intl-root.crt")
        for name in ["root-ca", "signing-ca"] {
            try FileManager.default.copyItem(
                atPath: "\(fixture.trust)/release/crls/\(name).crl", toPath: "\(both)/release/crls/intl-\(name).crl")
        }
        try gm.image("a.img", size: 20_000)
        var gmEntries = try BundleFixture.entries(of: try gm.build(manifest: try gm.manifest(images: [("a", "a.img")])))
        let envelope = SignatureEnvelope(
            payloadType: SignatureEnvelope.manifestType,
            signatures: [try fixture.signer().sign(gmEntries[0].data, type: SignatureEnvelope.manifestType)])
        gmEntries[1].data = try envelope.encoded()
        let path = try fixture.write(RawTar.archive(gmEntries))
        let policy = BundleTrustPolicy(trust: try TrustStore(directory: both))
        #expect(throws: OTAError(.signatureSuiteMismatch, "")) {
            try BundleVerification.verify(path: path, policy: policy)
        }
    }

    @Test func `signatures with trailing bytes or another encoding are refused`() throws {
        let trailing = try withEnvelope { envelope in
            let bytes = Data(base64Encoded: envelope.signatures[0].signature)! + Data([0])
            envelope.signatures[0].signature = bytes.base64EncodedString()
        }
        #expect(try code(trailing) == "signature.invalid")
        let wrapped = try withEnvelope { envelope in
            let text = envelope.signatures[0].signature
            envelope.signatures[0].signature = String(text.prefix(20)) + "\n" + String(text.dropFirst(20))
        }
        #expect(try code(wrapped) == "signature.encoding")
        let raw = try withEnvelope { envelope in  // ECDSA as raw r ‖ s (P1363) instead of DER
            envelope.signatures[0].signature = Data(repeating: 0x11, count: 64).base64EncodedString()
        }
        #expect(try code(raw) == "signature.invalid")
        let noSignatures = try withEnvelope { envelope in envelope.signatures = [] }
        #expect(try code(noSignatures) == "signature.missing")
    }

    @Test func `a payload swapped between two validly signed bundles is refused (mix-and-match)`() throws {
        try fixture.image("a.img", size: 50_000, seed: 9)  // a different alpha image
        try fixture.image("b.img", size: 70_000, seed: 2)
        let other = try BundleFixture.entries(
            of: try fixture.build(manifest: try fixture.manifest(images: [("alpha", "a.img"), ("beta", "b.img")])))
        var crafted = entries
        crafted[3] = other[3]
        #expect(try code(crafted) == "payload.chunk-hash" || (try code(crafted)) == "bundle.entry-size")
        // Manifest and signatures of bundle A with all payloads of bundle B.
        var mixed = entries
        mixed[3] = other[3]
        mixed[4] = other[4]
        mixed[2] = other[2]
        let result = try code(mixed)
        #expect(result == "payload.chunk-hash" || result == "bundle.entry-size")
    }

    @Test func `the chunk that fails is reported and nothing after it is handed on`() throws {
        var crafted = entries
        try #require(crafted[3].data.count > 16_400)
        crafted[3].data[16_400] ^= 0xff  // inside chunk 1 of 16 KiB chunks
        let reader = try BundleReader(path: try fixture.write(RawTar.archive(crafted)))
        _ = try reader.verifyHead(policy: try fixture.policy())
        let stream = try #require(try reader.nextPayload())
        var delivered = 0
        #expect(throws: OTAError(.payloadChunkHash, "")) {
            while try stream.withNextChunk({ _, _ in delivered += 1 }) {}
        }
        #expect(delivered == 1)
    }

    @Test func `a tampered recipients block is a clean error`() throws {
        let encrypted = try fixture.standardBundle(recipients: [try fixture.certificate("vehicle/fleet-recipient.crt")])
        var crafted = try BundleFixture.entries(of: encrypted)
        let key = try fixture.key("vehicle/fleet-recipient.key")
        var garbage = crafted
        garbage[2].data = Array("{\"recipients\": [ {\"keyId\": 1".utf8)
        #expect(fixture.verifyCode(try fixture.write(RawTar.archive(garbage))) == "recipients.malformed")
        var recipients = try Recipients.decode(crafted[2].data)
        var wrapped = Array(Data(base64Encoded: recipients.recipients[0].wrappedKey)!)
        wrapped[5] ^= 0x20
        recipients.recipients[0].wrappedKey = Data(wrapped).base64EncodedString()
        crafted[2].data = try recipients.encoded()
        let path = try fixture.write(RawTar.archive(crafted))
        #expect(fixture.verifyCode(path) == nil)  // recipients are outside the signature …
        // … and cannot decrypt when altered
        #expect(fixture.verifyCode(path, deep: true, keys: [key]) == "crypto.authentication")
    }

    @Test func `a missing or empty trust store refuses every bundle`() throws {
        let empty = fixture.directory + "/empty-trust"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(throws: OTAError(.trustEmpty, "")) {
            try BundleVerification.verify(
                path: bundle, policy: BundleTrustPolicy(trust: try TrustStore(directory: empty)))
        }
        #expect(throws: OTAError(.trustMissing, "")) { try TrustStore(directory: empty + "/nothing") }
    }

    @Test func `an expired manifest is refused`() throws {
        try fixture.image("a.img", size: 1000)
        // Built on 15 January 2026, before it expired (the builder refuses an already expired manifest).
        let path = try fixture.build(
            manifest: try fixture.manifest(images: [("a", "a.img")], expires: "2026-02-01T00:00:00Z"),
            now: Timestamp.parse("2026-01-15T00:00:00Z")!)
        #expect(fixture.verifyCode(path) == "manifest.expired")
    }

    @Test func `the bundle file replaced after the check does not change what is read`() throws {
        try fixture.image("a.img", size: 50_000, seed: 7)
        try fixture.image("b.img", size: 70_000, seed: 8)
        let replacement = try fixture.build(
            manifest: try fixture.manifest(images: [("alpha", "a.img"), ("beta", "b.img")]))
        let path = fixture.directory + "/swap.ota"
        try FileManager.default.copyItem(atPath: bundle, toPath: path)
        let reader = try BundleReader(path: path)
        let head = try reader.verifyHead(policy: try fixture.policy())
        // Swap by rename, then by a symbolic link, while the reader is between head and payloads.
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: replacement, toPath: path)
        var hashes: [String] = []
        while let stream = try reader.nextPayload() {
            let decoder = try PayloadDecoder(manifest: head.manifest, image: stream.image, contentKey: nil)
            while try stream.withNextChunk({ chunk, isLast throws(OTAError) in
                try decoder.consume(chunk, isLast: isLast) { _ in }
            }) {}
            try decoder.finish()
            hashes.append(stream.image.target.hash)
        }
        let original = try CanonicalJSON.decode(Manifest.self, from: entries[0].data, as: .manifestMalformed)
        #expect(hashes == original.images.map(\.target.hash))
    }

    @Test func `sizes past 4 GiB are carried in 64 bits by the tar framing`() throws {
        for size: UInt64 in [(1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, (8 << 30) - 1] {
            let header = RawTar.header(RawTar.Entry(name: "payloads/x", data: [], declaredSize: size))
            #expect(try TarFraming.size(of: header, at: 0) == size)
        }
    }
}
