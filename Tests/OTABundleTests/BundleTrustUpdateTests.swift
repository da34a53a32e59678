import Foundation
import OTACore
import OTATestSupport
import Testing

@testable import OTABuilder

/// A trust update carried inside a bundle (`trust-update.json`, bound by the manifest's
/// `trustUpdate` digest): verified against the reader's current roots by the rules of every trust
/// update before the bundle's signers are checked against the store it yields. Each attack on
/// it, in both suites.
@Suite("Trust updates inside bundles")
struct BundleTrustUpdateTests {
    /// A release hierarchy the vehicle does not trust yet: a root, a signing CA under it, a marked
    /// signer, and an empty CRL for each CA.
    struct Hierarchy {
        let root: TrustUpdateIssuer.RootSigner
        let signer: SignerIdentity
        let crls: [CertificateRevocationList]

        init(_ suite: Suite, name: String) throws {
            let now = Date()
            let type: KeyType = suite == .gm ? .sm2 : .p256
            func profile(_ cn: String, _ usage: CertificateProfile.Usage, role: TrustRole? = nil) -> CertificateProfile
            {
                CertificateProfile(
                    commonName: cn, organization: "ota tests", organizationalUnit: "release", usage: usage,
                    notBefore: now.addingTimeInterval(-3600), notAfter: now.addingTimeInterval(86400 * 365),
                    signerID: role == nil ? nil : "\(name)-signer", role: role)
            }
            let rootKey = try PrivateKey.generate(type)
            let rootCertificate = try CertificateIssuer.selfSignedRoot(
                key: rootKey, profile: profile("\(name) Root", .certificateAuthority(pathLength: 1)))
            root = try TrustUpdateIssuer.RootSigner(key: rootKey, certificate: rootCertificate)
            let caKey = try PrivateKey.generate(type)
            let caCertificate = try CertificateIssuer(key: rootKey, certificate: rootCertificate)
                .issue(
                    profile("\(name) Signing CA", .certificateAuthority(pathLength: 0)), publicKey: try caKey.publicKey)
            let ca = CertificateIssuer(key: caKey, certificate: caCertificate)
            let signerKey = try PrivateKey.generate(type)
            let signerCertificate = try ca.issue(
                profile("\(name) Signer", .signer(codeSigning: true), role: .release),
                publicKey: try signerKey.publicKey)
            signer = SignerIdentity(key: signerKey, certificate: signerCertificate, chain: [caCertificate])
            crls = [
                try CertificateIssuer(key: rootKey, certificate: rootCertificate).revocationList(
                    revoking: [], number: 1, thisUpdate: now.addingTimeInterval(-60),
                    nextUpdate: now.addingTimeInterval(86400 * 30)),
                try ca.revocationList(
                    revoking: [], number: 1, thisUpdate: now.addingTimeInterval(-60),
                    nextUpdate: now.addingTimeInterval(86400 * 30)),
            ]
        }
    }

    func currentRoot(_ fixture: BundleFixture, role: String = "release") throws -> TrustUpdateIssuer.RootSigner {
        try TrustUpdateIssuer.RootSigner(
            key: try fixture.key("\(role)/root-ca.key"), certificate: try fixture.certificate("\(role)/root-ca.crt"))
    }

    /// A signed update adding `hierarchy` to the release role, signed by `signers` (default: the
    /// current release root and the new root).
    func update(
        _ fixture: BundleFixture, adding hierarchy: Hierarchy, version: UInt64 = 1,
        signers: [TrustUpdateIssuer.RootSigner]? = nil
    ) throws -> [UInt8] {
        let path = "\(fixture.directory)/update-\(UUID().uuidString).json"
        _ = try TrustUpdateIssuer.issue(
            version: version,
            roles: [
                .init(
                    role: .release, addAnchors: [hierarchy.root.certificate], crls: hierarchy.crls,
                    crlIssuers: hierarchy.signer.chain)
            ],
            signers: try signers ?? [currentRoot(fixture), hierarchy.root], expires: Date().addingTimeInterval(86400),
            outputPath: path)
        return try FileSystem.read(path, limit: TrustUpdate.maximumSize)
    }

    /// A bundle signed by `signer`, carrying `trustUpdate` (bound by its manifest) when given.
    func bundle(_ fixture: BundleFixture, signer: SignerIdentity, trustUpdate: [UInt8]?) throws -> String {
        try fixture.image("a.img", size: 20_000)
        let path = "\(fixture.directory)/bundle-\(UUID().uuidString).ota"
        var request = BundleBuilder.Request(
            manifestPath: try fixture.manifest(images: [("alpha", "a.img")]),
            imagesDirectory: "\(fixture.directory)/images",
            signer: signer, outputPath: path, chunkSize: 16 * 1024, xzPreset: 1, threads: 1)
        request.trustUpdate = trustUpdate
        _ = try BundleBuilder.build(request)
        return path
    }

