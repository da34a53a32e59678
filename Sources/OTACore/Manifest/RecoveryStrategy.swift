internal import OTABase

/// The recovery the manifest declares for a failed update (R156 §7.2.1.2): back to the previous
/// slots, or a safe state. Declared and recorded; the installer itself always rolls back.
public enum RecoveryStrategy: String, Codable, Sendable, CaseIterable {
    case rollback
    case safeState = "safe-state"
}
