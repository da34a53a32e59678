public import Foundation
public import OTACore
import OTADelta

#if canImport(Glibc)
    import Glibc
#endif

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
        /// Builds in this suite instead of the manifest's `bundle.suite` (one manifest for both).
        public var suite: Suite?
        /// Refuses, before signing, what every vehicle would refuse (expired, created in the
        /// future, a category without its filing). Off only for test benches that need such bundles.
        public var refusesWhatVehiclesRefuse = true
        /// A signed trust update (`ota trust update`) to carry in `trust-update.json`, bound by
        /// the manifest; vehicles apply it before they check the bundle's signers.
        public var trustUpdate: [UInt8]?
        /// Whether delta images' inserted bytes are compressed with old bytes in their dictionary
        /// (`DeltaOptions.insertsPriming`): always (true), never (false) or, nil, only for
        /// executable updates that are mostly new code. Smaller patches, at the cost of the
        /// builder's time and memory.
        public var primeDeltaInserts: Bool?
        /// Delta images' inserted bytes are compressed in two halves at once when there are
        /// enough (`DeltaOptions.parallelInserts`): less of the builder's time for slightly
        /// larger patches and more of its memory.
        public var parallelDeltaInserts = false
        /// Delta images of x86-64 code may carry their inserted operands in a stream of their own
        /// (`DeltaOptions.splitOperands`, body coding 5); off, vehicles whose decoder predates it
        /// read every patch.
        public var splitDeltaOperands = true
        /// Delta images of AArch64 code may keep their inserted bytes word-aligned
        /// (`DeltaOptions.alignInserts`, body coding bit 0x20); off, vehicles whose decoder
        /// predates it read every patch.
        public var alignDeltaInserts = true
        /// Delta images may carry the zlib and gzip streams that changed puffed, written back bit
        /// for bit on the vehicle (`DeltaOptions.recompressStreams`, body compression bit 0x80);
        /// off, vehicles whose decoder predates it read every patch.
        public var recompressDeltaStreams = true

        /// The options the builder's delta images are made with, in `suite`.
        func deltaOptions(suite: Suite) -> DeltaOptions {
            var options = DeltaOptions()
            options.hashAlgorithm = suite.hash
            options.insertsPriming = primeDeltaInserts.map { $0 ? .always : .never } ?? .mostlyNew
            options.parallelInserts = parallelDeltaInserts
            options.splitOperands = splitDeltaOperands
            options.alignInserts = alignDeltaInserts
            options.recompressStreams = recompressDeltaStreams
            return options
        }

        public init(
            manifestPath: String, imagesDirectory: String, signer: SignerIdentity, recipients: [Certificate] = [],
            outputPath: String,
            chunkSize: Int = Int(BundleLayout.defaultChunkSize), xzPreset: UInt32 = 6,
            threads: Int = ProcessInfo.processInfo.activeProcessorCount, now: Date = Date(), suite: Suite? = nil
        ) {
            self.suite = suite
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
        /// What vehicles may refuse later or elsewhere (a filing that ends before the bundle
        /// expires, ...), found before signing; what every vehicle refuses now stops the build.
        public let warnings: [String]
        /// The trust update the bundle carries, as the manifest names it.
        public let trustUpdate: Manifest.TrustUpdateReference?

        /// JSON keys spell identifiers `…Id`, as the signed formats do.
        enum CodingKeys: String, CodingKey {
            case bundle, bundleID = "bundleId", suite, manifestDigest, encrypted, recipients, images, bytes, warnings,
                trustUpdate
        }
    }

    public struct ImageReport: Codable, Sendable {
        public let name: String
        public let kind: String
        /// The installed image's size.
        public let imageSize: UInt64
        /// The payload content's size: the image, or the patch for a delta.
        public let plainSize: UInt64
        public let storedSize: UInt64
        public let hash: String
    }

    /// Builds the bundle; `progress` hears of every image byte read (and of delta making).
    public static func build(_ request: Request, progress: ((WorkProgress) -> Void)? = nil) throws(OTAError) -> Report {
        let source = try ManifestSource.load(request.manifestPath)
        let suite = request.suite ?? source.suite
        guard suite.signatureAlgorithms.contains(try SignatureAlgorithm.forKey(request.signer.key.type)) else {
            throw OTAError(
                .keySuiteMismatch,
                "the signer's \(request.signer.key.type.rawValue) key cannot sign a \(suite.rawValue)-suite bundle")
        }
        for certificate in request.recipients {
            let type = try certificate.publicKey.type
            let fits = suite == .gm ? type == .sm2 : (type == .p256 || type == .x25519)
            guard fits else {
                throw OTAError(
                    .recipientSuiteMismatch,
                    "recipient \(certificate.subject) has a \(type.rawValue) key, unusable in the \(suite.rawValue) suite"
                )
            }
        }
        let trustUpdate = try request.trustUpdate.map { (bytes: [UInt8]) throws(OTAError) in
            try Self.trustUpdateReference(bytes, suite: suite, at: request.now)
        }
        let encrypted = !request.recipients.isEmpty
        let contentKey: ContentKey? = encrypted ? try ContentKey.random() : nil
        let plainChunk = request.chunkSize
        guard (BundleLayout.minimumChunkSize...BundleLayout.maximumChunkSize).contains(UInt64(plainChunk)) else {
            throw OTAError(
                .usageChunkSize,
                "chunk size must be \(BundleLayout.minimumChunkSize)...\(BundleLayout.maximumChunkSize)")
        }

        var images: [Manifest.Image] = []
        var scratches: [ScratchFile] = []
        var total: UInt64 = 0
        for image in source.images {
            if let path = try? ImagesDirectory.resolve(image.file, in: request.imagesDirectory),
                let size = try? InputFile(path: path).size()
            {
                total += UInt64(size)
            }
        }
        var done: UInt64 = 0
        for image in source.images {
            var path = try ImagesDirectory.resolve(image.file, in: request.imagesDirectory)
            let entry = BundleLayout.payloadEntry(image.name)
            // A delta's payload is the patch from the named earlier image to this one.
            var delta: DeltaPayload? = nil
            if image.kind == .delta {
                let made = try DeltaPayload.make(
                    image: image, imagesDirectory: request.imagesDirectory,
                    options: request.deltaOptions(suite: suite), besides: request.outputPath)
                delta = made
                path = made.patchPath
            }
            defer { if let delta { unlink(delta.patchPath) } }
            var sealer: ChunkedAEAD.Sealer? = nil
            var prefix: [UInt8]? = nil
            if let contentKey {
                prefix = try SecureRandom.bytes(ChunkedAEAD.noncePrefixLength)
                sealer = try ChunkedAEAD.Sealer(
                    aead: try PayloadCipher.aead(suite: suite, contentKey: contentKey, imageName: image.name),
                    noncePrefix: prefix!,
                    associatedData: PayloadCipher.associatedData(bundleID: source.bundleID, imageName: image.name))
            }
            let scratch = try ScratchFile(besides: request.outputPath, name: image.name)
            // A patch is xz inside already: stored without a second compression.
            let encoded = try PayloadEncoder.encode(
                path: path, entry: entry, compression: delta == nil ? image.compression : .none, suite: suite,
                chunkSize: plainChunk,
                sealer: sealer, noncePrefix: prefix, scratch: scratch, xzPreset: request.xzPreset,
                threads: request.threads
            ) { read in
                progress?(
                    WorkProgress(
                        step: "\(delta == nil ? "compress" : "store patch of") \(image.name)", done: done + read,
                        total: total))
            }
            done += delta?.target.size ?? encoded.payload.plainSize
            scratches.append(scratch)
            images.append(
                Manifest.Image(
                    name: image.name, ecu: image.ecu, hardwareIds: image.hardwareIds, slotGroup: image.slotGroup,
                    version: image.version,
                    securityVersion: image.securityVersion, allowDowngrade: image.allowDowngrade, kind: image.kind,
                    source: delta?.source,
                    target: delta?.target
                        ?? Manifest.Target(hash: encoded.payload.plainHash, size: encoded.payload.plainSize),
                    rxswin: image.rxswin, swin: image.swin,
                    categories: image.categories, payload: encoded.payload))
        }

        let manifest = Manifest(
            bundle: Manifest.BundleInfo(
                id: source.bundleID, campaign: source.campaign, created: source.created ?? request.now,
                expires: source.expires,
                suite: suite, description: source.description),
            targets: source.targets, images: images, regulatory: source.regulatory, impact: source.impact,
            notice: source.notice,
            preconditions: source.preconditions, recovery: source.recovery,
            encryption: encrypted ? Manifest.Encryption(algorithm: suite.cipher, chunkSize: UInt64(plainChunk)) : nil,
            trustUpdate: trustUpdate)
        let problems = ManifestRules.problems(in: manifest)
        guard problems.isEmpty else { throw ManifestSource.invalid(problems, source: request.manifestPath) }
        // Before anything is signed: what every vehicle would refuse stops the build here.
        let refusals = ManifestRules.vehicleRefusals(in: manifest, at: request.now)
        if request.refusesWhatVehiclesRefuse, !refusals.problems.isEmpty {
            throw ManifestSource.invalid(refusals.problems, source: request.manifestPath)
        }
        let manifestBytes = try CanonicalJSON.encode(manifest)
        let digest = try Hasher.hash(suite.hash, manifestBytes)

        let envelope = SignatureEnvelope(
            payloadType: SignatureEnvelope.manifestType,
            signatures: [try request.signer.sign(manifestBytes, type: SignatureEnvelope.manifestType)])
        var recipients = Recipients()
        if let contentKey {
            recipients = try Self.recipients(for: request.recipients, contentKey: contentKey, digest: digest)
        }
        let payloads = zip(images, scratches).map { image, scratch in
            (
                entry: image.payload.entry, size: image.payload.storedSize,
                source: { () throws(OTAError) -> BundleWriter.PayloadSource in .file(try scratch.reader()) }
            )
        }
        try BundleWriter.write(
            to: request.outputPath, manifest: manifestBytes, envelope: envelope, recipients: recipients,
            trustUpdate: request.trustUpdate, payloads: payloads)
        let size = UInt64((try? InputFile(path: request.outputPath).size()) ?? 0)
        return Report(
            bundle: request.outputPath, bundleID: source.bundleID, suite: suite.rawValue, manifestDigest: digest.hex,
            encrypted: encrypted,
            recipients: recipients.recipients.count,
            images: images.map {
                ImageReport(
                    name: $0.name, kind: $0.kind.rawValue, imageSize: $0.target.size, plainSize: $0.payload.plainSize,
                    storedSize: $0.payload.storedSize, hash: $0.target.hash)
            },
            bytes: size, warnings: refusals.warnings.map(\.description), trustUpdate: trustUpdate)
    }

    /// What the manifest says of a trust update to carry: its suite hash and version. What every
    /// vehicle refuses (not a signed trust update, expired) stops the build; the signatures are
    /// the vehicles' to check against their own roots.
    static func trustUpdateReference(_ bytes: [UInt8], suite: Suite, at now: Date) throws(OTAError)
        -> Manifest.TrustUpdateReference
    {
        guard SignedTrustUpdate.looksLikeOne(bytes) else {
            throw OTAError(
                .trustUpdateMalformed, "--trust-update: not a signed trust update (make one with ota trust update)")
        }
        let signed = try SignedTrustUpdate.decode(bytes)
        let (update, _) = try signed.contents()
        guard now < update.expires else {
            throw OTAError(
                .trustUpdateExpired,
                "--trust-update: version \(update.version) expired at \(Timestamp.format(update.expires))")
        }
        guard !signed.signatures.isEmpty else {
            throw OTAError(.trustUpdateThreshold, "--trust-update: version \(update.version) carries no signature")
        }
        return Manifest.TrustUpdateReference(digest: try Hasher.hash(suite.hash, bytes).hex, version: update.version)
    }

    static func recipients(for certificates: [Certificate], contentKey: ContentKey, digest: Digest) throws(OTAError)
        -> Recipients
    {
        var entries: [Recipients.Entry] = []
        for certificate in certificates {
            let key = try certificate.publicKey
            let wrapped = try WrappedKey.wrap(
                contentKey, to: key, context: Recipients.wrapContext(manifestDigest: digest))
            entries.append(Recipients.Entry(keyId: try key.keyID().hex, subject: certificate.subject, wrapped: wrapped))
        }
        return Recipients(recipients: entries)
    }
}