    /// The bundle with its `trust-update.json` replaced (or added after `recipients.json`, or
    /// removed with nil): what anyone on the way could do to the unsigned container.
    func replacingTrustUpdate(_ fixture: BundleFixture, _ path: String, with bytes: [UInt8]?) throws -> String {
        var entries = try BundleFixture.entries(of: path).filter { $0.name != BundleLayout.trustUpdateEntry }
        if let bytes {
            let at = entries.firstIndex { $0.name == BundleLayout.recipientsEntry }! + 1
            entries.insert(RawTar.Entry(name: BundleLayout.trustUpdateEntry, data: bytes), at: at)
        }
        return try fixture.write(RawTar.archive(entries))
    }

    @Test(arguments: Suite.allCases)
    func `a bundle signed under a new root verifies only with the trust update its manifest binds`(suite: Suite) throws
    {
        let fixture = try BundleFixture(suite: suite)
        let hierarchy = try Hierarchy(suite, name: "New")
        let carried = try bundle(fixture, signer: hierarchy.signer, trustUpdate: try update(fixture, adding: hierarchy))
        #expect(fixture.verifyCode(carried) == nil)
        let head = try BundleReader(path: carried).verifyHead(policy: try fixture.policy())
        #expect(head.trustUpdate?.change.toVersion == 1 && head.trustUpdate?.change.anchorsAdded.count == 1)
        #expect(head.manifest.trustUpdate?.version == 1)
        // Nothing was written: the policy's store is as it was.
        #expect(try TrustStore(directory: fixture.trust).anchors(for: .release).count == 1)
        // The same signer without the update is not trusted.
        #expect(
            fixture.verifyCode(try bundle(fixture, signer: hierarchy.signer, trustUpdate: nil))
                == "certificate.untrusted")
        // A bundle by the current signers may carry an update too.
        #expect(
            fixture.verifyCode(
                try bundle(fixture, signer: try fixture.signer(), trustUpdate: try update(fixture, adding: hierarchy)))
                == nil)
    }

    @Test(arguments: Suite.allCases)
    func `a trust update not signed by a threshold of the current roots refuses the bundle`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let hierarchy = try Hierarchy(suite, name: "New")
        // Only the new root; the approval root (another role's); the new root twice.
        for signers in [
            [hierarchy.root], [try currentRoot(fixture, role: "approval"), hierarchy.root],
            [hierarchy.root, hierarchy.root],
        ] {
            let path = try bundle(
                fixture, signer: hierarchy.signer, trustUpdate: try update(fixture, adding: hierarchy, signers: signers)
            )
            #expect(fixture.verifyCode(path) == "trust.update-threshold")
        }
    }

    @Test(arguments: Suite.allCases)
    func `a bundle whose trust update would make its own forged signer valid is refused`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        // The attacker's own hierarchy, and an update adding it, signed by the attacker's root
        // alone; the bundle's release signature is by the attacker's signer.
        let attacker = try Hierarchy(suite, name: "Forged")
        let forged = try update(fixture, adding: attacker, signers: [attacker.root])
        let path = try bundle(fixture, signer: attacker.signer, trustUpdate: forged)
        #expect(fixture.verifyCode(path) == "trust.update-threshold")
        // Signed with the current root's certificate but the attacker's key: the signature fails,
        // so it counts for nobody.
        let impostor = try TrustUpdateIssuer.RootSigner(key: attacker.root.key, certificate: attacker.root.certificate)
        var envelope = try SignedTrustUpdate.decode(try update(fixture, adding: attacker, signers: [impostor]))
        envelope.signatures[0].certificates = [
            Data(try fixture.certificate("release/root-ca.crt").der).base64EncodedString()
        ]
        let relabelled = try replacingTrustUpdate(fixture, path, with: try envelope.encoded())
        #expect(fixture.verifyCode(relabelled) == "trust.update-threshold")
    }

    @Test(arguments: Suite.allCases)
    func `a rolled-back or replayed trust update refuses the bundle`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let hierarchy = try Hierarchy(suite, name: "New")
        // A store already at version 3.
        let store = "\(fixture.directory)/trust-v3"
        var contents = try TrustStoreContents(directory: fixture.trust)
        contents.files[TrustMetadata.fileName] = try CanonicalJSON.encode(TrustMetadata(version: 3))
        try contents.stage(beside: store)
        try TrustStoreContents.swap(store)
        let policy = BundleTrustPolicy(trust: try TrustStore(directory: store), time: SystemTime())
        for version: UInt64 in [2, 3] {
            let path = try bundle(
                fixture, signer: hierarchy.signer, trustUpdate: try update(fixture, adding: hierarchy, version: version)
            )
            let reasons = try BundleReader(path: path).verify(policy: policy).reasons
            #expect(reasons.first?.code == .trustUpdateVersion, "version \(version)")
        }
        let newer = try bundle(
            fixture, signer: hierarchy.signer, trustUpdate: try update(fixture, adding: hierarchy, version: 4))
        #expect(try BundleReader(path: newer).verify(policy: policy).reasons.isEmpty)
    }

    @Test(arguments: Suite.allCases)
    func `a trust update swapped, added or dropped after signing refuses the bundle`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let first = try Hierarchy(suite, name: "First"), second = try Hierarchy(suite, name: "Second")
        let signed = try bundle(fixture, signer: try fixture.signer(), trustUpdate: try update(fixture, adding: first))
        // Swapped for another update the current root really signed: it verifies, but it is not
        // the one the manifest names.
        let swapped = try replacingTrustUpdate(fixture, signed, with: try update(fixture, adding: second))
        #expect(fixture.verifyCode(swapped) == "bundle.trust-update-mismatch")
        // Swapped for one nobody authorised: refused before the signers are even looked at.
        let forged = try replacingTrustUpdate(
            fixture, signed, with: try update(fixture, adding: second, signers: [second.root]))
        #expect(fixture.verifyCode(forged) == "trust.update-threshold")
        // Dropped: the manifest names an update the bundle lacks (a signer that needs it is not even trusted).
        #expect(fixture.verifyCode(try replacingTrustUpdate(fixture, signed, with: nil)) == "bundle.missing-entry")
        let needsIt = try bundle(fixture, signer: first.signer, trustUpdate: try update(fixture, adding: first))
        #expect(fixture.verifyCode(try replacingTrustUpdate(fixture, needsIt, with: nil)) == "certificate.untrusted")
        // Added to a bundle whose manifest names none.
        let plain = try bundle(fixture, signer: try fixture.signer(), trustUpdate: nil)
        #expect(
            fixture.verifyCode(try replacingTrustUpdate(fixture, plain, with: try update(fixture, adding: first)))
                == "bundle.trust-update-mismatch")
        // Nobody co-signs a bundle whose trust update is not the signed one.
        let cosigner = try fixture.signer("signer-2")
        let cosign = failure { () throws(OTAError) in _ = try BundleRewriter.cosign(path: swapped, signer: cosigner) }
        #expect(cosign?.code == .bundleTrustUpdateMismatch)
    }

    @Test(arguments: Suite.allCases)
    func `a trust update entry is bounded, single and in its place`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let hierarchy = try Hierarchy(suite, name: "New")
        let signed = try bundle(fixture, signer: hierarchy.signer, trustUpdate: try update(fixture, adding: hierarchy))
        var entries = try BundleFixture.entries(of: signed)
        #expect(
            entries.map(\.name).prefix(4) == [
                "manifest.json", "signatures.json", "recipients.json", "trust-update.json",
            ])
        let update = entries[3]
        // Twice.
        var twice = entries
        twice.insert(update, at: 4)
        #expect(fixture.verifyCode(try fixture.write(RawTar.archive(twice))) == "bundle.duplicate-entry")
        // Before recipients.json.
        var early = entries
        early.swapAt(2, 3)
        #expect(fixture.verifyCode(try fixture.write(RawTar.archive(early))) == "bundle.unexpected-entry")
        // Over the 1 MiB bound.
        entries[3] = RawTar.Entry(
            name: BundleLayout.trustUpdateEntry, data: [UInt8](repeating: 0x20, count: TrustUpdate.maximumSize + 1))
        #expect(fixture.verifyCode(try fixture.write(RawTar.archive(entries))) == "bundle.entry-too-large")
        // Not a trust update at all (CRLs travel on their own, not in this entry).
        entries[3] = RawTar.Entry(name: BundleLayout.trustUpdateEntry, data: Array(hierarchy.crls[0].pem.utf8))
        #expect(fixture.verifyCode(try fixture.write(RawTar.archive(entries))) == "trust.update-malformed")
    }

    @Test func `the builder refuses what no vehicle would apply`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let hierarchy = try Hierarchy(.intl, name: "New")
        #expect(throws: OTAError(.trustUpdateMalformed, "")) {
            _ = try bundle(fixture, signer: try fixture.signer(), trustUpdate: Array(hierarchy.crls[0].pem.utf8))
        }
        var unsigned = try SignedTrustUpdate.decode(try update(fixture, adding: hierarchy))
        unsigned.signatures = []
        #expect(throws: OTAError(.trustUpdateThreshold, "")) {
            _ = try bundle(fixture, signer: try fixture.signer(), trustUpdate: try unsigned.encoded())
        }
    }

    func failure(_ body: () throws(OTAError) -> Void) -> OTAError? {
        do throws(OTAError) {
            try body()
            return nil
        } catch {
            return error
        }
    }
}
