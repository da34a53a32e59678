import Foundation
import OTACore
import OTATestSupport
import Testing

/// Certificate issue from requests, renewal and revocation (`ota keys csr|issue|renew|revoke`),
/// in both suites: what a CA checks before it signs, and what the vehicle then accepts.
@Suite struct CertificateLifecycleTests {
    func chain(_ pki: TestPKI, _ leaf: Certificate, role: TrustRole, crls: [CertificateRevocationList]? = nil) throws
        -> ChainVerdict
    {
        try ChainVerifier.verify(
            leaf, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate], crls: crls ?? pki.crls(),
            role: role, at: pki.now)
    }

    func request(_ pki: TestPKI, type: KeyType? = nil, name: String = "Engineer") throws -> (
        PrivateKey, CertificateRequest
    ) {
        let key = try PrivateKey.generate(type ?? pki.keyType)
        return (
            key,
            try CertificateRequest.make(
                subject: .init(commonName: name, organization: "ota tests", organizationalUnit: "release"), key: key)
        )
    }

    /// A leaf named as its own CA would show "signed by" the CA's name wherever a signer is
    /// shown; the CA refuses to issue it.
    @Test func `a request bearing its CA's name is not issued`() throws {
        let pki = try TestPKI(suite: .intl)
        let key = try PrivateKey.generate(.p256)
        let csr = try CertificateRequest.make(
            subject: .init(commonName: "Test CA", organization: "ota tests"), key: key)
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.issue(
                request: csr, role: .release, signerID: "person-1", notBefore: pki.now.addingTimeInterval(-60),
                notAfter: pki.now.addingTimeInterval(86400))
        }
    }

    @Test(arguments: Suite.allCases)
    func `a request becomes a certificate for its role that chains, with the marker and the signer id`(suite: Suite)
        throws
    {
        let pki = try TestPKI(suite: suite)
        for role in TrustRole.allCases {
            let (key, csr) = try request(pki)
            let parsed = try CertificateRequest(encoded: Array(csr.pem.utf8), source: "csr.pem")
            #expect(try parsed.publicKey == key.publicKey)
            #expect(
                try parsed.subject
                    == .init(commonName: "Engineer", organization: "ota tests", organizationalUnit: "release"))
            // A vehicle's signer id is its VIN (usage.signer-id otherwise: KeysIssueVehicleTests).
            let signerID = role == .vehicle ? "LSVX1A2B3C4D56789" : "person-\(role.rawValue)"
            let certificate = try pki.ca.issuer.issue(
                request: parsed, role: role, signerID: signerID,
                notBefore: pki.now.addingTimeInterval(-60),
                notAfter: pki.now.addingTimeInterval(86400))
            #expect(certificate.extendedKeyUsages.contains(ProjectOID.role(role)))
            #expect(try certificate.signerID == signerID)
            #expect(try certificate.publicKey == key.publicKey)
            #expect(try chain(pki, certificate, role: role).isTrusted, "\(role)")
            // Marked for this role only: another role refuses it, even under the same root.
            let other = role == .release ? TrustRole.approval : .release
            guard case .untrusted(let error) = try chain(pki, certificate, role: other) else {
                Issue.record("\(role) as \(other)"); continue
            }
            #expect(error.code == .certificateRole || error.code == .certificateUsage)
        }
    }

    @Test(arguments: Suite.allCases)
    func `a request not signed by its key is refused`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let (_, csr) = try request(pki, name: "Engineer A")
        var der = csr.der
        // Change one letter of the subject: the signature no longer covers what is asked.
        let marker = Array("Engineer A".utf8)
        let at = (0...(der.count - marker.count)).first { Array(der[$0..<($0 + marker.count)]) == marker }!
        der[at + marker.count - 1] = UInt8(ascii: "B")
        #expect(throws: OTAError(.requestSignature, "")) {
            _ = try CertificateRequest(encoded: der, source: "forged.csr")
        }
        // Garbage, trailing bytes and two PEM blocks are malformed.
        #expect(throws: OTAError(.requestMalformed, "")) {
            _ = try CertificateRequest(encoded: [0x30, 0x03, 0x02, 0x01, 0x01], source: "junk")
        }
        #expect(throws: OTAError(.requestMalformed, "")) {
            _ = try CertificateRequest(encoded: csr.der + [0], source: "trailing")
        }
        #expect(throws: OTAError(.requestMalformed, "")) {
            _ = try CertificateRequest(encoded: Array((csr.pem + csr.pem).utf8), source: "two")
        }
    }

    @Test(arguments: Suite.allCases)
    func `the CA refuses a request that breaks its profile`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let start = pki.now.addingTimeInterval(-60)
        let (_, csr) = try request(pki)
        // A key of the other suite.
        let (_, foreign) = try request(pki, type: suite == .gm ? .p256 : .sm2)
        #expect(throws: OTAError(.keySuiteMismatch, "")) {
            _ = try pki.ca.issuer.issue(
                request: foreign, role: .release, signerID: nil, notBefore: start, notAfter: pki.now + 60)
        }
        // A vehicle device key must agree keys.
        if suite == .intl {
            let (_, edwards) = try request(pki, type: .ed25519)
            #expect(throws: OTAError(.certificateProfile, "")) {
                _ = try pki.ca.issuer.issue(
                    request: edwards, role: .vehicle, signerID: "LSVX1A2B3C4D56789", notBefore: start,
                    notAfter: pki.now + 60)
            }
            #expect(
                try pki.ca.issuer.issue(
                    request: edwards, role: .release, signerID: nil, notBefore: start, notAfter: pki.now + 60
                ).isIssued(by: pki.ca.certificate))
        }
        // Validity: empty, beyond the CA's, longer than ten years.
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.issue(
                request: csr, role: .release, signerID: nil, notBefore: pki.now, notAfter: pki.now)
        }
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.issue(
                request: csr, role: .release, signerID: nil, notBefore: start, notAfter: pki.ca.certificate.notAfter + 1
            )
        }
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.issue(
                request: csr, role: .release, signerID: nil, notBefore: pki.ca.certificate.notBefore - 1,
                notAfter: pki.now + 60)
        }
        // A signer id with invisible characters.
        #expect(throws: OTAError(.certificateName, "")) {
            _ = try pki.ca.issuer.issue(
                request: csr, role: .release, signerID: "eve\u{200B}", notBefore: start, notAfter: pki.now + 60)
        }
        // A leaf is no CA, and a CA key must belong to its certificate.
        let leaf = try pki.leaf()
        #expect(throws: OTAError(.certificateInvalidCa, "")) {
            _ = try leaf.issuer.issue(
                request: csr, role: .release, signerID: nil, notBefore: start, notAfter: pki.now + 60)
        }
        let mismatched = CertificateIssuer(key: pki.root.key, certificate: pki.ca.certificate)
        #expect(throws: OTAError(.keyCertificateMismatch, "")) {
            _ = try mismatched.issue(
                request: csr, role: .release, signerID: nil, notBefore: start, notAfter: pki.now + 60)
        }
    }

    @Test func `a request subject with other fields or control characters is refused`() throws {
        let key = try PrivateKey.generate(.p256)
        #expect(throws: OTAError(.certificateName, "")) {
            _ = try CertificateRequest.make(subject: .init(commonName: "a\u{0}b", organization: "o"), key: key)
        }
        #expect(throws: OTAError(.certificateName, "")) {
            _ = try CertificateRequest.make(
                subject: .init(commonName: String(repeating: "x", count: 65), organization: "o"), key: key)
        }
        // Made with the openssl command line: a country field ota does not issue.
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        try key.pem().write(toFile: directory + "/k.pem", atomically: true, encoding: .utf8)
        try OpenSSLTool.run([
            "req", "-new", "-key", directory + "/k.pem", "-subj", "/C=DE/O=ota tests/CN=Engineer", "-out",
            directory + "/c.csr",
        ])
        let csr = try CertificateRequest(
            encoded: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/c.csr"))), source: "c.csr")
        #expect(throws: OTAError(.certificateName, "")) { _ = try csr.subject }
        // An openssl-made request with a plain subject is read.
        try OpenSSLTool.run([
            "req", "-new", "-key", directory + "/k.pem", "-subj", "/O=ota tests/CN=Engineer", "-out",
            directory + "/d.csr",
        ])
        let plain = try CertificateRequest(
            encoded: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/d.csr"))), source: "d.csr")
        #expect(try plain.subject == .init(commonName: "Engineer", organization: "ota tests"))
    }

    @Test(arguments: Suite.allCases)
    func `a renewed signer with a new key keeps subject, role and signer id, and counts once`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let old = try pki.leaf("Engineer", signerID: "engineer-7", role: .release)
        let (newKey, csr) = try request(pki)
        let renewed = try pki.ca.issuer.renew(
            old.certificate, newKey: try csr.publicKey, notBefore: pki.now.addingTimeInterval(-60),
            notAfter: pki.now.addingTimeInterval(86400))
        #expect(renewed.subject == old.certificate.subject)
        #expect(try renewed.signerID == "engineer-7")
        #expect(renewed.extendedKeyUsages == old.certificate.extendedKeyUsages)
        #expect(renewed.serialNumber != old.certificate.serialNumber)
        #expect(try renewed.publicKey == newKey.publicKey)
        #expect(try chain(pki, renewed, role: .release).isTrusted)
        // Old and renewed certificate: one person for a two-person threshold.
        let groups = Signatory.distinct([
            try Signatory(certificate: old.certificate), try Signatory(certificate: renewed),
        ])
        #expect(groups.count == 1)
        // Same key when no request is given.
        let sameKey = try pki.ca.issuer.renew(
            old.certificate, newKey: nil, notBefore: pki.now.addingTimeInterval(-60),
            notAfter: pki.now.addingTimeInterval(86400))
        #expect(try sameKey.publicKey == old.key.publicKey)
        // A renewal never changes the role or the person.
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.renew(
                old.certificate, newKey: nil, role: .approval, notBefore: pki.now, notAfter: pki.now + 60)
        }
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.renew(
                old.certificate, newKey: nil, signerID: "engineer-8", notBefore: pki.now, notAfter: pki.now + 60)
        }
        // Migration: a leaf made before role markers gets its role (and a signer id) when renewed.
        let legacy = try pki.leaf("Legacy Signer", role: nil)
        #expect(try !chain(pki, legacy.certificate, role: .release).isTrusted)
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.ca.issuer.renew(legacy.certificate, newKey: nil, notBefore: pki.now, notAfter: pki.now + 60)
        }
        let migrated = try pki.ca.issuer.renew(
            legacy.certificate, newKey: nil, role: .release, signerID: "legacy-1",
            notBefore: pki.now.addingTimeInterval(-60),
            notAfter: pki.now.addingTimeInterval(86400))
        #expect(try chain(pki, migrated, role: .release).isTrusted)
        #expect(try migrated.signerID == "legacy-1")
        // Another CA's certificate, or a CA certificate, is not renewed here.
        let other = try TestPKI(suite: suite)
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try other.ca.issuer.renew(old.certificate, newKey: nil, notBefore: pki.now, notAfter: pki.now + 60)
        }
        #expect(throws: OTAError(.certificateProfile, "")) {
            _ = try pki.root.issuer.renew(pki.ca.certificate, newKey: nil, notBefore: pki.now, notAfter: pki.now + 60)
        }
    }

    @Test(arguments: Suite.allCases)
    func
        `a revocation makes the next CRL with the reason, keeps earlier entries, and the vehicle refuses the certificate`(
            suite: Suite
        ) throws
    {
        let pki = try TestPKI(suite: suite)
        let first = try pki.leaf("First", role: .release)
        let second = try pki.leaf("Second", role: .release)
        let crl1 = try pki.ca.issuer.revoke(
            [Revocation(serial: first.certificate.serialBytes, date: pki.now, reason: .superseded)], previous: nil,
            thisUpdate: pki.now.addingTimeInterval(-3600), nextUpdate: pki.now.addingTimeInterval(86400))
        let crl2 = try pki.ca.issuer.revoke(
            [Revocation(serial: second.certificate.serialBytes, date: pki.now, reason: .keyCompromise)], previous: crl1,
            thisUpdate: pki.now.addingTimeInterval(-1800), nextUpdate: pki.now.addingTimeInterval(86400))
        #expect(crl1.number == [1])
        #expect(crl2.number == [2])
        #expect(crl2.isNewer(than: crl1))
        let entries = try crl2.entries
        #expect(Set(entries.map(\.serialHex)) == [first.certificate.serialNumber, second.certificate.serialNumber])
        #expect(entries.first { $0.serialHex == second.certificate.serialNumber }?.reason == .keyCompromise)
        #expect(entries.first { $0.serialHex == first.certificate.serialNumber }?.reason == .superseded)
        let rootCRL = try pki.root.issuer.revocationList(
            revoking: [], number: 1, thisUpdate: pki.now.addingTimeInterval(-3600),
            nextUpdate: pki.now.addingTimeInterval(86400))
        for leaf in [first, second] {
            guard case .untrusted(let error) = try chain(pki, leaf.certificate, role: .release, crls: [rootCRL, crl2])
            else { Issue.record("revoked but trusted"); continue }
            #expect(error.code == .certificateRevoked)
        }
        #expect(try chain(pki, try pki.leaf("Third").certificate, role: .release, crls: [rootCRL, crl2]).isTrusted)
        // The previous CRL must be this CA's.
        #expect(throws: OTAError(.crlIssuer, "")) {
            _ = try pki.ca.issuer.revoke(
                [], previous: rootCRL, thisUpdate: pki.now, nextUpdate: pki.now.addingTimeInterval(60))
        }
    }
}
