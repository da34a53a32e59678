/// How far a long piece of work has come, for a progress display: the step, and bytes done of
/// bytes in all (when known). Libraries call a `(WorkProgress) -> Void` as they go; the command
/// line draws a bar on a terminal or writes JSON lines (`--progress`).
public struct WorkProgress: Sendable, Equatable, Codable {
    /// What is being done, e.g. `compress ivi-rootfs` or `verify payload 2/3`.
    public var step: String
    public var done: UInt64
    /// Nil when the total is not known in advance.
    public var total: UInt64?

    public init(step: String, done: UInt64, total: UInt64?) {
        self.step = step
        self.done = done
        self.total = total
    }
}
