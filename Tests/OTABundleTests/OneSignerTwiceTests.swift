import Foundation
import OTATestSupport
import Testing

@testable import OTABuilder
@testable import OTACore

/// The two-person rule through `bundle sign` and `bundle verify`: one release engineer holding
/// a second certificate for their own key, in another point encoding, made with the `openssl`
/// command line and signed by the (sample) signing CA, cannot count twice.
@Suite("One signer twice")
struct OneSignerTwiceTests {
    static let cases: [(Suite, OpenSSLTool.PointForm)] = Suite.allCases.flatMap { suite in
        [(suite, .compressed), (suite, .hybrid)]
    }

    /// signer-1's own key in a new certificate ("Release Signer 1 (second badge)"), point in `form`.
    func secondCertificate(_ fixture: BundleFixture, form: OpenSSLTool.PointForm?, key: String = "signer-1") throws
        -> SignerIdentity
    {
        let path = try OpenSSLTool.issueCertificate(
            for: "\(fixture.pki)/release/\(key).key", form: form,
            subject: "/O=ota sample OEM/OU=release/CN=Release Signer 1 (second badge)",
            caCertificate: "\(fixture.pki)/release/signing-ca.crt", caKey: "\(fixture.pki)/release/signing-ca.key",
            sm2: fixture.suite == .gm,
            extensions: OpenSSLTool.signerExtensions(), in: fixture.directory)
        return try SignerIdentity.load(
            key: "\(fixture.pki)/release/\(key).key", certificate: path, chain: "\(fixture.pki)/release/chain.pem",
            passphrase: nil)
    }

    /// The bundle's envelope with `signer`'s signature appended, as an attacker would edit it.
    func appended(_ fixture: BundleFixture, _ path: String, _ signer: SignerIdentity) throws -> String {
        var entries = try BundleFixture.entries(of: path)
        var envelope = try SignatureEnvelope.decode(entries[1].data)
        envelope.signatures.append(try signer.sign(entries[0].data, type: SignatureEnvelope.manifestType))
        entries[1].data = try envelope.encoded()
        return try fixture.write(RawTar.archive(entries))
    }

    @Test(arguments: cases)
    func `bundle sign refuses a second certificate for the signer's own key`(suite: Suite, form: OpenSSLTool.PointForm)
        throws
    {
        let fixture = try BundleFixture(suite: suite)
        let path = try fixture.standardBundle()
        let second = try secondCertificate(fixture, form: form)
        #expect(throws: OTAError(.signatureDuplicate, "")) { try BundleRewriter.cosign(path: path, signer: second) }
        #expect(fixture.verifyCode(path, threshold: 2, at: Date().addingTimeInterval(300)) == "signature.threshold")
    }

    @Test(arguments: cases)
    func `bundle verify counts a second certificate for one key once`(suite: Suite, form: OpenSSLTool.PointForm) throws
    {
        let fixture = try BundleFixture(suite: suite)
        let crafted = try appended(fixture, try fixture.standardBundle(), try secondCertificate(fixture, form: form))
        #expect(fixture.verifyCode(crafted, threshold: 1, at: Date().addingTimeInterval(300)) == nil)
        #expect(
            fixture.verifyCode(crafted, threshold: 2, at: Date().addingTimeInterval(300))
                == "signature.duplicate-signer")
    }

    @Test func `the same Ed25519 key under a second certificate counts once`() throws {
        let fixture = try BundleFixture(suite: .intl)
        // signer-2 holds the Ed25519 key in the intl sample.
        try fixture.image("a.img", size: 1000)
        let path = try fixture.build(
            manifest: try fixture.manifest(images: [("alpha", "a.img")]), signer: try fixture.signer("signer-2"))
        let crafted = try appended(fixture, path, try secondCertificate(fixture, form: nil, key: "signer-2"))
        #expect(
            fixture.verifyCode(crafted, threshold: 2, at: Date().addingTimeInterval(300))
                == "signature.duplicate-signer")
    }
}
