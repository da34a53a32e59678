import Foundation
import OTACore
import OTATestSupport
import Testing

@Suite("X.509 chain verification")
struct ChainVerifierTests {
    func verify(
        _ pki: TestPKI, _ leaf: Certificate, role: TrustRole = .release, crls: [CertificateRevocationList]? = nil,
        at instant: Date? = nil, policy: StaleCRLPolicy = .reject
    ) throws -> ChainVerdict {
        try ChainVerifier.verify(
            leaf, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate], crls: crls ?? pki.crls(),
            role: role, at: instant ?? pki.now, staleCRLPolicy: policy)
    }

    func code(_ verdict: ChainVerdict) -> String? {
        if case .untrusted(let error) = verdict { return error.code.rawValue }
        return nil
    }

    @Test(arguments: Suite.allCases)
    func `a signer chaining to the anchor with fresh CRLs is trusted`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let verdict = try verify(pki, signer.certificate)
        guard case .trusted(let chain) = verdict else {
            Issue.record("expected trusted, got \(verdict)")
            return
        }
        #expect(chain.count == 3)
        #expect(chain.last == pki.root.certificate)
    }

    @Test func `an Ed25519 signer under a P-256 CA is trusted`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf(type: .ed25519)
        #expect(try verify(pki, signer.certificate).isTrusted)
    }

    @Test(arguments: Suite.allCases)
    func `a revoked signer is rejected`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        #expect(
            code(try verify(pki, signer.certificate, crls: pki.crls(revoking: [signer.certificate])))
                == "certificate.revoked")
    }

    @Test(arguments: Suite.allCases)
    func `an expired signer is rejected`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf(
            notBefore: pki.now.addingTimeInterval(-86400 * 10), notAfter: pki.now.addingTimeInterval(-86400))
        #expect(code(try verify(pki, signer.certificate)) == "certificate.expired")
    }

    @Test func `a not yet valid signer is rejected`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf(
            notBefore: pki.now.addingTimeInterval(86400), notAfter: pki.now.addingTimeInterval(86400 * 10))
        #expect(code(try verify(pki, signer.certificate)) == "certificate.not-yet-valid")
    }

    @Test func `validity is judged at the injected time, not the system clock`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf()
        let later = pki.now.addingTimeInterval(86400 * 400)
        let longCRLs = try pki.crls(nextUpdate: pki.now.addingTimeInterval(86400 * 1000))
        #expect(code(try verify(pki, signer.certificate, crls: longCRLs, at: later)) == "certificate.expired")
    }

    @Test(arguments: Suite.allCases)
    func `a signer from an unknown root is rejected`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let stranger = try TestPKI(suite: suite)
        let signer = try stranger.leaf()
        let verdict = try ChainVerifier.verify(
            signer.certificate, intermediates: [stranger.ca.certificate], anchors: [pki.root.certificate],
            crls: pki.crls(), role: .release, at: pki.now)
        #expect(code(verdict) == "certificate.untrusted")
    }

    @Test func `a release signer without the codeSigning usage is rejected`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf(usage: .signer(codeSigning: false))
        #expect(code(try verify(pki, signer.certificate)) == "certificate.usage")
        let approver = try pki.leaf(usage: .signer(codeSigning: false), role: .approval)
        #expect(try verify(pki, approver.certificate, role: .approval).isTrusted)
    }

    @Test func `a CA certificate cannot act as a signer`() throws {
        let pki = try TestPKI(suite: .intl)
        let verdict = try ChainVerifier.verify(
            pki.ca.certificate, intermediates: [], anchors: [pki.root.certificate], crls: pki.crls(), role: .approval,
            at: pki.now)
        #expect(code(verdict) == "certificate.usage")
    }

    /// The signer id is part of who signed (the two-person rule compares it): a leaf whose
    /// signer-id extension is malformed is no signer, for `keys verify` as for `bundle sign`.
    @Test(arguments: ["ASN1:PRINTABLESTRING:ENG-1", "ASN1:UTF8String:"])
    func `a signer whose signer id is not one UTF8String is rejected`(value: String) throws {
        let pki = try TestPKI(suite: .intl)
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let key = try PrivateKey.generate(.p256)
        try key.pem().write(toFile: directory + "/k.pem", atomically: true, encoding: .utf8)
        try pki.ca.key.pem().write(toFile: directory + "/ca.key", atomically: true, encoding: .utf8)
        try pki.ca.certificate.pem.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try """
        basicConstraints=critical,CA:FALSE
        keyUsage=critical,digitalSignature
        extendedKeyUsage=codeSigning,\(ProjectOID.role(.release))
        \(ProjectOID.signerID)=\(value)
        """.write(toFile: directory + "/ext.cnf", atomically: true, encoding: .utf8)
        try OpenSSLTool.run([
            "req", "-new", "-key", directory + "/k.pem", "-subj", "/O=ota tests/CN=Odd Signer", "-out",
            directory + "/c.csr",
        ])
        try OpenSSLTool.run([
            "x509", "-req", "-in", directory + "/c.csr", "-CA", directory + "/ca.crt", "-CAkey", directory + "/ca.key",
            "-set_serial", "77", "-days", "30", "-extfile", directory + "/ext.cnf", "-out", directory + "/c.crt",
        ])
        let odd = try Certificate.load(contentsOf: directory + "/c.crt")[0]
        // openssl dates the leaf from the second it issued it, which under load can be after the
        // PKI's own time: judged now, after the issue.
        let verdict = try verify(pki, odd, at: Date())
        #expect(code(verdict) == "certificate.malformed", "\(verdict)")
    }

    @Test func `a missing CRL for a CA in the path is rejected`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf()
        let onlyRootCRL = [try pki.crls()[0]]
        #expect(code(try verify(pki, signer.certificate, crls: onlyRootCRL)) == "crl.missing")
    }

    @Test(arguments: Suite.allCases)
    func `a CRL past nextUpdate is rejected by default and allowed by policy`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let stale = try pki.crls(nextUpdate: pki.now.addingTimeInterval(-60))
        #expect(code(try verify(pki, signer.certificate, crls: stale)) == "crl.stale")
        let allowed = try verify(pki, signer.certificate, crls: stale, policy: .allow)
        #expect(allowed.isTrusted, "\(allowed)")
    }

    @Test func `a stale CRL still revokes under the allow policy`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf()
        let stale = try pki.crls(revoking: [signer.certificate], nextUpdate: pki.now.addingTimeInterval(-60))
        #expect(code(try verify(pki, signer.certificate, crls: stale, policy: .allow)) == "certificate.revoked")
    }

    @Test(arguments: Suite.allCases)
    func `a CRL signed by another CA does not count`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let other = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let forged = [
            try pki.crls()[0],
            try other.ca.issuer.revocationList(
                revoking: [], number: 1, thisUpdate: pki.now.addingTimeInterval(-60),
                nextUpdate: pki.now.addingTimeInterval(3600)),
        ]
        #expect(code(try verify(pki, signer.certificate, crls: forged)) == "crl.missing")
    }

    /// A second CA of the same name under the same root (a re-keyed CA, or a root rotation that
    /// keeps the name): its CRL must not stand for the first CA's.
    @Test(arguments: Suite.allCases)
    func `a CRL counts only for certificates of the key that signed it`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let rekeyedKey = try PrivateKey.generate(pki.keyType)
        let rekeyed = TestPKI.Issued(
            key: rekeyedKey,
            certificate: try pki.root.issuer.issue(
                TestPKI.profile("Test CA", .certificateAuthority(pathLength: 0), now: pki.now),
                publicKey: try rekeyedKey.publicKey))
        let revoking = try pki.crls(revoking: [signer.certificate])
        // Newer than the first CA's, so a lookup by name alone prefers it.
        let rekeyedCRL = try rekeyed.issuer.revocationList(
            revoking: [], number: 7, thisUpdate: pki.now.addingTimeInterval(-60),
            nextUpdate: pki.now.addingTimeInterval(86400))
        let both = { (leaf: Certificate, crls: [CertificateRevocationList]) throws -> ChainVerdict in
            try ChainVerifier.verify(
                leaf, intermediates: [pki.ca.certificate, rekeyed.certificate], anchors: [pki.root.certificate],
                crls: crls, role: .release, at: pki.now)
        }
        let verdict = try both(signer.certificate, revoking + [rekeyedCRL])
        #expect(code(verdict) == "certificate.revoked")
        // With only the other key's CRL, the first CA's certificates have none.
        let withoutOwn = try both(signer.certificate, [revoking[0], rekeyedCRL])
        #expect(code(withoutOwn) == "crl.missing" || code(withoutOwn) == "crl.signature")
        #expect(!withoutOwn.isTrusted)
        // And the re-keyed CA's own certificates are judged by its CRL.
        let underRekeyed = try rekeyed.issuer.issue(
            TestPKI.profile("Other Signer", .signer(codeSigning: true), now: pki.now, role: .release),
            publicKey: try PrivateKey.generate(pki.keyType).publicKey)
        let judged = try both(underRekeyed, revoking + [rekeyedCRL])
        #expect(judged.isTrusted, "\(judged)")
    }

    @Test(arguments: Suite.allCases)
    func `a CRL with an altered signature does not count`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let crls = try pki.crls(revoking: [signer.certificate])
        var der = crls[1].der
        der[der.count - 5] ^= 0x01  // inside the signature value
        let tampered = [crls[0], try CertificateRevocationList(der: der)]
        #expect(code(try verify(pki, signer.certificate, crls: tampered)) == "crl.missing")
    }

    @Test func `an empty trust store refuses instead of skipping verification`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf()
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let verifier = ChainVerifier(store: try TrustStore(directory: directory), time: FixedTime(pki.now))
        #expect(throws: OTAError(.trustEmpty, "")) {
            try verifier.verify(signer.certificate, intermediates: [pki.ca.certificate], role: .release)
        }
        #expect(throws: OTAError(.trustMissing, "")) { try TrustStore(directory: directory + "/nope") }
    }

    @Test func `a trust store directory gives each role its own anchors`() throws {
        let pki = try TestPKI(suite: .intl)
        let signer = try pki.leaf(role: .approval)
        let directory = try pki.writeTrustStore(role: .approval, crls: pki.crls())
        defer { TemporaryDirectory.remove(directory) }
        let verifier = ChainVerifier(store: try TrustStore(directory: directory), time: FixedTime(pki.now))
        // Trusted as approval (no codeSigning needed there) …
        #expect(try verifier.verify(signer.certificate, intermediates: [pki.ca.certificate], role: .approval).isTrusted)
        // … but the release role has no anchors at all.
        #expect(throws: OTAError(.trustEmpty, "")) {
            try verifier.verify(signer.certificate, intermediates: [pki.ca.certificate], role: .release)
        }
    }

    /// Before: the name was repaired to `evil\u{FFFD}.crt` and the store failed with
    /// `io.not-found` for a file that is there (two such names read the same).
    @Test func `an anchor whose file name is not UTF-8 is refused by that name`() throws {
        let pki = try TestPKI(suite: .intl)
        let directory = try pki.writeTrustStore(role: .approval, crls: pki.crls())
        defer { TemporaryDirectory.remove(directory) }
        let planted = try RawNamedFile(
            in: directory + "/approval/anchors", name: Array("evil".utf8) + [0xFF] + Array(".crt".utf8),
            contents: Array(pki.root.certificate.pem.utf8))
        let store = try TrustStore(directory: directory)
        let error = #expect(throws: OTAError(.ioNameNotUTF8, "")) { try store.anchors(for: .approval) }
        #expect(
            error?.message.contains(#"approval/anchors: the entry "evil\xFF.crt""#) == true,
            "\(String(describing: error))")
        #expect(throws: OTAError(.ioNameNotUTF8, "")) { try store.contents() }
        _ = planted
    }

    @Test func `the monotonic clock never goes behind its floor`() {
        let floor = Date(timeIntervalSince1970: 2_000_000_000)
        let clock = MonotonicTime(base: FixedTime(Date(timeIntervalSince1970: 1_000_000_000)), floor: floor)
        #expect(clock.now() == floor)
        let later = Date(timeIntervalSince1970: 3_000_000_000)
        #expect(MonotonicTime(base: FixedTime(later), floor: floor).now() == later)
    }
}
