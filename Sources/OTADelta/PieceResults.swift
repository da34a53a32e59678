internal import Dispatch

/// Each piece's ops (one list per minimum cover score the matcher was given), published by the
/// matching tasks and taken in order by the writer.
final class PieceResults: @unchecked Sendable {
    // Safe: slot `i` is written once, by the task that publishes piece `i`, before it signals
    // `ready[i]`; the writer reads and clears it only after waiting on `ready[i]`.
    private let slots: UnsafeMutableBufferPointer<[[DeltaOperation]]>
    private let ready: [DispatchSemaphore]

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
    }

    deinit {
        _ = slots.deinitialize()
        slots.deallocate()
    }

    func publish(_ index: Int, _ value: [[DeltaOperation]]) {
        slots[index] = value
        ready[index].signal()
    }

    /// Waits for piece `index` and hands its ops over (freeing them here); once per piece.
    func take(_ index: Int) -> [[DeltaOperation]] {
        ready[index].wait()
        let value = slots[index]
        slots[index] = []
        return value
    }
}
