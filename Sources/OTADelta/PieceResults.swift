internal import Foundation

/// Each piece's ops, published by the matching tasks and taken in order by the writer.
final class PieceResults: @unchecked Sendable {
    private let condition = NSCondition()
    private var ops: [[DeltaOperation]?]

    init(count: Int) { ops = Array(repeating: nil, count: count) }

    func publish(_ index: Int, _ value: [DeltaOperation]) {
        condition.lock()
        ops[index] = value
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for piece `index` and hands its ops over (freeing them here).
    func take(_ index: Int) -> [DeltaOperation] {
        condition.lock()
        defer { condition.unlock() }
        while ops[index] == nil { condition.wait() }
        let value = ops[index]!
        ops[index] = []
        return value
    }
}
