import Foundation
import OTACore
import OTATestSupport
import Testing

/// Trust updates over the air: applied only when a threshold of each changed role's current
/// root keys (and every new anchor's key) signed a version above the store's; CRLs on their own
/// only when newer and signed by a CA of the store.
@Suite("Trust updates")
struct TrustUpdateTests {
    /// A self-signed root of `suite`'s key type.
    static func root(_ suite: Suite, _ name: String, now: Date = Date()) throws -> TestPKI.Issued {
        let key = try PrivateKey.generate(suite == .gm ? .sm2 : .p256)
        let certificate = try CertificateIssuer.selfSignedRoot(
            key: key, profile: TestPKI.profile(name, .certificateAuthority(pathLength: 1), now: now))
        return TestPKI.Issued(key: key, certificate: certificate)
    }

    /// A store trusting `anchors` for `role`, with `thresholds` and `crls`.
    static func store(
        _ anchors: [Certificate], role: TrustRole = .release, crls: [CertificateRevocationList] = [],
        thresholds: [String: Int] = [:],
        version: UInt64 = 0
    ) throws -> TrustStoreContents {
        var contents = TrustStoreContents()
        for (index, anchor) in anchors.enumerated() {
            contents.files["\(role.rawValue)/anchors/root-\(index).crt"] = Array(anchor.pem.utf8)
        }
        for (index, crl) in crls.enumerated() {
            contents.files["\(role.rawValue)/crls/\(index).crl"] = Array(crl.pem.utf8)
        }
        if version > 0 || !thresholds.isEmpty {
            contents.files[TrustMetadata.fileName] = try CanonicalJSON.encode(
                TrustMetadata(version: version, thresholds: thresholds))
        }
        return contents
    }

    /// A signed update of `role` by `signers`.
    static func update(
        version: UInt64, role: TrustRole = .release, add: [Certificate] = [], retire: [Certificate] = [],
        crls: [CertificateRevocationList] = [], crlIssuers: [Certificate] = [],
        threshold: Int? = nil, expires: Date = Date().addingTimeInterval(86400 * 30), signers: [TestPKI.Issued],
        tamper: Bool = false
    ) throws -> [UInt8] {
        let change = TrustUpdate.RoleChange(
            addAnchors: add.map { Data($0.der).base64EncodedString() }, retireAnchors: retire.map(\.fingerprint),
            crls: crls.map { Data($0.der).base64EncodedString() },
            crlIssuers: crlIssuers.isEmpty ? nil : crlIssuers.map { Data($0.der).base64EncodedString() },
            threshold: threshold)
        var payload = try CanonicalJSON.encode(
            TrustUpdate(version: version, issued: Date(), expires: expires, roles: [role: change]))
        let signatures = try signers.map { signer in
            try SignatureEnvelope.sign(
                body: payload, type: TrustUpdate.payloadType, key: signer.key, certificate: signer.certificate,
                chain: [])
        }
        // Still canonical JSON, another version than the one signed.
        if tamper {
            payload = Array(
                String(decoding: payload, as: UTF8.self).replacingOccurrences(
                    of: "\"version\":\(version)", with: "\"version\":\(version + 1)"
                ).utf8)
        }
        return try SignedTrustUpdate(payload: payload, signatures: signatures).encoded()
    }

    func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as OTAError {
            return error.code.rawValue
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: Suite.allCases)
    func `an update signed by the current root and the new one rotates the root`(suite: Suite) throws {
        let old = try Self.root(suite, "Old Root"), new = try Self.root(suite, "New Root")
        let store = try Self.store([old.certificate])
        let bytes = try Self.update(version: 1, add: [new.certificate], retire: [old.certificate], signers: [old, new])
        let (next, change) = try TrustUpdater.apply(bytes, to: store, at: Date())
        #expect(change.toVersion == 1 && change.anchorsAdded.count == 1 && change.anchorsRetired.count == 1)
        #expect(try next.metadata.version == 1)
        let anchors = next.files.keys.filter { $0.hasPrefix("release/anchors/") }
        #expect(anchors.count == 1)
        #expect(try Certificate.load(next.files[anchors[0]]!, source: "anchor")[0] == new.certificate)
        // The retired root cannot sign the next update.
        let byRetired = try Self.update(version: 2, add: [try Self.root(suite, "Third").certificate], signers: [old])
        #expect(code { _ = try TrustUpdater.apply(byRetired, to: next, at: Date()) } == "trust.update-threshold")
    }

