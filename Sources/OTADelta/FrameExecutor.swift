internal import Dispatch
internal import OTABase

/// Runs frames' ops on a serial queue, one frame at a time, while the caller decodes the next
/// frame; keeps the first error.
final class FrameExecutor: @unchecked Sendable {
    // Safe: the decoder calls `settle` (which waits) before `run`, so at most one frame's job
    // runs, and it never overlaps the caller's use of the decoder state the ops touch; `failure`
    // is written by the job and read only after `group.wait()` returns.
    private let queue = DispatchQueue(label: "ota.delta.ops")
    private let group = DispatchGroup()
    private var failure: OTAError?
    /// Marks the queue, so `waitUnlessRunning` knows when it is called from a frame's job.
    private static let onQueue = DispatchSpecificKey<Bool>()

    init() {
        queue.setSpecific(key: Self.onQueue, value: true)
    }

    /// A frame's job (the decoder's promise above makes it safe to send).
    private struct Job: @unchecked Sendable {
        let body: () throws(OTAError) -> Void
    }

    /// Starts `body` on the queue (the decoder never starts a frame after one has failed: it
    /// settles first).
    func run(_ body: @escaping () throws(OTAError) -> Void) {
        let job = Job(body: body)
        queue.async(group: group) {
            do throws(OTAError) { try job.body() } catch { self.failure = error }
        }
    }

    /// Waits for the frame running, and until its job has let go of what it captured (the group
    /// is left after that); returns the first error of any frame run so far.
    func settle() -> OTAError? {
        group.wait()
        return failure
    }

    /// Waits for the frame running, unless called from that frame's job: the decoder's last
    /// reference can be the job's, when the caller dropped the decoder while the frame ran, and
    /// the job's teardown cannot wait for itself (its frame has ended by then).
    func waitUnlessRunning() {
        if DispatchQueue.getSpecific(key: Self.onQueue) == nil { group.wait() }
    }
}
