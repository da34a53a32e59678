import Foundation
public import OTACore

/// What `check` says about a bundle for this vehicle, before anything is written: the verdict
/// and what the user must be shown.
public struct InstallDecision: Codable, Sendable {
    public struct Image: Codable, Sendable {
        public var name: String
        public var ecu: String
        public var slotGroup: String
        public var kind: Manifest.ImageKind
        public var fromVersion: String?
        public var toVersion: String
        public var securityVersion: UInt64
        public var size: UInt64
    }

    public struct Refusal: Codable, Sendable, Equatable {
        public var code: OTAError.Code
        public var message: String
        public var cause: String?
    }

    public var bundleId: String?
    public var campaign: String?
    /// Suite hash of the manifest bytes: `install(expecting:)` refuses a bundle whose digest differs.
    public var manifestDigest: String?
    public var images: [Image]
    public var approvalRequired: Bool
    /// The notice by language, to show before asking for consent.
    public var notice: [String: Notice]
    public var preconditions: Preconditions?
    /// The deciding refusal, if any.
    public var refusal: Refusal?
    /// Every reason for the refusal, the deciding one first (each failing signature beside the
    /// threshold, every broken manifest rule).
    public var reasons: [Refusal] = []

    public var isAccepted: Bool { refusal == nil }
}

/// What `install` did.
public struct InstallReport: Codable, Sendable {
    public var bundleId: String
    public var manifestDigest: String
    /// `installed` (written and checked, not switched) or `activated` (the new slots boot next,
    /// on trial until confirmed). Never "done": that takes a reboot and `confirmBoot()`.
    public var stage: UpdateStage
    public var images: [PendingImage]
    public var bytesWritten: UInt64
    public var seconds: Double
}

/// Where the installer may be stopped by a test's fault injection (`Vehicle.Options.faultHook`).
package enum FaultSite: Sendable, Equatable {
    /// Just after the named journal or boot-control step became durable.
    case step(String)
    /// After this many image bytes in total were written to slots.
    case bytesWritten(UInt64)
}

/// What `status` reports.
public struct VehicleStatus: Codable, Sendable {
    public var model: String
    public var vin: String
    public var bootControl: String
    public var boot: BootState
    public var nextBoot: [String: SlotName]
    public var ecus: [String: InstalledSoftware]
    public var slots: [String: [String: SlotInfo]]
    public var pending: PendingUpdate?
    /// Set when the last boot fell back from a trial.
    public var lastFallback: String?
    /// Set when the status was read from a directory the installer cannot write
    /// (`Vehicle.inspect`): not locked, nothing recovered.
    public var readOnly: Bool? = nil
}
