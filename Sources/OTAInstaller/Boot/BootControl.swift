public import OTACore

/// What the bootloader reads and writes: the committed slot per group, the slots to try on the
/// next boots (all groups together), how many tries are left, and what actually booted.
public struct BootState: Codable, Sendable, Equatable {
    /// Committed slot per slot group: what boots when nothing is on trial.
    public var active: [String: SlotName]
    /// Slots on trial (the try-once flag, for every group of the update at once); nil for none.
    public var trial: [String: SlotName]?
    /// Boots left for the trial before the bootloader falls back.
    public var triesRemaining: Int
    /// What the last boot started, per group.
    public var booted: [String: SlotName]
    /// Why the last fallback happened, if the last boot was one.
    public var lastFallback: String?
    public var bootCount: UInt64

    public init(active: [String: SlotName]) {
        self.active = active
        trial = nil
        triesRemaining = 0
        booted = active
        lastFallback = nil
        bootCount = 0
    }

    /// The slot each group boots next.
    public var nextBoot: [String: SlotName] {
        guard let trial, triesRemaining > 0 else { return active }
        return active.merging(trial) { _, new in new }
    }

    /// Whether the running system is the trial.
    public var isBootedOnTrial: Bool {
        guard let trial else { return false }
        return trial.allSatisfy { booted[$0.key] == $0.value }
    }
}

/// A boot-control backend: loads and stores the whole `BootState` atomically (one write switches
/// every group together).
public protocol BootControl: AnyObject {
    var description: String { get }
    func load() throws(OTAError) -> BootState
    func store(_ state: BootState) throws(OTAError)
}

/// The bootloader's decision at power-on, the same logic a GRUB script or U-Boot `bootcmd`
/// runs: a trial with tries left is booted (one try used); a trial with none left is dropped
/// and the committed slots boot (a fallback, remembered with its reason).
public enum Bootloader {
    @discardableResult
    public static func boot(_ control: any BootControl) throws(OTAError) -> BootState {
        var state = try control.load()
        state.bootCount += 1
        if let trial = state.trial {
            if state.triesRemaining > 0 {
                state.triesRemaining -= 1
                state.booted = state.active.merging(trial) { _, new in new }
                state.lastFallback = nil
            } else {
                let slots = trial.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(
                    separator: " ")
                state.trial = nil
                state.booted = state.active
                state.lastFallback = "boot counter exhausted: trial slots \(slots) were not confirmed"
            }
        } else {
            state.booted = state.active
        }
        try control.store(state)
        return state
    }
}