    @Test(arguments: Suite.allCases)
    func `an update below the role's threshold is refused`(suite: Suite) throws {
        let first = try Self.root(suite, "Root 1"), second = try Self.root(suite, "Root 2"),
            added = try Self.root(suite, "Root 3")
        let store = try Self.store([first.certificate, second.certificate], thresholds: ["release": 2])
        let one = try Self.update(version: 1, add: [added.certificate], signers: [first, added])
        #expect(code { _ = try TrustUpdater.apply(one, to: store, at: Date()) } == "trust.update-threshold")
        // The same key signing twice is still one key.
        let twice = try Self.update(version: 1, add: [added.certificate], signers: [first, first, added])
        #expect(code { _ = try TrustUpdater.apply(twice, to: store, at: Date()) } == "trust.update-threshold")
        let both = try Self.update(version: 1, add: [added.certificate], signers: [first, second, added])
        #expect(code { _ = try TrustUpdater.apply(both, to: store, at: Date()) } == nil)
    }

    @Test(arguments: Suite.allCases)
    func `a replayed or older update is refused`(suite: Suite) throws {
        let root = try Self.root(suite, "Root"), new = try Self.root(suite, "New")
        let store = try Self.store([root.certificate], version: 3)
        for version: UInt64 in [1, 3] {
            let bytes = try Self.update(version: version, add: [new.certificate], signers: [root, new])
            #expect(
                code { _ = try TrustUpdater.apply(bytes, to: store, at: Date()) } == "trust.update-version",
                "version \(version)")
        }
        let fresh = try Self.update(version: 4, add: [new.certificate], signers: [root, new])
        let (next, _) = try TrustUpdater.apply(fresh, to: store, at: Date())
        // The very update again (by the repository and in a bundle): already applied, nothing changes.
        let (again, change) = try TrustUpdater.apply(fresh, to: next, at: Date())
        #expect(again == next && !change.changesStore)
        // Another update claiming the store's version is a replay or a rival: refused.
        let rivalRoot = try Self.root(suite, "Rival")
        let rival = try Self.update(version: 4, add: [rivalRoot.certificate], signers: [root, rivalRoot])
        #expect(code { _ = try TrustUpdater.apply(rival, to: next, at: Date()) } == "trust.update-version")
    }

    /// The version is the whole store's: one role's roots must not be able to push it where no
    /// other role's update can follow (the largest number, or near it).
    @Test func `an update cannot jump the store's version beyond the next thousand`() throws {
        let root = try Self.root(.intl, "Root"), other = try Self.root(.intl, "Approval Root")
        var store = try Self.store([root.certificate], version: 5)
        store.files["approval/anchors/root.crt"] = Array(other.certificate.pem.utf8)
        for version in [UInt64.max, UInt64.max - 1, 5 + TrustUpdater.maximumVersionStep + 1] {
            let jump = try Self.update(version: version, threshold: 1, signers: [root])
            #expect(
                code { _ = try TrustUpdater.apply(jump, to: store, at: Date()) } == "trust.update-version",
                "version \(version)")
        }
        let farthest = try Self.update(version: 5 + TrustUpdater.maximumVersionStep, threshold: 1, signers: [root])
        let (next, _) = try TrustUpdater.apply(farthest, to: store, at: Date())
        let following = try Self.update(
            version: 6 + TrustUpdater.maximumVersionStep, role: .approval, threshold: 1, signers: [other])
        #expect(code { _ = try TrustUpdater.apply(following, to: next, at: Date()) } == nil)
    }

    /// One suite per PKI: a gm role's roots are SM2, an intl role's P-256 or Ed25519; an update
    /// that adds a root of the other suite is refused, though both its signers agreed.
    @Test(arguments: Suite.allCases)
    func `a new anchor of the other suite is refused`(suite: Suite) throws {
        let root = try Self.root(suite, "Root")
        let other = try Self.root(suite == .gm ? .intl : .gm, "Other Suite Root")
        let store = try Self.store([root.certificate])
        let mixed = try Self.update(version: 1, add: [other.certificate], signers: [root, other])
        #expect(code { _ = try TrustUpdater.apply(mixed, to: store, at: Date()) } == "trust.update-invalid")
        let same = try Self.update(version: 1, add: [try Self.root(suite, "Second").certificate], signers: [root])
        #expect(code { _ = try TrustUpdater.apply(same, to: store, at: Date()) } == "trust.update-threshold")
    }

    /// A threshold counts keys: two anchor certificates of one key are one signer.
    @Test func `a threshold above the role's distinct anchor keys is refused`() throws {
        let root = try Self.root(.intl, "Root")
        let sameKey = try CertificateIssuer.selfSignedRoot(
            key: root.key, profile: TestPKI.profile("Root Again", .certificateAuthority(pathLength: 1), now: Date()))
        let store = try Self.store([root.certificate])
        let locked = try Self.update(
            version: 1, add: [sameKey], threshold: 2,
            signers: [root, TestPKI.Issued(key: root.key, certificate: sameKey)])
        #expect(code { _ = try TrustUpdater.apply(locked, to: store, at: Date()) } == "trust.update-invalid")
    }

    /// An anchor file may hold several certificates; retiring one keeps the others.
    @Test func `retiring one anchor of a file keeps the file's other anchors`() throws {
        let first = try Self.root(.intl, "First"), second = try Self.root(.intl, "Second")
        var store = try Self.store([])
        store.files["release/anchors/roots.crt"] = Array((first.certificate.pem + second.certificate.pem).utf8)
        let retire = try Self.update(version: 1, retire: [first.certificate], signers: [first, second])
        let (next, change) = try TrustUpdater.apply(retire, to: store, at: Date())
        #expect(change.anchorsRetired.count == 1)
        let held = try next.files.filter { $0.key.hasPrefix("release/anchors/") }.values.flatMap {
            try Certificate.load($0, source: "anchor")
        }
        #expect(held == [second.certificate])
    }

    @Test(arguments: Suite.allCases)
    func `a new anchor whose key did not sign, or another role's root, cannot change a role`(suite: Suite) throws {
        let root = try Self.root(suite, "Release Root"), new = try Self.root(suite, "New"),
            approvalRoot = try Self.root(suite, "Approval Root")
        var store = try Self.store([root.certificate])
        store.files["approval/anchors/root.crt"] = Array(approvalRoot.certificate.pem.utf8)
        let unsignedAnchor = try Self.update(version: 1, add: [new.certificate], signers: [root])
        #expect(code { _ = try TrustUpdater.apply(unsignedAnchor, to: store, at: Date()) } == "trust.update-threshold")
        let wrongRole = try Self.update(version: 1, add: [new.certificate], signers: [approvalRoot, new])
        #expect(code { _ = try TrustUpdater.apply(wrongRole, to: store, at: Date()) } == "trust.update-threshold")
    }

    @Test(arguments: Suite.allCases)
    func `a tampered, expired or impossible update is refused`(suite: Suite) throws {
        let root = try Self.root(suite, "Root"), new = try Self.root(suite, "New")
        let store = try Self.store([root.certificate])
        let tampered = try Self.update(
            version: 1, add: [new.certificate], threshold: 1, signers: [root, new], tamper: true)
        #expect(code { _ = try TrustUpdater.apply(tampered, to: store, at: Date()) } == "trust.update-threshold")
        let expired = try Self.update(
            version: 1, add: [new.certificate], expires: Date().addingTimeInterval(-1), signers: [root, new])
        #expect(code { _ = try TrustUpdater.apply(expired, to: store, at: Date()) } == "trust.update-expired")
        let emptied = try Self.update(version: 1, retire: [root.certificate], signers: [root])
        #expect(code { _ = try TrustUpdater.apply(emptied, to: store, at: Date()) } == "trust.update-invalid")
        let tooHigh = try Self.update(version: 1, add: [new.certificate], threshold: 3, signers: [root, new])
        #expect(code { _ = try TrustUpdater.apply(tooHigh, to: store, at: Date()) } == "trust.update-invalid")
        let pki = try TestPKI(suite: suite)
        let notARoot = try Self.update(version: 1, add: [pki.ca.certificate], signers: [root, pki.ca])
        #expect(code { _ = try TrustUpdater.apply(notARoot, to: store, at: Date()) } == "trust.update-invalid")
        #expect(
            code {
                _ = try TrustUpdater.apply(
                    Array("{\"payloadType\":\"\(TrustUpdate.payloadType)\"}".utf8), to: store, at: Date())
            } == "trust.update-malformed")
    }

    @Test(arguments: Suite.allCases)
    func `a stale CRL is refused with crl.stale, and a newer CRL refreshes it`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let later = pki.now.addingTimeInterval(86400 * 60)  // past the CRLs' 30 days
        let old = try pki.crls()
        let store = try Self.store([pki.root.certificate], crls: old)
        func verdict(_ contents: TrustStoreContents) throws -> ChainVerdict {
            var crls: [CertificateRevocationList] = []
            for (path, bytes) in contents.files where path.hasPrefix("release/crls/") {
                crls += try CertificateRevocationList.load(bytes, source: path)
            }
            return try ChainVerifier.verify(
                signer.certificate, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate], crls: crls,
                role: .release, at: later)
        }
        guard case .untrusted(let stale) = try verdict(store) else { Issue.record("stale CRLs accepted"); return }
        #expect(stale.code == .crlStale)
        #expect(stale.message.contains("Refresh the CRLs"))
        // Fresh CRLs: the root's signed by an anchor; the CA's with the CA certificate beside it.
        let fresh = [
            try pki.root.issuer.revocationList(
                revoking: [], number: 2, thisUpdate: later.addingTimeInterval(-60),
                nextUpdate: later.addingTimeInterval(86400)),
            try pki.ca.issuer.revocationList(
                revoking: [], number: 2, thisUpdate: later.addingTimeInterval(-60),
                nextUpdate: later.addingTimeInterval(86400)),
        ]
        let file = Array((fresh.map(\.pem) + [pki.ca.certificate.pem]).joined().utf8)
        let (next, change) = try TrustUpdater.apply(file, to: store, at: later)
        #expect(change.kind == .crls && change.crlsApplied.count == 2 && change.toVersion == 0)
        #expect(try verdict(next).isTrusted)
        // The same CRLs again, or the old ones, change nothing.
        let (_, again) = try TrustUpdater.apply(file, to: next, at: later)
        #expect(again.crlsApplied.isEmpty && again.crlsSkipped.count == 2 && !again.changesStore)
        let (_, older) = try TrustUpdater.apply(
            Array((old.map(\.pem) + [pki.ca.certificate.pem]).joined().utf8), to: next, at: later)
        #expect(older.crlsApplied.isEmpty)
    }

    @Test(arguments: Suite.allCases)
    func `a CRL from a CA the store does not trust is refused`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite), stranger = try TestPKI(suite: suite)
        let store = try Self.store([pki.root.certificate], crls: try pki.crls())
        let foreign = try stranger.ca.issuer.revocationList(
            revoking: [], number: 9, thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86400))
        let file = Array((foreign.pem + stranger.ca.certificate.pem).utf8)
        #expect(code { _ = try TrustUpdater.apply(file, to: store, at: Date()) } == "crl.signature")
        // A forged CRL: the store's CA name, another key.
        var der = try pki.ca.issuer.revocationList(
            revoking: [], number: 9, thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86400)
        ).der
        der[der.count - 5] ^= 1
        #expect(
            code {
                _ = try TrustUpdater.apply(
                    Array((try CertificateRevocationList(der: der).pem + pki.ca.certificate.pem).utf8), to: store,
                    at: Date())
            } == "crl.signature")
    }

    /// A CRL in a signed trust update counts only when its signature is checked: made by an
    /// anchor of the role, or by a CA certificate carried with it (`crlIssuers`) that chains to
    /// one. Before, a CRL no anchor signed was placed unchecked, by its issuer's name: a forged
    /// "CA" CRL without the revocations, numbered higher, replaced the CA's own, and a revoked
    /// signer was trusted again.
    @Test(arguments: Suite.allCases)
    func `a CRL in a trust update must be signed by an anchor or a CA carried with it`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite), stranger = try TestPKI(suite: suite)
        let revoked = try pki.leaf()
        let store = try Self.store([pki.root.certificate], crls: try pki.crls(revoking: [revoked.certificate]))
        func held(_ contents: TrustStoreContents) throws -> [CertificateRevocationList] {
            var crls: [CertificateRevocationList] = []
            for (path, bytes) in contents.files where path.hasPrefix("release/crls/") {
                crls += try CertificateRevocationList.load(bytes, source: path)
            }
            return crls
        }
        func revokedIsTrusted(_ contents: TrustStoreContents) throws -> Bool {
            try ChainVerifier.verify(
                revoked.certificate, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate],
                crls: try held(contents), role: .release, at: pki.now
            ).isTrusted
        }
        #expect(try !revokedIsTrusted(store))
        // The stranger's CA has the store's CA's name ("Test CA"): its empty CRL, numbered higher.
        let forged = try stranger.ca.issuer.revocationList(
            revoking: [], number: 90, thisUpdate: pki.now.addingTimeInterval(-60),
            nextUpdate: pki.now.addingTimeInterval(86400))
        #expect(forged.issuer == pki.ca.certificate.subject)
        for issuers in [[], [stranger.ca.certificate]] {
            let update = try Self.update(version: 1, crls: [forged], crlIssuers: issuers, signers: [pki.root])
            let refused = #expect(throws: OTAError.self) { _ = try TrustUpdater.apply(update, to: store, at: pki.now) }
            #expect(refused?.code == .crlSignature, "\(String(describing: refused))")
        }
        // The CA's own newer CRL: with its certificate it is applied, without it refused too.
        let newer = try pki.ca.issuer.revocationList(
            revoking: [revoked.certificate], number: 91, thisUpdate: pki.now.addingTimeInterval(-60),
            nextUpdate: pki.now.addingTimeInterval(86400))
        let bare = try Self.update(version: 1, crls: [newer], signers: [pki.root])
        #expect(code { _ = try TrustUpdater.apply(bare, to: store, at: pki.now) } == "crl.signature")
        let carried = try Self.update(version: 1, crls: [newer], crlIssuers: [pki.ca.certificate], signers: [pki.root])
        let (next, change) = try TrustUpdater.apply(carried, to: store, at: pki.now)
        #expect(change.crlsApplied.count == 1, "\(change)")
        #expect(try held(next).contains { $0.number == [91] })
        #expect(try !revokedIsTrusted(next))
        // A CRL of the root itself needs nothing more.
        let rootCRL = try pki.root.issuer.revocationList(
            revoking: [], number: 92, thisUpdate: pki.now.addingTimeInterval(-60),
            nextUpdate: pki.now.addingTimeInterval(86400))
        let (_, rootChange) = try TrustUpdater.apply(
            try Self.update(version: 1, crls: [rootCRL], signers: [pki.root]), to: store, at: pki.now)
        #expect(rootChange.crlsApplied.count == 1)
    }

    /// A root rotated under the same name (or a CA re-keyed): the CRLs of the two keys are two
    /// CRLs, neither replacing the other, in both orders of their numbers.
    @Test(arguments: Suite.allCases, [UInt64(1), 50])
    func `a CRL of a same-name CA with another key keeps the first CA's CRL`(suite: Suite, number: UInt64) throws {
        let pki = try TestPKI(suite: suite)
        let revoked = try pki.leaf()
        let crls = try pki.crls(revoking: [revoked.certificate])
        let store = try Self.store([pki.root.certificate], crls: crls)
        let rotatedKey = try PrivateKey.generate(pki.keyType)
        let rotated = TestPKI.Issued(
            key: rotatedKey,
            certificate: try CertificateIssuer.selfSignedRoot(
                key: rotatedKey,
                profile: TestPKI.profile("Test Root", .certificateAuthority(pathLength: 1), now: pki.now)))
        let rotation = try Self.update(version: 1, add: [rotated.certificate], signers: [pki.root, rotated])
        let (withBoth, _) = try TrustUpdater.apply(rotation, to: store, at: pki.now)
        let rotatedCRL = try rotated.issuer.revocationList(
            revoking: [], number: Int(number), thisUpdate: pki.now.addingTimeInterval(-60),
            nextUpdate: pki.now.addingTimeInterval(86400))
        let (next, change) = try TrustUpdater.apply(Array(rotatedCRL.pem.utf8), to: withBoth, at: pki.now)
        #expect(change.crlsApplied.count == 1, "\(change)")
        var held: [CertificateRevocationList] = []
        for (path, bytes) in next.files where path.hasPrefix("release/crls/") {
            held += try CertificateRevocationList.load(bytes, source: path)
        }
        #expect(held.count == 3)
        let verdict = try ChainVerifier.verify(
            revoked.certificate, intermediates: [pki.ca.certificate],
            anchors: [pki.root.certificate, rotated.certificate], crls: held, role: .release, at: pki.now)
        guard case .untrusted(let error) = verdict else {
            Issue.record("a revoked signer was trusted")
            return
        }
        #expect(error.code == .certificateRevoked)
        let good = try pki.leaf()
        #expect(
            try ChainVerifier.verify(
                good.certificate, intermediates: [pki.ca.certificate],
                anchors: [pki.root.certificate, rotated.certificate], crls: held, role: .release, at: pki.now
            ).isTrusted)
    }

    @Test func `trust store contents round trip through staging and swap`() throws {
        let base = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(base) }
        let pki = try TestPKI(suite: .intl)
        let directory = base + "/trust"
        let first = try Self.store([pki.root.certificate], crls: try pki.crls())
        try first.stage(beside: directory)
        try TrustStoreContents.swap(directory)
        #expect(try TrustStoreContents(directory: directory) == first)
        var second = first
        second.files["release/anchors/extra.crt"] = Array(try Self.root(.intl, "Extra").certificate.pem.utf8)
        var steps: [String] = []
        try second.stage(beside: directory)
        try TrustStoreContents.swap(directory) { steps.append($0) }
        #expect(steps == ["trust.old-parked", "trust.swapped"])
        #expect(try TrustStoreContents(directory: directory) == second)
        #expect(
            !FileManager.default.fileExists(atPath: directory + ".old")
                && !FileManager.default.fileExists(atPath: directory + ".next"))
        // Cut between the two renames: recovery finishes the swap to the pending contents.
        try first.stage(beside: directory)
        #expect(rename(directory, directory + ".old") == 0)
        let recovered = try TrustStoreContents.recover(
            directory, expected: try second.digest(), pending: try first.digest())
        #expect(recovered == (try first.digest()))
        #expect(try TrustStoreContents(directory: directory) == first)
    }
}
