import Foundation
@testable import OTABuilder
import OTACore
import Testing

@Suite("Approvals")
struct ApprovalTests {
    func approved(_ fixture: BundleFixture, validUntil: Date) throws -> (bundle: String, approval: [UInt8], digest: Digest) {
        try fixture.image("ad.img", size: 30_000)
        let bundle = try fixture.build(manifest: try fixture.manifest(images: [("adas", "ad.img")], categories: "[automated-driving]"))
        let output = fixture.directory + "/\(UUID().uuidString).approval"
        _ = try ApprovalIssuer.approve(bundlePath: bundle, signer: try fixture.signer("approval-signer", role: "approval"), approvalID: "AD-1",
                                       models: ["X1"], validUntil: validUntil, outputPath: output)
        let head = try BundleReader(path: bundle).readHead()
        let digest = try Hasher.hash(fixture.suite.hash, head.manifestBytes)
        return (bundle, Array(try Data(contentsOf: URL(fileURLWithPath: output))), digest)
    }

    func verifier(_ fixture: BundleFixture, at time: Date = Date()) throws -> ApprovalVerifier {
        ApprovalVerifier(chains: ChainVerifier(store: try TrustStore(directory: fixture.trust), time: FixedTime(time)))
    }

    @Test(arguments: Suite.allCases)
    func `an approval is valid for its bundle, model and time only`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let until = Date().addingTimeInterval(86400 * 30)
        let (_, approval, digest) = try approved(fixture, validUntil: until)
        #expect(try verifier(fixture).verify(approval, manifestDigest: digest, model: "X1").approvalId == "AD-1")
        #expect(throws: OTAError(.approvalModelMismatch, "")) { try verifier(fixture).verify(approval, manifestDigest: digest, model: "X2") }
        let other = Digest(algorithm: digest.algorithm, bytes: digest.bytes.map { $0 ^ 1 })
        #expect(throws: OTAError(.approvalBundleMismatch, "")) { try verifier(fixture).verify(approval, manifestDigest: other, model: "X1") }
        #expect(throws: OTAError(.approvalExpired, "")) {
            try verifier(fixture, at: until.addingTimeInterval(1)).verify(approval, manifestDigest: digest, model: "X1")
        }
        #expect(throws: OTAError(.approvalNotYetValid, "")) {
            try verifier(fixture, at: Date().addingTimeInterval(-86400)).verify(approval, manifestDigest: digest, model: "X1")
        }
    }

    @Test func `an approval signed by a release key, or altered, is refused`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let (bundle, approval, digest) = try approved(fixture, validUntil: Date().addingTimeInterval(86400))
        let selfApproved = fixture.directory + "/self.approval"
        _ = try ApprovalIssuer.approve(bundlePath: bundle, signer: try fixture.signer(), approvalID: "SELF", models: ["X1"],
                                       validUntil: Date().addingTimeInterval(86400), outputPath: selfApproved)
        #expect(throws: OTAError(.approvalUntrusted, "")) {
            try verifier(fixture).verify(Array(try Data(contentsOf: URL(fileURLWithPath: selfApproved))), manifestDigest: digest, model: "X1")
        }
        var signed = try SignedApproval.decode(approval)
        var payload = try CanonicalJSON.decode(Approval.self, from: Array(Data(base64Encoded: signed.payload)!), as: .approvalMalformed)
        payload.models = ["X1", "X2"]
        signed.payload = Data(try CanonicalJSON.encode(payload)).base64EncodedString()
        let altered = try CanonicalJSON.encode(signed)
        #expect(throws: OTAError(.approvalUntrusted, "")) { try verifier(fixture).verify(altered, manifestDigest: digest, model: "X2") }
        #expect(throws: OTAError(.approvalMalformed, "")) { try verifier(fixture).verify(Array("{}".utf8), manifestDigest: digest, model: "X1") }
    }
}
