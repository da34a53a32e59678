public import Foundation

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

    public init(schema: String = Manifest.schemaIdentifier, bundle: BundleInfo, targets: Targets, images: [Image], regulatory: [RegulatoryReference],
                impact: Impact, notice: [String: Notice], preconditions: Preconditions, recovery: RecoveryStrategy, encryption: Encryption? = nil) {
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
    }

    public struct BundleInfo: Codable, Sendable, Equatable {
        public var id: String
        public var campaign: String
        public var created: Date
        public var expires: Date
        public var suite: Suite
        public var description: String?
    }

    public struct Targets: Codable, Sendable, Equatable {
        public var models: [String]
        /// Optional VIN allow-list; nil means every vehicle of the models.
        public var vins: [String]?
    }

    public enum ImageKind: String, Codable, Sendable { case full, delta }

    public struct SoftwareIdentification: Codable, Sendable, Equatable {
        public var before: String?
        public var after: String
    }

    /// The image a delta applies to.
    public struct DeltaSource: Codable, Sendable, Equatable {
        public var version: String
        public var hash: String
        public var size: UInt64
    }

    /// What the installed image must be.
    public struct Target: Codable, Sendable, Equatable {
        public var hash: String
        public var size: UInt64
    }

    public enum Compression: String, Codable, Sendable { case none, xz }

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
    }

    public struct Encryption: Codable, Sendable, Equatable {
        public var algorithm: AEADAlgorithm
        /// Plaintext bytes per chunk.
        public var chunkSize: UInt64
    }

    /// All change categories of all images.
    public var categories: Set<ChangeCategory> { Set(images.flatMap(\.categories)) }
}

/// What a change touches; some categories need filings or approvals (MIIT 2021 No.103, 2025 No.45).
public enum ChangeCategory: String, Codable, Sendable, CaseIterable, Comparable {
    case automatedDriving = "automated-driving"
    case drivingAssistance = "driving-assistance"
    case safety
    case energy
    case environmental
    case antiTheft = "anti-theft"
    case recall
    case securityFix = "security-fix"
    case other

    public static func < (lhs: ChangeCategory, rhs: ChangeCategory) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A regulatory document the update relies on.
public struct RegulatoryReference: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case filing
        case changePermit = "change-permit"
        case adApproval = "ad-approval"
        case recallFiling = "recall-filing"
        case taExtension = "ta-extension"
    }

    public var type: Kind
    public var number: String
    public var authority: String
    public var scope: String?
    public var validFrom: Date?
    public var validUntil: Date?
}

public struct Impact: Codable, Sendable, Equatable {
    public var affectedSystems: [String]
    public var typeApprovedSystems: [String]
    public var addedFunctions: [String]
    public var alteredFunctions: [String]
}

/// What the user is told before and after (No.103 §3, R156 §7.2.2).
public struct Notice: Codable, Sendable, Equatable {
    public var purpose: String
    public var content: String
    public var expectedDurationMinutes: Int
    public var functionsUnavailable: [String]
    public var precautions: [String]
    public var impact: String
}

/// Vehicle state required before and during the install.
public struct Preconditions: Codable, Sendable, Equatable {
    public var parked: Bool
    /// Required gear, e.g. `P`; nil for no requirement.
    public var gear: String?
    /// Battery charge (%) that covers the install and a recovery.
    public var minimumBatteryPercent: Int
    public var noDrivingDuringInstall: Bool
    public var skilledPersonRequired: Bool
    public var doorsUnlockable: Bool
}

public enum RecoveryStrategy: String, Codable, Sendable {
    case rollback
    case safeState = "safe-state"
}
