import Foundation
import OTACore
import OTATestSupport
import Testing

/// Roles are bound in the leaf certificate (an extended key usage per role under the project
/// arc) as well as by the role's anchors, so one root pinned for several roles (common at OEMs)
/// does not let a release engineer approve their own change.
@Suite("Roles bound in certificates")
struct RoleMarkerTests {
    /// Verifies `leaf` as `role` against `pki`'s root, which every role shares here.
    func code(_ pki: TestPKI, _ leaf: Certificate, as role: TrustRole) throws -> String? {
        let verdict = try ChainVerifier.verify(
            leaf, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate], crls: pki.crls(),
            role: role, at: pki.now)
        if case .untrusted(let error) = verdict { return error.code.rawValue }
        return nil
    }

    @Test(arguments: Suite.allCases)
    func `each role's leaf is trusted for its role only, under one shared root`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        for role in TrustRole.allCases {
            let usage: CertificateProfile.Usage = role == .vehicle ? .device : .signer(codeSigning: role == .release)
            let leaf = try pki.leaf("\(role.rawValue) leaf", usage: usage, role: role)
            #expect(leaf.certificate.extendedKeyUsages.contains(ProjectOID.role(role)))
            for other in TrustRole.allCases {
                #expect(
                    try code(pki, leaf.certificate, as: other) == (other == role ? nil : "certificate.role"),
                    "\(role) as \(other)")
            }
        }
    }

    @Test(arguments: Suite.allCases)
    func `a release signer cannot approve under a shared root`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let releaseSigner = try pki.leaf("Release Engineer", role: .release)
        #expect(try code(pki, releaseSigner.certificate, as: .release) == nil)
        #expect(try code(pki, releaseSigner.certificate, as: .approval) == "certificate.role")
    }

    @Test(arguments: Suite.allCases)
    func `a leaf without a role marker is refused for every role`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let unmarked = try pki.leaf("Old Signer", role: nil)
        for role in TrustRole.allCases {
            #expect(try code(pki, unmarked.certificate, as: role) == "certificate.role", "\(role)")
        }
    }

    @Test(arguments: Suite.allCases)
    func `a leaf marked for two roles is refused for both`(suite: Suite) throws {
        let setting = try TwoPersonRuleTests.Setting(suite: suite)
        let key = try PrivateKey.generate(setting.pki.keyType)
        let both = try setting.forged(
            key, form: nil, subject: "/O=ota tests/CN=Release And Approval",
            extra: [])
        // The default extension lines mark release; re-issue with release and approval marked.
        let keyPath = "\(setting.directory)/both.key"
        try key.pem().write(toFile: keyPath, atomically: true, encoding: .utf8)
        let path = try OpenSSLTool.issueCertificate(
            for: keyPath, form: nil, subject: "/O=ota tests/CN=Release And Approval",
            caCertificate: setting.caCertificate, caKey: setting.caKey,
            sm2: suite == .gm,
            extensions: OpenSSLTool.signerExtensions(
                extendedKeyUsage: "codeSigning,\(ProjectOID.role(.release)),\(ProjectOID.role(.approval))"),
            in: setting.directory)
        let doubled = try Certificate.load(contentsOf: path)[0]
        let later = setting.pki.now.addingTimeInterval(300)
        for role in [TrustRole.release, .approval] {
            let verdict = try ChainVerifier.verify(
                doubled, intermediates: [setting.pki.ca.certificate], anchors: [setting.pki.root.certificate],
                crls: setting.pki.crls(), role: role, at: later)
            guard case .untrusted(let error) = verdict else { Issue.record("trusted as \(role)"); continue }
            #expect(error.code == .certificateRole, "\(role): \(error)")
        }
        // The single-role certificate the tool made first is fine for release.
        #expect(
            try ChainVerifier.verify(
                both, intermediates: [setting.pki.ca.certificate], anchors: [setting.pki.root.certificate],
                crls: setting.pki.crls(), role: .release, at: later
            ).isTrusted)
    }

    @Test func `anyExtendedKeyUsage is not a role marker`() throws {
        let setting = try TwoPersonRuleTests.Setting(suite: .intl)
        let key = try PrivateKey.generate(.p256)
        let keyPath = "\(setting.directory)/any.key"
        try key.pem().write(toFile: keyPath, atomically: true, encoding: .utf8)
        let path = try OpenSSLTool.issueCertificate(
            for: keyPath, form: nil, subject: "/O=ota tests/CN=Any Purpose", caCertificate: setting.caCertificate,
            caKey: setting.caKey, sm2: false,
            extensions: OpenSSLTool.signerExtensions(extendedKeyUsage: "codeSigning,anyExtendedKeyUsage"),
            in: setting.directory)
        let verdict = try ChainVerifier.verify(
            try Certificate.load(contentsOf: path)[0], intermediates: [setting.pki.ca.certificate],
            anchors: [setting.pki.root.certificate], crls: setting.pki.crls(), role: .release,
            at: setting.pki.now.addingTimeInterval(300))
        guard case .untrusted(let error) = verdict else { Issue.record("trusted"); return }
        #expect(error.code == .certificateRole)
    }
}
