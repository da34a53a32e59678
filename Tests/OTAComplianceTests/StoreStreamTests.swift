import Dispatch
import OTACompliance
import OTACore
import Testing

/// A streamed result whose reader is slow does not hold the store (found by an audit helper: a
/// `/v1/records` client that did not read froze every upload, head request and health check of
/// the fleet service, the cursor's read held open on the store's one queue).
@Suite struct StoreStreamTests {
    @Test func `the store answers others while a stream's reader waits`() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        // More entries than one page (`SQLiteRecordStore.streamPage`), so the stream pages.
        let store = try Fleet.store(ws, vehicles: 3, count: 400)
        var streamed = 0
        var answeredMeanwhile = false
        try store.entries(matching: RecordFilter()) { _ in
            streamed += 1
            guard streamed == 1 else { return }
            // Another request, from another thread, while this reader holds the stream. A queue of
            // its own gets a thread at once; the global pool is only as wide as the machine, and in a
            // parallel run delta tests can keep it busy for longer than the wait (CI, 2026-12-02).
            let answered = DispatchSemaphore(value: 0)
            let other = UncheckedStore(store: store)
            DispatchQueue(label: "another reader").async {
                _ = try? other.store.count(matching: RecordFilter())
                answered.signal()
            }
            answeredMeanwhile = answered.wait(timeout: .now() + 30) == .success
        }
        #expect(answeredMeanwhile, "the store was held while the stream's reader waited")
        #expect(streamed == (try store.count(matching: RecordFilter())))
        // In (vin, seq) order across the page boundaries, each entry once.
        var keys: [String] = []
        try store.entries(matching: RecordFilter()) { keys.append("\($0.vin)/\(String(format: "%010d", $0.seq))") }
        #expect(keys == keys.sorted() && Set(keys).count == keys.count && keys.count > SQLiteRecordStore.streamPage)
    }
}

/// The store handed to another thread (GRDB's queue serialises its use).
struct UncheckedStore: @unchecked Sendable {
    let store: SQLiteRecordStore
}
