public import Foundation
public import OTACore

/// The stages of an update, each persisted before the next begins.
public enum UpdateStage: String, Codable, Sendable {
    /// Images are being written into the inactive slots.
    case writing
    /// Every image is written and its hash checked; nothing switched yet (activate later).
    case installed
    /// About to point the boot control at the new slots.
    case activating
    /// The boot control tries the new slots on the next boot; waiting for reboot and confirm.
    case activated
    /// Confirmed: making the new slots permanent and moving the counters.
    case committing
    /// Abandoning the update.
    case rollingBack = "rolling-back"
}

/// One image of the update in progress.
public struct PendingImage: Codable, Sendable, Equatable {
    public var name: String
    public var ecu: String
    public var slotGroup: String
    public var slot: SlotName
    public var version: String
    public var securityVersion: UInt64
    public var hash: String
    public var size: UInt64
    public var kind: Manifest.ImageKind

    public init(
        name: String, ecu: String, slotGroup: String, slot: SlotName, version: String, securityVersion: UInt64,
        hash: String, size: UInt64,
        kind: Manifest.ImageKind
    ) {
        self.name = name
        self.ecu = ecu
        self.slotGroup = slotGroup
        self.slot = slot
        self.version = version
        self.securityVersion = securityVersion
        self.hash = hash
        self.size = size
        self.kind = kind
    }
}

/// The update in progress.
public struct PendingUpdate: Codable, Sendable, Equatable {
    public var stage: UpdateStage
    public var bundleId: String
    public var campaign: String
    public var manifestDigest: String
    public var hashAlgorithm: HashAlgorithm
    public var images: [PendingImage]
    public var started: Date
    /// The attempt's facts, for the records written after a restart (commit, rollback, fallback).
    public var attempt: UpgradeAttempt?

    public init(
        stage: UpdateStage, bundleId: String, campaign: String, manifestDigest: String, hashAlgorithm: HashAlgorithm,
        images: [PendingImage],
        started: Date, attempt: UpgradeAttempt? = nil
    ) {
        self.stage = stage
        self.bundleId = bundleId
        self.campaign = campaign
        self.manifestDigest = manifestDigest
        self.hashAlgorithm = hashAlgorithm
        self.images = images
        self.started = started
        self.attempt = attempt
    }

    /// The slot each touched group moves to.
    public var targets: [String: SlotName] {
        Dictionary(images.map { ($0.slotGroup, $0.slot) }, uniquingKeysWith: { a, _ in a })
    }
}
