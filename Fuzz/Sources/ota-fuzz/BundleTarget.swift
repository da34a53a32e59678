import OTACore

/// A whole bundle file through `BundleReader`, the way the vehicle and the tools read it:
///
/// 1. `BundleVerification.verify` with the sample trust store of each suite, `deep` (what
///    `ota bundle verify --deep` and the installer do): signatures first, then every payload.
/// 2. The unverified-head path of `ota bundle sign`/`rewrap` (`BundleRewriter`): the head read
///    without trusting it, the manifest decoded and checked against the rules, then every
///    payload streamed against the manifest and decoded (decrypted with the sample keys,
///    decompressed, content hash), as far as the chunk hashes let it.
struct BundleTarget: FuzzTarget {
    static let name = "bundle"
    static let summary =
        "bundle file: BundleVerification.verify --deep (intl, gm); BundleReader head + payloads as bundle sign reads them"

    let path: String
    let policies: [(suite: Suite, policy: BundleTrustPolicy, keys: [PrivateKey])]

    init() throws(OTAError) {
        path = try FuzzFixtures.scratch(Self.name) + "/input.ota"
        var policies: [(suite: Suite, policy: BundleTrustPolicy, keys: [PrivateKey])] = []
        for suite in [Suite.intl, .gm] {
            let policy = BundleTrustPolicy(trust: try FuzzFixtures.trust(suite), time: FixedTime(FuzzFixtures.now))
            policies.append((suite, policy, try FuzzFixtures.recipientKeys(suite)))
        }
        self.policies = policies
    }

    func run(_ input: [UInt8]) {
        FuzzFixtures.write(input, to: path)
        for test in policies {
            do throws(OTAError) {
                _ = try BundleVerification.verify(
                    path: path, policy: test.policy, decryptionKeys: test.keys, deep: true)
            } catch {
                FuzzTargets.explain(error)
            }
        }
        do throws(OTAError) { try readUnverified() } catch { FuzzTargets.explain(error) }
    }

    private func readUnverified() throws(OTAError) {
        let reader = try BundleReader(path: path)
        let head = try reader.readHead()
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        guard ManifestRules.problems(in: manifest).isEmpty else { return }
        let suite = manifest.bundle.suite
        let digest = try Hasher.hash(suite.hash, head.manifestBytes)
        var contentKey: ContentKey? = nil
        if manifest.encryption != nil, let keys = policies.first(where: { $0.suite == suite })?.keys {
            contentKey = try? head.recipients.contentKey(using: keys, manifestDigest: digest)
        }
        try reader.streamPayloadsUnverifiedHead(manifest: manifest)
        while let stream = try reader.nextPayload() {
            let decoder = try PayloadDecoder(manifest: manifest, image: stream.image, contentKey: contentKey)
            while try stream.withNextChunk({ chunk, isLast throws(OTAError) in
                try decoder.consume(chunk, isLast: isLast) { _ in }
            }) {}
            try decoder.finish()
        }
    }
}
