internal import Foundation
public import OTABase

/// `ota bundle verify` as a library call: head, signatures, chains, threshold, expiry, then every
/// stored byte of every payload against its signed chunk hash; with `deep`, also decrypts and
/// decompresses each payload and checks its content hash.
public enum BundleVerification {
    public struct ImageResult: Codable, Sendable {
        public let name: String
        public let storedSize: UInt64
        public let chunks: Int
        public let contentChecked: Bool
    }

    public struct Report: Codable, Sendable {
        public let bundle: String
        public let bundleID: String
        public let campaign: String
        public let suite: String
        public let manifestDigest: String
        public let encrypted: Bool
        public let threshold: Int
        public let signers: [SignerReport]
        public let images: [ImageResult]
        /// True when every payload's content (after decryption and decompression) was checked.
        public let contentChecked: Bool
        public let approval: Approval?
        /// What the bundle's trust update would change in the given trust store (nothing is written).
        public let trustUpdate: TrustChange?

        /// JSON keys spell identifiers `…Id`, as the signed formats do.
        enum CodingKeys: String, CodingKey {
            case bundle, bundleID = "bundleId", campaign, suite, manifestDigest, encrypted, threshold, signers, images,
                contentChecked, approval, trustUpdate
        }
    }

    public static func verify(
        path: String, policy: BundleTrustPolicy, decryptionKeys: [PrivateKey] = [], deep: Bool = false,
        approval: (bytes: [UInt8], model: String)? = nil, progress: ((WorkProgress) -> Void)? = nil
    ) throws(OTAError) -> Report {
        let reader = try BundleReader(path: path)
        let head = try reader.verifyHead(policy: policy)
        let manifest = head.manifest
        var checkedApproval: Approval? = nil
        if let approval {
            let chains = ChainVerifier(store: head.trust, time: policy.time, staleCRLPolicy: policy.staleCRLPolicy)
            checkedApproval = try ApprovalVerifier(chains: chains).verify(
                approval.bytes, manifest: manifest, manifestDigest: head.digest, model: approval.model)
        }
        var contentKey: ContentKey? = nil
        if deep && manifest.encryption != nil {
            guard !decryptionKeys.isEmpty else {
                throw OTAError(
                    .decryptKeyMissing,
                    "\(path): --deep on an encrypted bundle needs a recipient key (--decryption-key)")
            }
            contentKey = try head.recipients.contentKey(using: decryptionKeys, manifestDigest: head.digest)
        }
        var images: [ImageResult] = []
        let total = manifest.images.reduce(UInt64(0)) { $0 + $1.payload.storedSize }
        var done: UInt64 = 0
        while let stream = try reader.nextPayload() {
            let decoder =
                deep ? try PayloadDecoder(manifest: manifest, image: stream.image, contentKey: contentKey) : nil
            let step = "\(deep ? "verify and decode" : "verify") \(stream.image.name)"
            while try stream.withNextChunk({ chunk, isLast throws(OTAError) in
                try decoder?.consume(chunk, isLast: isLast) { _ in }
                done += UInt64(chunk.count)
                progress?(WorkProgress(step: step, done: done, total: total))
            }) {}
            try decoder?.finish()
            images.append(
                ImageResult(
                    name: stream.image.name, storedSize: stream.image.payload.storedSize,
                    chunks: stream.image.payload.chunkHashes.count, contentChecked: deep))
        }
        return Report(
            bundle: path, bundleID: manifest.bundle.id, campaign: manifest.bundle.campaign,
            suite: manifest.bundle.suite.rawValue,
            manifestDigest: head.digest.hex, encrypted: manifest.encryption != nil, threshold: policy.threshold,
            signers: head.signers, images: images, contentChecked: deep, approval: checkedApproval,
            trustUpdate: head.trustUpdate?.change)
    }
}
