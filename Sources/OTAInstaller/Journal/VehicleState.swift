package import Foundation

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
