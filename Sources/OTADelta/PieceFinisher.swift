internal import Dispatch
internal import OTABase
internal import Synchronization

/// The second half of a pipelined frame's ops (`DeltaDecoder.finisher`): a serial queue replaying
/// the frame thread's `PieceWork` batches and handing full output pieces out, at most
/// `jobsAhead` batches and `piecesAhead` pieces behind the frame thread; keeps the first error and
/// runs no job after it.
final class PieceFinisher: @unchecked Sendable {
    // Safe: `run` is called by one thread at a time (the frame thread, or the caller once the
    // frame has settled), each call followed by `awaitPrevious`; a job touches its `PieceWork`,
    // output bytes of ADDs the frame thread has finished writing (it writes only after them), and
    // (handing a piece out) the decoder's hasher and output, which nothing else uses meanwhile;
    // the frame thread fills that `PieceWork` again, or that piece's slot, only after the
    // `awaitPrevious` that waits for the job's end (`DeltaDecoder.handOff`), or `drain`;
    // `failure` is written and read by the jobs, and read by others only after `group.wait()`;
    // `failed` is atomic.
    private let queue = DispatchQueue(label: "ota.delta.finish")
    private let group = DispatchGroup()
    /// Jobs (batches), and of them full pieces, handed in and not yet done that the frame thread
    /// may go on past: four batches (measured, 9 rounds: fewer left the frame thread waiting on
    /// the finisher; two pieces ahead, a fourth output slot, was no faster).
    static let jobsAhead = 3
    static let piecesAhead = 1
    /// Signalled as each job ends, and as each job handing a piece out ends (`permitSemaphore`:
    /// safe to free after a job stopped early).
    private let done = permitSemaphore(jobsAhead)
    private let pieces = permitSemaphore(piecesAhead)
    private var failure: OTAError?
    /// Set once `failure` is, for the frame thread to see between jobs.
    private let failed = Atomic<Bool>(false)

    private struct Job: @unchecked Sendable {
        let body: () throws(OTAError) -> Void
    }

    /// Starts a job; skipped once one has failed.
    func run(piece: Bool, _ body: @escaping () throws(OTAError) -> Void) {
        let job = Job(body: body)
        queue.async(group: group) {
            if self.failure == nil {
                do throws(OTAError) { try job.body() } catch {
                    self.failure = error
                    self.failed.store(true, ordering: .releasing)
                }
            }
            if piece { self.pieces.signal() }
            self.done.signal()
        }
    }

    /// Waits until every job but the last `jobsAhead` handed in has ended, and with `piece` (the
    /// job just handed in hands out a piece) every piece but the last `piecesAhead`; once a job
    /// has failed, waits for all of them and throws its error (the frame thread stops there).
    func awaitPrevious(piece: Bool) throws(OTAError) {
        done.wait()
        if piece { pieces.wait() }
        if failed.load(ordering: .acquiring) { try drain() }
    }

    /// Waits until every job handed in has ended; throws the first error.
    func drain() throws(OTAError) {
        group.wait()
        if let failure { throw failure }
    }
}
