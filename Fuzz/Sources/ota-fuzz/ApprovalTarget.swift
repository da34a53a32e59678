import Foundation
import OTACore

/// An approval file as the installer and `bundle verify --approval` read it: the DSSE file,
/// its certificates and signatures against the approval anchors, then the approval payload
/// checked against a sample signed manifest, field by field (both suites). The payload, which
/// only a trusted signature reaches in real use, is also decoded directly.
struct ApprovalTarget: FuzzTarget {
    static let name = "approval"
    static let summary =
        "approval file: ApprovalVerifier.verify against a sample manifest (intl and gm), CanonicalJSON.decode(Approval)"

    let cases: [(verifier: ApprovalVerifier, manifest: Manifest, digest: Digest)]

    init() throws(OTAError) {
        var cases: [(verifier: ApprovalVerifier, manifest: Manifest, digest: Digest)] = []
        for suite in [Suite.intl, .gm] {
            let bytes = try FuzzFixtures.manifestBytes(suite)
            cases.append(
                (
                    ApprovalVerifier(chains: try FuzzFixtures.chains(suite)),
                    try CanonicalJSON.decode(Manifest.self, from: bytes, as: .manifestMalformed),
                    try Hasher.hash(suite.hash, bytes)
                ))
        }
        self.cases = cases
    }

    func run(_ input: [UInt8]) {
        for test in cases {
            do throws(OTAError) {
                _ = try test.verifier.verify(input, manifest: test.manifest, manifestDigest: test.digest, model: "X1")
            } catch {
                FuzzTargets.explain(error)
            }
        }
        if let approval = try? CanonicalJSON.decode(Approval.self, from: input, as: .approvalMalformed) {
            _ = try? Digest(algorithm: approval.digestAlgorithm, hex: approval.manifestDigest)
        }
    }
}
