import Foundation
import OTACore

/// Two pipeline stages on two threads: `produce` runs on a thread of its own, at most `depth`
/// items ahead of the caller, which `consume`s them in order. Items come out exactly as a
/// single loop would hand them over: in order, every item produced before a failure first, then
/// the failure. `run` returns only after the producing thread has stopped, so nothing it
/// touches outlives the call.
final class StagePipeline<Item>: @unchecked Sendable {
    // Safe: every field below is read and written under `condition`; `produce` is called only
    // on the worker thread, and the caller waits for that thread to exit before returning.
    private let condition = NSCondition()
    private var items: [Item] = []
    private var ended = false
    private var failure: OTAError?
    private var stopping = false
    private var exited = false
    private let depth: Int

    private init(depth: Int) { self.depth = max(1, depth) }

    /// Runs `produce` (nil: no more items) against `consume`, overlapped.
    static func run(
        depth: Int, produce: @escaping () throws(OTAError) -> Item?, consume: (Item) throws(OTAError) -> Void
    ) throws(OTAError) {
        let pipeline = StagePipeline(depth: depth)
        let producer = UncheckedProducer(produce)
        let thread = Thread { pipeline.work(producer) }
        thread.name = "ota.install.read"
        thread.start()
        defer { pipeline.stopAndWait() }
        while let item = try pipeline.next() { try consume(item) }
    }

    /// The producing loop (worker thread).
    private func work(_ producer: UncheckedProducer<Item>) {
        while true {
            condition.lock()
            while items.count >= depth && !stopping { condition.wait() }
            let stop = stopping
            condition.unlock()
            if stop { break }
            let result: Result<Item?, OTAError>
            do throws(OTAError) { result = .success(try producer.produce()) } catch { result = .failure(error) }
            condition.lock()
            switch result {
            case .success(let item?): items.append(item)
            case .success(nil): ended = true
            case .failure(let error): failure = error
            }
            condition.broadcast()
            let done = ended || failure != nil
            condition.unlock()
            if done { break }
        }
        condition.lock()
        exited = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next item in order; nil at the end; the producer's failure after its last item.
    private func next() throws(OTAError) -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !ended && failure == nil { condition.wait() }
        if !items.isEmpty {
            let item = items.removeFirst()  // at most `depth` items: a short move
            condition.broadcast()
            return item
        }
        if let failure { throw failure }
        return nil
    }

    /// Asks the producer to stop (it finishes the item in hand) and waits until it has.
    private func stopAndWait() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !exited { condition.wait() }
        items.removeAll()
        condition.unlock()
    }
}

/// The producing closure, handed to the worker thread. `@unchecked Sendable`: only that thread
/// calls it, and callers of `StagePipeline.run` give it state that `consume` does not touch.
private final class UncheckedProducer<Item>: @unchecked Sendable {
    let produce: () throws(OTAError) -> Item?
    init(_ produce: @escaping () throws(OTAError) -> Item?) { self.produce = produce }
}
