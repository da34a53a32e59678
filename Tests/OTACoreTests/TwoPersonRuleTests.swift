import Foundation
import OTACore
import OTATestSupport
import Testing

/// The two-person rule counts people: a second certificate for the same key (in any point
/// encoding), a renewed certificate with a new key, or one signer id under two names is still
/// one signer. The attacker's certificates are made with the `openssl` command line, as an
/// attacker would make them.
@Suite("Two-person rule: signers are people")
struct TwoPersonRuleTests {
    static let body = Array(#"{"bundle":"two-person"}"#.utf8)
    static let type = SignatureEnvelope.manifestType

    /// A test PKI with its CA on disk, a trust store for `release`, and a scratch directory.
    final class Setting {
        let pki: TestPKI
        let directory: String
        let trust: String
        var caKey: String { "\(directory)/ca.key" }
        var caCertificate: String { "\(directory)/ca.crt" }

        init(suite: Suite) throws {
            pki = try TestPKI(suite: suite)
            directory = try TemporaryDirectory.create("core")
            trust = try pki.writeTrustStore(role: .release, crls: pki.crls())
            try pki.ca.key.pem().write(toFile: caKey, atomically: true, encoding: .utf8)
            try pki.ca.certificate.pem.write(toFile: caCertificate, atomically: true, encoding: .utf8)
        }

        deinit {
            TemporaryDirectory.remove(directory)
            TemporaryDirectory.remove(trust)
        }

        /// A certificate for `key` made by the `openssl` command line, the point in `form`.
        func forged(_ key: PrivateKey, form: OpenSSLTool.PointForm?, subject: String, extra: [String] = []) throws
            -> Certificate
        {
            let keyPath = "\(directory)/\(UUID().uuidString).key"
            try key.pem().write(toFile: keyPath, atomically: true, encoding: .utf8)
            let path = try OpenSSLTool.issueCertificate(
                for: keyPath, form: form, subject: subject, caCertificate: caCertificate, caKey: caKey,
                sm2: pki.suite == .gm,
                extensions: OpenSSLTool.signerExtensions(extra: extra), in: directory)
            return try Certificate.load(contentsOf: path)[0]
        }

        func signature(_ key: PrivateKey, _ certificate: Certificate) throws -> SignatureEnvelope.Signature {
            try SignatureEnvelope.sign(
                body: TwoPersonRuleTests.body, type: TwoPersonRuleTests.type, key: key, certificate: certificate,
                chain: [pki.ca.certificate])
        }

        /// Verifies the envelope, then applies a threshold; returns the refusal's code or nil.
        func thresholdCode(_ signatures: [SignatureEnvelope.Signature], threshold: Int) throws -> String? {
            // A little after `now`: the openssl tool's certificates start at the second it ran.
            let chains = ChainVerifier(
                store: try TrustStore(directory: trust), time: FixedTime(pki.now.addingTimeInterval(300)))
            let reports = try EnvelopeVerifier(chains: chains, role: .release)
                .verify(
                    SignatureEnvelope(payloadType: TwoPersonRuleTests.type, signatures: signatures),
                    body: TwoPersonRuleTests.body, expectedType: TwoPersonRuleTests.type)
            let untrusted = reports.filter { !$0.isTrusted }.compactMap(\.failureMessage)
            #expect(untrusted.isEmpty, "\(untrusted)")
            do {
                try EnvelopeVerifier.requireThreshold(reports, threshold: threshold, suite: pki.suite)
                return nil
            } catch {
                return error.code.rawValue
            }
        }
    }

    static let ecCases: [(Suite, OpenSSLTool.PointForm)] = Suite.allCases.flatMap { suite in
        [OpenSSLTool.PointForm.compressed, .hybrid, .uncompressed].map { (suite, $0) }
    }

    @Test(arguments: ecCases)
    func `a key in another point encoding is the same key`(suite: Suite, form: OpenSSLTool.PointForm) throws {
        let setting = try Setting(suite: suite)
        let signer = try setting.pki.leaf("Signer")
        let forged = try setting.forged(signer.key, form: form, subject: "/O=ota tests/CN=Signer again")
        // The certificate really carries the other encoding (the openssl tool re-encodes the key
        // as it was given: 33 point bytes compressed, 65 otherwise) …
        let pem = String(
            decoding: try OpenSSLTool.run(["x509", "-noout", "-pubkey"], stdin: Data(forged.pem.utf8)), as: UTF8.self)
        let carried = try PublicKey(pem: pem)
        let uncompressed = try signer.certificate.publicKey.der()
        let asCarried = PEMBlock.split(pem).first?.der ?? []
        #expect(form == .uncompressed ? asCarried == uncompressed : asCarried != uncompressed)
        // … and ota reads one key out of it, in one encoding.
        #expect(try carried.der() == uncompressed)
        #expect(try forged.publicKey.der() == uncompressed)
        #expect(try forged.publicKey.keyID() == signer.certificate.publicKey.keyID())
        #expect(uncompressed[uncompressed.count - 65] == 0x04)
    }

    @Test(arguments: ecCases.filter { $0.1 != .uncompressed })
    func `a second certificate for the same key is not a second signer`(suite: Suite, form: OpenSSLTool.PointForm)
        throws
    {
        let setting = try Setting(suite: suite)
        let signer = try setting.pki.leaf("Signer")
        let forged = try setting.forged(signer.key, form: form, subject: "/O=ota tests/CN=Somebody Else")
        let signatures = [
            try setting.signature(signer.key, signer.certificate), try setting.signature(signer.key, forged),
        ]
        #expect(try setting.thresholdCode(signatures, threshold: 2) == "signature.duplicate-signer")
        #expect(try setting.thresholdCode(signatures, threshold: 1) == nil)
    }

    @Test func `the same Ed25519 key under a second certificate is not a second signer`() throws {
        let setting = try Setting(suite: .intl)
        let signer = try setting.pki.leaf("Signer", type: .ed25519)
        let forged = try setting.forged(signer.key, form: nil, subject: "/O=ota tests/CN=Somebody Else")
        let signatures = [
            try setting.signature(signer.key, signer.certificate), try setting.signature(signer.key, forged),
        ]
        #expect(try setting.thresholdCode(signatures, threshold: 2) == "signature.duplicate-signer")
    }

    @Test(arguments: Suite.allCases)
    func `one person renewed with a new key counts once`(suite: Suite) throws {
        let setting = try Setting(suite: suite)
        let old = try setting.pki.leaf("Release Engineer Li")
        let renewed = try setting.pki.leaf("Release Engineer Li")
        let signatures = [
            try setting.signature(old.key, old.certificate), try setting.signature(renewed.key, renewed.certificate),
        ]
        #expect(try setting.thresholdCode(signatures, threshold: 2) == "signature.duplicate-signer")
    }

    @Test(arguments: Suite.allCases)
    func `one signer id under two names and two keys counts once`(suite: Suite) throws {
        let setting = try Setting(suite: suite)
        let first = try setting.pki.leaf("Li Wei", signerID: "E1001")
        let second = try setting.pki.leaf("Wei Li (new badge)", signerID: "e1001")
        #expect(try first.certificate.signerID == "E1001")
        let signatures = [
            try setting.signature(first.key, first.certificate), try setting.signature(second.key, second.certificate),
        ]
        #expect(try setting.thresholdCode(signatures, threshold: 2) == "signature.duplicate-signer")
    }

    @Test func `names that differ only by case, width, spacing or invisible characters are one signer`() throws {
        let setting = try Setting(suite: .intl)
        let plain = try setting.pki.leaf("Release Signer")
        for lookalike in ["RELEASE SIGNER", "Ｒｅｌｅａｓｅ Ｓｉｇｎｅｒ", "Release  Signer ", "Release\u{200B} Signer"] {
            let other = try setting.pki.leaf(lookalike)
            let signatures = [
                try setting.signature(plain.key, plain.certificate),
                try setting.signature(other.key, other.certificate),
            ]
            #expect(try setting.thresholdCode(signatures, threshold: 2) == "signature.duplicate-signer", "\(lookalike)")
        }
    }

    @Test(arguments: Suite.allCases)
    func `two people meet a threshold of two`(suite: Suite) throws {
        let setting = try Setting(suite: suite)
        let first = try setting.pki.leaf("Engineer One", signerID: "E1001")
        let second = try setting.pki.leaf("Engineer Two", signerID: "E1002")
        let signatures = [
            try setting.signature(first.key, first.certificate), try setting.signature(second.key, second.certificate),
        ]
        #expect(try setting.thresholdCode(signatures, threshold: 2) == nil)
        #expect(try setting.thresholdCode(signatures, threshold: 3) == "signature.threshold")
    }

    @Test func `a signatory chain is closed: a shared key and a shared name join three certificates`() {
        let a = Signatory(keyID: "k1", signerID: nil, subject: "cn=a")
        let b = Signatory(keyID: "k1", signerID: nil, subject: "cn=b")
        let c = Signatory(keyID: "k2", signerID: nil, subject: "cn=b")
        let d = Signatory(keyID: "k3", signerID: nil, subject: "cn=d")
        #expect(Signatory.distinct([a, d, c, b]) == [[0, 2, 3], [1]])
    }

    @Test func `a non-canonical Ed25519 public key encoding is refused`() throws {
        // y = p (2^255 - 19) encodes y = 0; and x = 0 with the sign bit set (y = 1).
        let yIsP: [UInt8] = [0xed] + [UInt8](repeating: 0xff, count: 30) + [0x7f]
        let negativeZero: [UInt8] = [0x01] + [UInt8](repeating: 0, count: 30) + [0x80]
        for bytes in [yIsP, negativeZero] {
            #expect(throws: OTAError(.keyMalformed, "")) { try PublicKey.raw(bytes, type: .ed25519) }
        }
        let key = try PrivateKey.generate(.ed25519)
        #expect(try PublicKey(der: try key.publicKey.der()) == key.publicKey)
    }
}
