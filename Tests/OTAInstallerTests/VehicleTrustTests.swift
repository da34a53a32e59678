import Foundation
import OTABuilder
import OTACore
import OTAInstaller
import OTARecorder
import Testing

/// The vehicle's trust store over its lifetime: signed updates and CRL refreshes applied only
/// when authorised, journalled (a power loss leaves the old store or the new one), recorded, and
/// a store changed by hand is refused.
@Suite("Vehicle trust updates")
struct VehicleTrustTests {
    /// A new release hierarchy: root, signing CA, a marked signer, and CRLs for both CAs.
    struct NewHierarchy {
        let root: TrustUpdateIssuer.RootSigner
        let ca: CertificateIssuer
        let signer: SignerIdentity
        let crls: [CertificateRevocationList]

        init(name: String = "Release Root CA 2") throws {
            let now = Date()
            func profile(
                _ cn: String, _ usage: CertificateProfile.Usage, role: TrustRole? = nil, signerID: String? = nil
            ) -> CertificateProfile {
                CertificateProfile(
                    commonName: cn, organization: "ota sample OEM", organizationalUnit: "release", usage: usage,
                    notBefore: now.addingTimeInterval(-3600), notAfter: now.addingTimeInterval(86400 * 365),
                    signerID: signerID, role: role)
            }
            let rootKey = try PrivateKey.generate(.p256)
            let rootCertificate = try CertificateIssuer.selfSignedRoot(
                key: rootKey, profile: profile(name, .certificateAuthority(pathLength: 1)))
            root = try TrustUpdateIssuer.RootSigner(key: rootKey, certificate: rootCertificate)
            let caKey = try PrivateKey.generate(.p256)
            let caCertificate = try CertificateIssuer(key: rootKey, certificate: rootCertificate)
                .issue(
                    profile("Release Signing CA 2", .certificateAuthority(pathLength: 0)),
                    publicKey: try caKey.publicKey)
            ca = CertificateIssuer(key: caKey, certificate: caCertificate)
            let signerKey = try PrivateKey.generate(.p256)
            let signerCertificate = try ca.issue(
                profile("Release Signer 9", .signer(codeSigning: true), role: .release, signerID: "release-engineer-9"),
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

    func currentRoot(_ fixture: InstallerFixture, role: String = "release") throws -> TrustUpdateIssuer.RootSigner {
        try TrustUpdateIssuer.RootSigner(
            key: try PrivateKey(contentsOf: "\(fixture.keys)/\(role)/root-ca.key"),
            certificate: try Certificate.load(contentsOf: "\(fixture.keys)/\(role)/root-ca.crt")[0])
    }

    /// A signed update adding `hierarchy`'s root (and its CRLs) to the release role.
    func addingUpdate(
        _ fixture: InstallerFixture, _ hierarchy: NewHierarchy, version: UInt64 = 1,
        signers: [TrustUpdateIssuer.RootSigner]? = nil,
        retireCurrent: Bool = false
    ) throws -> [UInt8] {
        let path = "\(fixture.directory)/trust-update-\(UUID().uuidString).json"
        let current = try currentRoot(fixture)
        _ = try TrustUpdateIssuer.issue(
            version: version,
            roles: [
                .init(
                    role: .release, addAnchors: [hierarchy.root.certificate],
                    retireAnchors: retireCurrent ? [current.certificate] : [], crls: hierarchy.crls,
                    crlIssuers: hierarchy.signer.chain)
            ],
            signers: signers ?? [current, hierarchy.root], expires: Date().addingTimeInterval(86400), outputPath: path)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func bundle(_ fixture: InstallerFixture, signedBy signer: SignerIdentity, trustUpdate: [UInt8]? = nil) throws
        -> String
    {
        let path = "\(fixture.directory)/bundle-\(UUID().uuidString).ota"
        var request = BundleBuilder.Request(
            manifestPath: try fixture.manifest(), imagesDirectory: fixture.images, signer: signer, recipients: [],
            outputPath: path, chunkSize: 4096, xzPreset: 1, threads: 1)
        request.trustUpdate = trustUpdate
        _ = try BundleBuilder.build(request)
        return path
    }

    func install(_ vehicle: String, _ bundle: String) -> OTAError? {
        failure { () throws(OTAError) in
            _ = try Vehicle(directory: vehicle).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
    }

    @Test func `a trust update signed by the release root adds a hierarchy, is recorded, and survives reopening`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let hierarchy = try NewHierarchy()
        let bundle = try bundle(fixture, signedBy: hierarchy.signer)
        #expect(install(vehicle, bundle)?.code == "certificate.untrusted")
        let change = try Vehicle(directory: vehicle).applyTrust(try addingUpdate(fixture, hierarchy), source: "test")
        #expect(change.toVersion == 1 && change.anchorsAdded.count == 1 && change.crlsApplied.count == 2)
        #expect(try Vehicle(directory: vehicle).trustVersion == 1)
        let recorded = try InstallerFixture.records(vehicle).last { $0.step == .trustUpdate }
        #expect(
            recorded?.outcome == .success && recorded?.trust?.fromVersion == 0 && recorded?.trust?.toVersion == 1
                && recorded?.trust?.changed == true)
        #expect(recorded?.trust?.anchorsAdded.count == 1 && recorded?.trust?.crlsApplied.count == 2)
        #expect(install(vehicle, bundle) == nil)
    }

    @Test func `a vehicle refuses a trust update below threshold, by a retired root, or replayed, and records why`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let before = try TrustStoreContents(directory: "\(vehicle)/trust")
        let first = try NewHierarchy(name: "Root A"), second = try NewHierarchy(name: "Root B")
        // Only the new root signed: none of the current release roots.
        let unauthorised = try addingUpdate(fixture, first, signers: [first.root])
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).applyTrust(unauthorised, source: "test") }?
                .code == "trust.update-threshold")
        #expect(try TrustStoreContents(directory: "\(vehicle)/trust") == before)
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "trust.update-threshold")
        // The approval root cannot change the release role.
        let otherRole = try addingUpdate(
            fixture, first, signers: [try currentRoot(fixture, role: "approval"), first.root])
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).applyTrust(otherRole, source: "test") }?
                .code == "trust.update-threshold")
        // Rotate: version 1 retires the sample root; then the retired root signs version 2.
        try Vehicle(directory: vehicle).applyTrust(
            try addingUpdate(fixture, first, retireCurrent: true), source: "test")
        let byRetired = try addingUpdate(fixture, second, version: 2, signers: [try currentRoot(fixture), second.root])
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).applyTrust(byRetired, source: "test") }?
                .code == "trust.update-threshold")
        // Version 1 again (a replay), or an older version.
        let replay = try addingUpdate(fixture, second, version: 1, signers: [first.root, second.root])
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).applyTrust(replay, source: "test") }?.code
                == "trust.update-version")
        #expect(try Vehicle(directory: vehicle).trustVersion == 1)
        let next = try addingUpdate(fixture, second, version: 2, signers: [first.root, second.root])
        #expect(try Vehicle(directory: vehicle).applyTrust(next, source: "test").toVersion == 2)
    }

    @Test func `a trust store changed by hand is refused when the vehicle opens`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let hierarchy = try NewHierarchy()
        try Data(hierarchy.root.certificate.pem.utf8).write(
            to: URL(fileURLWithPath: "\(vehicle)/trust/release/anchors/planted.crt"))
        #expect(failure { () throws(OTAError) in _ = try Vehicle(directory: vehicle) }?.code == "trust.tampered")
        try FileManager.default.removeItem(atPath: "\(vehicle)/trust/release/anchors/planted.crt")
        #expect(failure { () throws(OTAError) in _ = try Vehicle(directory: vehicle) } == nil)
        try FileManager.default.removeItem(atPath: "\(vehicle)/trust/release/crls/signing-ca.crl")
        #expect(failure { () throws(OTAError) in _ = try Vehicle(directory: vehicle) }?.code == "trust.tampered")
    }

    @Test func `a power loss at any step of a trust update leaves the old store or the new one`() throws {
        let fixture = try InstallerFixture()
        let hierarchy = try NewHierarchy()
        let update = "\(fixture.directory)/update.json"
        try Data(try addingUpdate(fixture, hierarchy)).write(to: URL(fileURLWithPath: update))
        let steps = ["trust.staged", "trust.pending", "trust.old-parked", "trust.swapped", "trust.committed"]
        for step in steps {
            let vehicle = try fixture.vehicle()
            let old = try TrustStoreContents(directory: "\(vehicle)/trust").digest()
            #expect(
                try CrashInjectionTests.runKilled(["vehicle", "trust", vehicle, update], crashAt: "step:\(step)"),
                "\(step): not killed")
            // Reopening settles it: the old store (version 0) or the new one (version 1), never a mix.
            let reopened = try Vehicle(directory: vehicle)
            let version = try reopened.trustVersion
            let digest = try TrustStoreContents(directory: "\(vehicle)/trust").digest()
            let anchors = try TrustStore(directory: "\(vehicle)/trust").anchors(for: .release)
            if version == 0 {
                #expect(digest == old, "\(step): version 0 with another store")
                #expect(anchors.count == 1)
            } else {
                #expect(version == 1 && anchors.count == 2, "\(step): version \(version), \(anchors.count) anchors")
            }
            #expect(
                !FileManager.default.fileExists(atPath: "\(vehicle)/trust.next")
                    && !FileManager.default.fileExists(atPath: "\(vehicle)/trust.old"))
            // Applying again finishes the job, or says it is done.
            let again = failure { () throws(OTAError) in
                try reopened.applyTrust(try FileSystem.read(update), source: "retry")
            }
            #expect(again == nil || again?.code == "trust.update-version", "\(step): \(again?.description ?? "")")
            #expect(try reopened.trustVersion == 1)
        }
    }

    @Test func `stale CRLs refuse an install with crl.stale until newer ones are applied`() throws {
        let fixture = try InstallerFixture()
        // A trust store whose signing-CA CRL is past its next update.
        let trust = "\(fixture.directory)/stale-trust"
        try FileManager.default.copyItem(atPath: "\(fixture.keys)/trust", toPath: trust)
        let signingCA = CertificateIssuer(
            key: try PrivateKey(contentsOf: "\(fixture.keys)/release/signing-ca.key"),
            certificate: try Certificate.load(contentsOf: "\(fixture.keys)/release/signing-ca.crt")[0])
        let now = Date()
        let stale = try signingCA.revocationList(
            revoking: [], number: 5, thisUpdate: now.addingTimeInterval(-86400 * 2),
            nextUpdate: now.addingTimeInterval(-86400))
        try Data(stale.pem.utf8).write(to: URL(fileURLWithPath: "\(trust)/release/crls/signing-ca.crl"))
        let path = "\(fixture.directory)/vehicle-stale"
        try Vehicle.create(
            directory: path, config: fixture.config(), baseDirectory: fixture.images, trust: trust,
            decryptionKey: "\(fixture.keys)/vehicle/device.key")
        #expect(try Vehicle(directory: path).staleRevocationLists().count == 1)
        let bundle = try fixture.standardBundle()
        let refused = install(path, bundle)
        #expect(refused?.code == "crl.stale")
        #expect(refused?.message.contains("Refresh the CRLs") == true)
        // The refresh: a newer CRL with its issuer's certificate (as the repository serves it).
        let fresh = try signingCA.revocationList(
            revoking: [], number: 6, thisUpdate: now.addingTimeInterval(-60),
            nextUpdate: now.addingTimeInterval(86400 * 7))
        let change = try Vehicle(directory: path).applyTrust(
            Array((fresh.pem + signingCA.certificate!.pem).utf8), source: "repository")
        #expect(change.kind == .crls && change.crlsApplied.count == 1)
        #expect(try Vehicle(directory: path).staleRevocationLists().isEmpty)
        #expect(install(path, bundle) == nil)
        // The stale one again is not newer: nothing changes.
        #expect(
            try Vehicle(directory: path).applyTrust(Array((stale.pem + signingCA.certificate!.pem).utf8), source: "old")
                .changesStore == false)
    }

    // MARK: Trust updates inside bundles

    @Test func `an install commits the bundle's trust update, journalled and recorded, before the rest of the policy`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let hierarchy = try NewHierarchy()
        let bundle = try bundle(fixture, signedBy: hierarchy.signer, trustUpdate: try addingUpdate(fixture, hierarchy))
        // A check evaluates against a copy: it accepts, and changes nothing.
        let decision = try Vehicle(directory: vehicle).check(bundle: bundle)
        #expect(decision.refusal == nil)
        #expect(try Vehicle(directory: vehicle).trustVersion == 0)
        #expect(install(vehicle, bundle) == nil)
        #expect(try Vehicle(directory: vehicle).trustVersion == 1)
        #expect(try TrustStore(directory: "\(vehicle)/trust").anchors(for: .release).count == 2)
        let records = try InstallerFixture.records(vehicle)
        let applied = try #require(records.last { $0.step == .trustUpdate })
        #expect(
            applied.outcome == .success && applied.trust?.source == "bundle update-1" && applied.trust?.toVersion == 1)
        // Recorded after the signatures were checked against the updated copy, before the later policy steps.
        let steps = records.map(\.step)
        let at = try #require(steps.lastIndex(of: .trustUpdate))
        #expect(steps[..<at].last == .verify && steps[(at + 1)...].contains(.antiRollback))
    }

    @Test func `a bundle whose trust update fails is refused with its code and nothing changes`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let before = try TrustStoreContents(directory: "\(vehicle)/trust")
        let state = try InstallerFixture.rawState(vehicle)
        let attacker = try NewHierarchy(name: "Forged Root")
        // The attacker's update adds the attacker's root, signed by that root alone.
        let forged = try bundle(
            fixture, signedBy: attacker.signer,
            trustUpdate: try addingUpdate(fixture, attacker, signers: [attacker.root]))
        #expect(install(vehicle, forged)?.code == "trust.update-threshold")
        #expect(try TrustStoreContents(directory: "\(vehicle)/trust") == before)
        #expect(try Vehicle(directory: vehicle).trustVersion == 0)
        #expect(try InstallerFixture.rawState(vehicle).slots == state.slots)
        let last = try InstallerFixture.records(vehicle).last
        #expect(last?.step == .result && last?.errorCode == "trust.update-threshold")
        // A rolled-back update: the vehicle is at version 2, the bundle carries version 1.
        let first = try NewHierarchy(name: "Root A"), second = try NewHierarchy(name: "Root B")
        try Vehicle(directory: vehicle).applyTrust(try addingUpdate(fixture, first, version: 2), source: "test")
        let atTwo = try TrustStoreContents(directory: "\(vehicle)/trust")
        let old = try bundle(
            fixture, signedBy: second.signer, trustUpdate: try addingUpdate(fixture, second, version: 1))
        #expect(install(vehicle, old)?.code == "trust.update-version")
        #expect(try TrustStoreContents(directory: "\(vehicle)/trust") == atTwo)
    }

    @Test func `a trust update swapped after signing changes nothing on the vehicle`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let before = try TrustStoreContents(directory: "\(vehicle)/trust")
        let first = try NewHierarchy(name: "Root A"), second = try NewHierarchy(name: "Root B")
        let signed = try bundle(fixture, signedBy: try fixture.signer(), trustUpdate: try addingUpdate(fixture, first))
        let other = try bundle(fixture, signedBy: second.signer, trustUpdate: try addingUpdate(fixture, second))
        // The tar entry of the other (validly root-signed) update, put in place of this one.
        let swapped = "\(fixture.directory)/swapped.ota"
        try Data(try Self.swapEntry(BundleLayout.trustUpdateEntry, of: signed, from: other)).write(
            to: URL(fileURLWithPath: swapped))
        #expect(install(vehicle, swapped)?.code == "bundle.trust-update-mismatch")
        #expect(try TrustStoreContents(directory: "\(vehicle)/trust") == before)
    }

    @Test func `the same trust update from the repository and then in a bundle is applied once`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let hierarchy = try NewHierarchy()
        let update = try addingUpdate(fixture, hierarchy)
        #expect(
            try Vehicle(directory: vehicle).applyTrust(update, source: "repository trust/update-1.json").toVersion == 1)
        let after = try TrustStoreContents(directory: "\(vehicle)/trust")
        #expect(install(vehicle, try bundle(fixture, signedBy: hierarchy.signer, trustUpdate: update)) == nil)
        #expect(try TrustStoreContents(directory: "\(vehicle)/trust") == after)
        // Another update claiming the same version is not the one applied: refused.
        let rival = try addingUpdate(fixture, try NewHierarchy(name: "Rival Root"), version: 1)
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).applyTrust(rival, source: "test") }?.code
                == "trust.update-version")
    }

    /// `bundle`'s bytes with entry `name` replaced by the same entry of `donor` (both plain ustar
    /// as the builder writes them: 512-byte header, data padded to 512).
    static func swapEntry(_ name: String, of bundle: String, from donor: String) throws -> [UInt8] {
        func split(_ bytes: [UInt8]) -> [(name: String, block: [UInt8])] {
            var out: [(String, [UInt8])] = []
            var at = 0
            while at + 512 <= bytes.count, bytes[at] != 0 {
                let header = Array(bytes[at..<(at + 512)])
                let entryName = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
                let size = Int(String(decoding: header[124..<135], as: UTF8.self), radix: 8)!
                let length = 512 + (size + 511) / 512 * 512
                out.append((entryName, Array(bytes[at..<(at + length)])))
                at += length
            }
            out.append(("", Array(bytes[at...])))
            return out
        }
        let target = split(Array(try Data(contentsOf: URL(fileURLWithPath: bundle))))
        let replacement = split(Array(try Data(contentsOf: URL(fileURLWithPath: donor)))).first { $0.name == name }!
            .block
        return target.flatMap { $0.name == name ? replacement : $0.block }
    }
}
