public import Foundation
public import OTACore
public import OTARecorder

/// The installer's persistent state, replaced atomically as one document at every stage change:
/// what each ECU runs (the security-version counters), what each slot holds, the clock floor, and
/// the update in progress with its stage. One atomic replace per transition is the journal: after
/// a power loss the store holds either the stage before or the stage after, never a mix. It lives
/// in the vehicle's `ProtectedStore`, so counters and floor edited behind the installer's back are
/// refused (`vehicle.state-tampered`), not trusted.
struct StateJournal {
    static let fileName = "state.json"
    let store: any ProtectedStore

    func load() throws(OTAError) -> VehicleState? {
        guard let bytes = try store.load(Self.fileName) else { return nil }
        return try CanonicalJSON.decodeInput(VehicleState.self, from: bytes, as: .vehicleStateMalformed)
    }

    func save(_ state: VehicleState) throws(OTAError) {
        var next = state
        next.sequence += 1
        try store.store(Self.fileName, try CanonicalJSON.encode(next))
    }
}

/// Where a slot's content stands.
public enum SlotStatus: String, Codable, Sendable {
    /// Never written, or erased.
    case empty
    /// Holds a complete image whose hash was checked.
    case valid
    /// Being written (or was, when a crash came): its content is never trusted, whatever its hash.
    case writing
    /// Written by an update that was abandoned or fell back; never trusted.
    case discarded
}

/// What one slot holds.
public struct SlotInfo: Codable, Sendable, Equatable {
    public var status: SlotStatus
    public var version: String?
    public var securityVersion: UInt64?
    public var hash: String?
    public var hashAlgorithm: HashAlgorithm?
    public var size: UInt64?
    public var bundle: String?

    public static let empty = SlotInfo(status: .empty)

    public init(
        status: SlotStatus, version: String? = nil, securityVersion: UInt64? = nil, hash: String? = nil, hashAlgorithm: HashAlgorithm? = nil,
        size: UInt64? = nil, bundle: String? = nil
    ) {
        self.status = status
        self.version = version
        self.securityVersion = securityVersion
        self.hash = hash
        self.hashAlgorithm = hashAlgorithm
        self.size = size
        self.bundle = bundle
    }
}

/// The software an ECU runs, as committed: its security version is the anti-rollback counter.
public struct InstalledSoftware: Codable, Sendable, Equatable {
    public var version: String
    public var securityVersion: UInt64
    public var bundle: String?
    /// Software identification numbers (GB 44496 SWIN, UNECE R156 RXSWIN), when known.
    public var swin: String?
    public var rxswin: String?

    public init(version: String, securityVersion: UInt64, bundle: String?, swin: String? = nil, rxswin: String? = nil) {
        self.version = version
        self.securityVersion = securityVersion
        self.bundle = bundle
        self.swin = swin
        self.rxswin = rxswin
    }
}

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
        name: String, ecu: String, slotGroup: String, slot: SlotName, version: String, securityVersion: UInt64, hash: String, size: UInt64,
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
        stage: UpdateStage, bundleId: String, campaign: String, manifestDigest: String, hashAlgorithm: HashAlgorithm, images: [PendingImage],
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
    public var targets: [String: SlotName] { Dictionary(images.map { ($0.slotGroup, $0.slot) }, uniquingKeysWith: { a, _ in a }) }
}

/// Everything the installer persists.
package struct VehicleState: Codable, Sendable, Equatable {
    /// Incremented at every save (lets tests and tools see progress).
    public var sequence: UInt64
    /// Committed software per ECU.
    public var ecus: [String: InstalledSoftware]
    /// Per slot group, per slot (`a`, `b`).
    public var slots: [String: [String: SlotInfo]]
    public var pending: PendingUpdate?
    /// The newest verified repository time seen; the clock never goes below it. A bundle's own
    /// dates never move it.
    public var timeFloor: Date
    /// The boot control's `bootCount` of the last boot recorded in the log (nil: 0). A boot the
    /// bootloader counted but no record names yet is recorded at the next start.
    public var recordedBootCount: UInt64?

    func slot(_ group: String, _ name: SlotName) -> SlotInfo { slots[group]?[name.rawValue] ?? .empty }

    mutating func setSlot(_ group: String, _ name: SlotName, _ info: SlotInfo) {
        slots[group, default: [:]][name.rawValue] = info
    }
}
