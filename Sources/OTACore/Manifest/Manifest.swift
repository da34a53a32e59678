public import Foundation
internal import OTABase

/// The signed manifest: the document every release signer signs and the vehicle trusts. It binds
/// the bundle's identity, targeting, regulatory context, user notice, preconditions and, per
/// image, every payload byte (chunk hashes), the image hash and length, compression, suite and
/// encryption.
///
/// Its JSON bytes (sorted keys) are stored verbatim in the bundle; see `docs/FORMAT.md`.
public struct Manifest: Codable, Sendable, Equatable {
    public static let schemaIdentifier = "ota-manifest/1"

    public var schema: String
    public var bundle: BundleInfo
    public var targets: Targets
    public var images: [Image]
    public var regulatory: [RegulatoryReference]
    public var impact: Impact
    /// The user notice by language tag (`zh-CN`, `en`, ...).
    public var notice: [String: Notice]
    public var preconditions: Preconditions
    public var recovery: RecoveryStrategy
    /// Present when payloads are encrypted.
    public var encryption: Encryption?
    /// Present when the bundle carries a trust update (`trust-update.json`), which this binds.
    public var trustUpdate: TrustUpdateReference?

    public init(
        schema: String = Manifest.schemaIdentifier, bundle: BundleInfo, targets: Targets, images: [Image],
        regulatory: [RegulatoryReference],
        impact: Impact, notice: [String: Notice], preconditions: Preconditions, recovery: RecoveryStrategy,
        encryption: Encryption? = nil, trustUpdate: TrustUpdateReference? = nil
    ) {
        self.schema = schema
        self.bundle = bundle
        self.targets = targets
        self.images = images
        self.regulatory = regulatory
        self.impact = impact
        self.notice = notice
        self.preconditions = preconditions
        self.recovery = recovery
        self.encryption = encryption
        self.trustUpdate = trustUpdate
    }

    public struct BundleInfo: Codable, Sendable, Equatable {
        public var id: String
        public var campaign: String
        public var created: Date
        public var expires: Date
        public var suite: Suite
        public var description: String?

        public init(id: String, campaign: String, created: Date, expires: Date, suite: Suite, description: String?) {
            self.id = id
            self.campaign = campaign
            self.created = created
            self.expires = expires
            self.suite = suite
            self.description = description
        }
    }

    public struct Targets: Codable, Sendable, Equatable {
        public var models: [String]
        /// Optional VIN allow-list; nil means every vehicle of the models.
        public var vins: [String]?

        public init(models: [String], vins: [String]?) {
            self.models = models
            self.vins = vins
        }
    }

    public enum ImageKind: String, Codable, Sendable, CaseIterable { case full, delta }

    public struct SoftwareIdentification: Codable, Sendable, Equatable {
        public var before: String?
        public var after: String

        public init(before: String?, after: String) {
            self.before = before
            self.after = after
        }
    }

    /// The image a delta applies to.
    public struct DeltaSource: Codable, Sendable, Equatable {
        public var version: String
        public var hash: String
        public var size: UInt64

        public init(version: String, hash: String, size: UInt64) {
            self.version = version
            self.hash = hash
            self.size = size
        }
    }

    /// What the installed image must be.
    public struct Target: Codable, Sendable, Equatable {
        public var hash: String
        public var size: UInt64

        public init(hash: String, size: UInt64) {
            self.hash = hash
            self.size = size
        }
    }

    public enum Compression: String, Codable, Sendable, CaseIterable { case none, xz }

    /// How a payload sits in the bundle: its entry, size, and the hash of every stored chunk.
    public struct Payload: Codable, Sendable, Equatable {
        public var entry: String
        /// Size and suite hash of the payload's content after decryption and decompression: the
        /// image itself for a full image, the patch for a delta.
        public var plainSize: UInt64
        public var plainHash: String
        public var compression: Compression
        /// Size of the bytes after compression (before encryption).
        public var compressedSize: UInt64
        /// Size of the tar entry (after compression and encryption).
        public var storedSize: UInt64
        /// Size of every stored chunk but the last (which is shorter or equal, never empty).
        public var chunkSize: UInt64
        /// Suite hash of each stored chunk, in order (hex).
        public var chunkHashes: [String]
        /// Per-payload random nonce prefix for the chunked AEAD (hex), when encrypted.
        public var noncePrefix: String?

        public init(
            entry: String, plainSize: UInt64, plainHash: String, compression: Manifest.Compression,
            compressedSize: UInt64,
            storedSize: UInt64, chunkSize: UInt64, chunkHashes: [String], noncePrefix: String?
        ) {
            self.entry = entry
            self.plainSize = plainSize
            self.plainHash = plainHash
            self.compression = compression
            self.compressedSize = compressedSize
            self.storedSize = storedSize
            self.chunkSize = chunkSize
            self.chunkHashes = chunkHashes
            self.noncePrefix = noncePrefix
        }
    }

    public struct Image: Codable, Sendable, Equatable {
        public var name: String
        public var ecu: String
        public var hardwareIds: [String]
        public var slotGroup: String
        public var version: String
        public var securityVersion: UInt64
        public var allowDowngrade: Bool
        public var kind: ImageKind
        public var source: DeltaSource?
        public var target: Target
        public var rxswin: SoftwareIdentification?
        public var swin: SoftwareIdentification?
        public var categories: [ChangeCategory]
        public var payload: Payload

        public init(
            name: String, ecu: String, hardwareIds: [String], slotGroup: String, version: String,
            securityVersion: UInt64, allowDowngrade: Bool,
            kind: Manifest.ImageKind, source: Manifest.DeltaSource?, target: Manifest.Target,
            rxswin: Manifest.SoftwareIdentification?,
            swin: Manifest.SoftwareIdentification?, categories: [ChangeCategory], payload: Manifest.Payload
        ) {
            self.name = name
            self.ecu = ecu
            self.hardwareIds = hardwareIds
            self.slotGroup = slotGroup
            self.version = version
            self.securityVersion = securityVersion
            self.allowDowngrade = allowDowngrade
            self.kind = kind
            self.source = source
            self.target = target
            self.rxswin = rxswin
            self.swin = swin
            self.categories = categories
            self.payload = payload
        }
    }

    public struct Encryption: Codable, Sendable, Equatable {
        public var algorithm: AEADAlgorithm
        /// Plaintext bytes per chunk.
        public var chunkSize: UInt64

        public init(algorithm: AEADAlgorithm, chunkSize: UInt64) {
            self.algorithm = algorithm
            self.chunkSize = chunkSize
        }
    }

    /// The trust update a bundle carries: the suite hash of the entry's exact bytes and the
    /// update's version (shown and recorded; the vehicle checks both against the entry).
    public struct TrustUpdateReference: Codable, Sendable, Equatable {
        public var digest: String
        public var version: UInt64

        public init(digest: String, version: UInt64) {
            self.digest = digest
            self.version = version
        }
    }

    /// All change categories of all images.
    public var categories: Set<ChangeCategory> { Set(images.flatMap(\.categories)) }
}