/// A delta image's patch, made with OTADelta from the earlier image the manifest names (both
/// images hashed with `options`' hash, the bundle's suite's).
struct DeltaPayload {
    let patchPath: String
    let source: Manifest.DeltaSource
    let target: Manifest.Target

    static func make(
        image: ManifestSource.Image, imagesDirectory: String, options: DeltaOptions,
        besides outputPath: String
    ) throws(OTAError) -> DeltaPayload {
        guard let sourceFile = image.sourceFile, let sourceVersion = image.sourceVersion else {
            throw OTAError(.manifestInvalid, "image '\(image.name)': a delta names its source file and version")
        }
        let oldPath = try ImagesDirectory.resolve(sourceFile, in: imagesDirectory)
        let newPath = try ImagesDirectory.resolve(image.file, in: imagesDirectory)
        let directory = pathParentDirectory(outputPath)
        let patchPath =
            "\(directory)/.\((outputPath as NSString).lastPathComponent).\(image.name).patch-\(Hex.encode(try SecureRandom.bytes(6)))"
        do throws(OTAError) {
            _ = try Delta.createPatch(old: oldPath, new: newPath, output: patchPath, options: options)
            let oldSize = try InputFile(path: oldPath).size()
            let newSize = try InputFile(path: newPath).size()
            return DeltaPayload(
                patchPath: patchPath,
                source: Manifest.DeltaSource(
                    version: sourceVersion, hash: try Hasher.hash(options.hashAlgorithm, fileAt: oldPath).hex,
                    size: UInt64(oldSize)),
                target: Manifest.Target(
                    hash: try Hasher.hash(options.hashAlgorithm, fileAt: newPath).hex, size: UInt64(newSize)))
        } catch {
            unlink(patchPath)
            throw error
        }
    }

    private static func pathParentDirectory(_ path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }
}
