import OTACore

/// `signatures.json` as `BundleReader.verifyHead` reads it: decoded, each signature's
/// certificates and signature checked over a sample signed manifest against the release
/// anchors, then the threshold decided (both suites).
struct EnvelopeTarget: FuzzTarget {
    static let name = "envelope"
    static let summary =
        "signatures.json: SignatureEnvelope.decode, EnvelopeVerifier.verify, requireThreshold (intl and gm)"

    let cases: [(suite: Suite, verifier: EnvelopeVerifier, manifest: [UInt8])]

    init() throws(OTAError) {
        cases = [
            (
                .intl, EnvelopeVerifier(chains: try FuzzFixtures.chains(.intl), role: .release),
                try FuzzFixtures.manifestBytes(.intl)
            ),
            (
                .gm, EnvelopeVerifier(chains: try FuzzFixtures.chains(.gm), role: .release),
                try FuzzFixtures.manifestBytes(.gm)
            ),
        ]
    }

    func run(_ input: [UInt8]) {
        guard let envelope = try? SignatureEnvelope.decode(input) else { return }
        for test in cases {
            guard
                let reports = try? test.verifier.verify(
                    envelope, body: test.manifest, expectedType: SignatureEnvelope.manifestType)
            else {
                continue
            }
            for threshold in [1, 2] {
                _ = try? EnvelopeVerifier.requireThreshold(reports, threshold: threshold, suite: test.suite)
            }
        }
    }
}
