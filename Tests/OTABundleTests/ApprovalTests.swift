import Foundation
import OTACore
import Testing

@testable import OTABuilder

@Suite("Approvals")
struct ApprovalTests {
    static let adReference =
        "regulatory:\n  - {type: ad-approval, number: AD-1, authority: MIIT}\n  - {type: filing, number: F-1, authority: MIIT}"

    func approved(_ fixture: BundleFixture, validUntil: Date, approvalID: String = "AD-1") throws
        -> (bundle: String, approval: [UInt8], digest: Digest, manifest: Manifest)
    {
        try fixture.image("ad.img", size: 30_000)
        let bundle = try fixture.build(
            manifest: try fixture.manifest(
                images: [("adas", "ad.img")], categories: "[automated-driving]", extra: Self.adReference))
        let output = fixture.directory + "/\(UUID().uuidString).approval"
        _ = try ApprovalIssuer.approve(
            bundlePath: bundle, signer: try fixture.signer("approval-signer", role: "approval"), approvalID: approvalID,
            models: ["X1"], validUntil: validUntil, outputPath: output)
        let head = try BundleReader(path: bundle).readHead()
        let digest = try Hasher.hash(fixture.suite.hash, head.manifestBytes)
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        return (bundle, Array(try Data(contentsOf: URL(fileURLWithPath: output))), digest, manifest)
    }

    func verifier(_ fixture: BundleFixture, at time: Date = Date()) throws -> ApprovalVerifier {
        ApprovalVerifier(chains: ChainVerifier(store: try TrustStore(directory: fixture.trust), time: FixedTime(time)))
    }

    @Test(arguments: Suite.allCases)
    func `an approval is valid for its bundle, model and time only`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let until = Date().addingTimeInterval(86400 * 30)
        let (_, approval, digest, manifest) = try approved(fixture, validUntil: until)
        #expect(
            try verifier(fixture).verify(approval, manifest: manifest, manifestDigest: digest, model: "X1").approvalId
                == "AD-1")
        #expect(throws: OTAError(.approvalModelMismatch, "")) {
            try verifier(fixture).verify(approval, manifest: manifest, manifestDigest: digest, model: "X2")
        }
        let other = Digest(algorithm: digest.algorithm, bytes: digest.bytes.map { $0 ^ 1 })
        #expect(throws: OTAError(.approvalBundleMismatch, "")) {
            try verifier(fixture).verify(approval, manifest: manifest, manifestDigest: other, model: "X1")
        }
        #expect(throws: OTAError(.approvalExpired, "")) {
            try verifier(fixture, at: until.addingTimeInterval(1)).verify(
                approval, manifest: manifest, manifestDigest: digest, model: "X1")
        }
        #expect(throws: OTAError(.approvalNotYetValid, "")) {
            try verifier(fixture, at: Date().addingTimeInterval(-86400)).verify(
                approval, manifest: manifest, manifestDigest: digest, model: "X1")
        }
    }

    @Test func `an approval signed by a release key, or altered, is refused`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let (bundle, approval, digest, manifest) = try approved(fixture, validUntil: Date().addingTimeInterval(86400))
        let selfApproved = fixture.directory + "/self.approval"
        _ = try ApprovalIssuer.approve(
            bundlePath: bundle, signer: try fixture.signer(), approvalID: "AD-1", models: ["X1"],
            validUntil: Date().addingTimeInterval(86400), outputPath: selfApproved)
        #expect(throws: OTAError(.approvalUntrusted, "")) {
            try verifier(fixture).verify(
                Array(try Data(contentsOf: URL(fileURLWithPath: selfApproved))), manifest: manifest,
                manifestDigest: digest, model: "X1")
        }
        var signed = try SignedApproval.decode(approval)
        var payload = try CanonicalJSON.decode(
            Approval.self, from: Array(Data(base64Encoded: signed.payload)!), as: .approvalMalformed)
        payload.models = ["X1", "X2"]
        signed.payload = Data(try CanonicalJSON.encode(payload)).base64EncodedString()
        let altered = try CanonicalJSON.encode(signed)
        #expect(throws: OTAError(.approvalUntrusted, "")) {
            try verifier(fixture).verify(altered, manifest: manifest, manifestDigest: digest, model: "X2")
        }
        #expect(throws: OTAError(.approvalMalformed, "")) {
            try verifier(fixture).verify(Array("{}".utf8), manifest: manifest, manifestDigest: digest, model: "X1")
        }
    }

    @Test(arguments: Suite.allCases)
    func `an approval must agree with the manifest in every field it states`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let until = Date().addingTimeInterval(86400 * 30)
        let (bundle, good, digest, manifest) = try approved(fixture, validUntil: until)
        // Signed by the real approval authority, for the right digest, but under another number.
        #expect(throws: OTAError(.usageApprovalId, "")) {
            try ApprovalIssuer.approve(
                bundlePath: bundle, signer: try fixture.signer("approval-signer", role: "approval"),
                approvalID: "AD-OTHER",
                models: ["X1"], validUntil: until, outputPath: fixture.directory + "/other.approval")
        }
        let crafted = Approval(
            approvalId: "AD-OTHER", bundleId: manifest.bundle.id, manifestDigest: digest, models: ["X1"],
            validFrom: Date().addingTimeInterval(-60), validUntil: until, issued: Date())
        let craftedPayload = try CanonicalJSON.encode(crafted)
        let otherNumber = try CanonicalJSON.encode(
            SignedApproval(
                payload: craftedPayload,
                signatures: [
                    try fixture.signer("approval-signer", role: "approval").sign(
                        craftedPayload, type: SignatureEnvelope.approvalType)
                ]))
        #expect(throws: OTAError(.approvalNumberMismatch, "")) {
            try verifier(fixture).verify(otherNumber, manifest: manifest, manifestDigest: digest, model: "X1")
        }
        #expect(
            try verifier(fixture).verify(good, manifest: manifest, manifestDigest: digest, model: "X1").approvalId
                == "AD-1")
        // The right digest and number, but another bundle id in the approval.
        let approval = Approval(
            approvalId: "AD-1", bundleId: "another-bundle", manifestDigest: digest, models: ["X1"],
            validFrom: Date().addingTimeInterval(-60),
            validUntil: until, issued: Date())
        let payload = try CanonicalJSON.encode(approval)
        let signer = try fixture.signer("approval-signer", role: "approval")
        let signed = SignedApproval(
            payload: payload, signatures: [try signer.sign(payload, type: SignatureEnvelope.approvalType)])
        #expect(throws: OTAError(.approvalBundleMismatch, "")) {
            try verifier(fixture).verify(
                try CanonicalJSON.encode(signed), manifest: manifest, manifestDigest: digest, model: "X1")
        }
        // A manifest that names no ad-approval reference cannot be approved at all.
        var unnamed = manifest
        unnamed.regulatory = []
        #expect(throws: OTAError(.approvalNumberMismatch, "")) {
            try verifier(fixture).verify(good, manifest: unnamed, manifestDigest: digest, model: "X1")
        }
    }
}
