import Foundation
import OTACore

/// An approval file as the installer and `bundle verify --approval` read it: the DSSE file,
/// its certificates and signatures against the approval anchors (both suites), then the
/// approval payload itself, which only a trusted signature reaches in real use and which is
/// therefore also decoded directly here.
struct ApprovalTarget: FuzzTarget {
    static let name = "approval"
    static let summary = "approval file: ApprovalVerifier.verify (intl and gm trust), CanonicalJSON.decode(Approval)"

    let verifiers: [ApprovalVerifier]

    init() throws(OTAError) {
        verifiers = [ApprovalVerifier(chains: try FuzzFixtures.chains(.intl)), ApprovalVerifier(chains: try FuzzFixtures.chains(.gm))]
    }

    func run(_ input: [UInt8]) {
        // The digest the approval must name: its own claim, so that a seed reaches the checks
        // after the digest comparison.
        var digest = Digest(algorithm: .sha256, bytes: [UInt8](repeating: 0, count: 32))
        if let signed = try? SignedApproval.decode(input), let payload = Data(base64Encoded: signed.payload),
           let approval = try? CanonicalJSON.decode(Approval.self, from: Array(payload), as: .approvalMalformed),
           let named = try? Digest(algorithm: approval.digestAlgorithm, hex: approval.manifestDigest) {
            digest = named
        }
        for verifier in verifiers {
            _ = try? verifier.verify(input, manifestDigest: digest, model: "X1")
        }
        if let approval = try? CanonicalJSON.decode(Approval.self, from: input, as: .approvalMalformed) {
            _ = try? Digest(algorithm: approval.digestAlgorithm, hex: approval.manifestDigest)
        }
    }
}
