public import Foundation
public import OTACore

/// Builds a signed (and optionally encrypted) bundle from a manifest and its images.
public enum BundleBuilder {
    public struct Request: Sendable {
        public var manifestPath: String
        public var imagesDirectory: String
        public var signer: SignerIdentity
        /// Recipient certificates; empty for an unencrypted bundle.
        public var recipients: [Certificate]
        public var outputPath: String
        public var chunkSize: Int
        public var xzPreset: UInt32
        public var threads: Int
        public var now: Date

        public init(manifestPath: String, imagesDirectory: String, signer: SignerIdentity, recipients: [Certificate] = [], outputPath: String,
                    chunkSize: Int = Int(BundleLayout.defaultChunkSize), xzPreset: UInt32 = 6,
                    threads: Int = ProcessInfo.processInfo.activeProcessorCount, now: Date = Date()) {
            self.manifestPath = manifestPath
            self.imagesDirectory = imagesDirectory
            self.signer = signer
            self.recipients = recipients
            self.outputPath = outputPath
            self.chunkSize = chunkSize
            self.xzPreset = xzPreset
            self.threads = threads
            self.now = now
        }
    }

    /// What was built.
    public struct Report: Codable, Sendable {
        public let bundle: String
        public let bundleID: String
        public let suite: String
        public let manifestDigest: String
        public let encrypted: Bool
        public let recipients: Int
        public let images: [ImageReport]
        public let bytes: UInt64
    }

    public struct ImageReport: Codable, Sendable {
        public let name: String
        public let plainSize: UInt64
        public let storedSize: UInt64
        public let hash: String
    }

    public static func build(_ request: Request) throws(OTAError) -> Report {
        let source = try ManifestSource.load(request.manifestPath)
        let suite = source.suite
        guard suite.signatureAlgorithms.contains(try SignatureAlgorithm.forKey(request.signer.key.type)) else {
            throw .usage("signature.suite-mismatch", "the signer's \(request.signer.key.type.rawValue) key cannot sign a \(suite.rawValue)-suite bundle")
        }
        for certificate in request.recipients {
            let type = try certificate.publicKey.type
            let fits = suite == .gm ? type == .sm2 : (type == .p256 || type == .x25519)
            guard fits else {
                throw .usage("recipient.suite-mismatch", "recipient \(certificate.subject) has a \(type.rawValue) key, unusable in the \(suite.rawValue) suite")
            }
        }
        let encrypted = !request.recipients.isEmpty
        let contentKey: [UInt8]? = encrypted ? try SecureRandom.bytes(32) : nil
        let plainChunk = request.chunkSize
        guard (BundleLayout.minimumChunkSize...BundleLayout.maximumChunkSize).contains(UInt64(plainChunk)) else {
            throw .usage("usage.chunk-size", "chunk size must be \(BundleLayout.minimumChunkSize)...\(BundleLayout.maximumChunkSize)")
        }

        var images: [Manifest.Image] = []
        var scratches: [ScratchFile] = []
        for image in source.images {
            guard image.kind == .full else {
                throw .usage("manifest.delta-unavailable", "\(request.manifestPath): image '\(image.name)' is a delta; this build of ota cannot encode deltas yet")
            }
            let path = "\(request.imagesDirectory)/\(image.file)"
            let entry = BundleLayout.payloadEntry(image.name)
            var sealer: ChunkedAEAD.Sealer? = nil
            var prefix: [UInt8]? = nil
            if let contentKey {
                prefix = try SecureRandom.bytes(ChunkedAEAD.noncePrefixLength)
                sealer = try ChunkedAEAD.Sealer(aead: try PayloadCipher.aead(suite: suite, contentKey: contentKey, imageName: image.name), noncePrefix: prefix!,
                                                associatedData: PayloadCipher.associatedData(bundleID: source.bundleID, imageName: image.name))
            }
            let scratch = try ScratchFile(besides: request.outputPath, name: image.name)
            let encoded = try PayloadEncoder.encode(path: path, entry: entry, compression: image.compression, suite: suite, chunkSize: plainChunk,
                                                    sealer: sealer, noncePrefix: prefix, scratch: scratch, xzPreset: request.xzPreset, threads: request.threads)
            scratches.append(scratch)
            images.append(Manifest.Image(
                name: image.name, ecu: image.ecu, hardwareIds: image.hardwareIds, slotGroup: image.slotGroup, version: image.version,
                securityVersion: image.securityVersion, allowDowngrade: image.allowDowngrade, kind: .full, source: nil,
                target: Manifest.Target(hash: encoded.payload.plainHash, size: encoded.payload.plainSize), rxswin: image.rxswin, swin: image.swin,
                categories: image.categories, payload: encoded.payload))
        }

        let manifest = Manifest(
            bundle: Manifest.BundleInfo(id: source.bundleID, campaign: source.campaign, created: source.created ?? request.now, expires: source.expires,
                                        suite: suite, description: source.description),
            targets: source.targets, images: images, regulatory: source.regulatory, impact: source.impact, notice: source.notice,
            preconditions: source.preconditions, recovery: source.recovery,
            encryption: encrypted ? Manifest.Encryption(algorithm: suite.cipher, chunkSize: UInt64(plainChunk)) : nil)
        let problems = ManifestRules.problems(in: manifest)
        guard problems.isEmpty else { throw ManifestSource.invalid(problems, source: request.manifestPath) }
        let manifestBytes = try CanonicalJSON.encode(manifest)
        let digest = try Hasher.hash(suite.hash, manifestBytes)

        let envelope = SignatureEnvelope(payloadType: SignatureEnvelope.manifestType,
                                         signatures: [try request.signer.sign(manifestBytes, type: SignatureEnvelope.manifestType)])
        var recipients = Recipients()
        if let contentKey {
            recipients = try Self.recipients(for: request.recipients, contentKey: contentKey, digest: digest)
        }
        let payloads = zip(images, scratches).map { image, scratch in
            (entry: image.payload.entry, size: image.payload.storedSize, source: { () throws(OTAError) -> BundleWriter.PayloadSource in .file(try scratch.reader()) })
        }
        try BundleWriter.write(to: request.outputPath, manifest: manifestBytes, envelope: envelope, recipients: recipients, payloads: payloads)
        let size = UInt64((try? InputFile(path: request.outputPath).size()) ?? 0)
        return Report(bundle: request.outputPath, bundleID: source.bundleID, suite: suite.rawValue, manifestDigest: digest.hex, encrypted: encrypted,
                      recipients: recipients.recipients.count,
                      images: images.map { ImageReport(name: $0.name, plainSize: $0.payload.plainSize, storedSize: $0.payload.storedSize, hash: $0.target.hash) },
                      bytes: size)
    }

    static func recipients(for certificates: [Certificate], contentKey: [UInt8], digest: Digest) throws(OTAError) -> Recipients {
        var entries: [Recipients.Entry] = []
        for certificate in certificates {
            let key = try certificate.publicKey
            let wrapped = try WrappedKey.wrap(contentKey, to: key, context: Recipients.wrapContext(manifestDigest: digest))
            entries.append(Recipients.Entry(keyId: try key.keyID().hex, subject: certificate.subject, wrapped: wrapped))
        }
        return Recipients(recipients: entries)
    }
}
