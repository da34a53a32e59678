/// How far a long piece of work has come, for a progress display: the step, and bytes (or
/// entries) done of bytes in all (when known). Libraries call a `(WorkProgress) -> Void` as they
/// go; `ProgressDisplay` draws a bar on a terminal or writes JSON lines (`--progress`).
public struct WorkProgress: Sendable, Equatable, Codable {
    /// What is being done, e.g. `compress ivi-rootfs` or `verify payload 2/3`.
    public var step: String
    public var done: UInt64
    /// Nil when the total is not known in advance.
    public var total: UInt64?
    /// What `done` and `total` count.
    public var unit: Unit

    /// What a progress report counts: bytes (most work), or entries (record exports).
    public enum Unit: String, Sendable, Codable {
        case bytes
        case entries
    }

    public init(step: String, done: UInt64, total: UInt64?, unit: Unit = .bytes) {
        self.step = step
        self.done = done
        self.total = total
        self.unit = unit
    }
}
