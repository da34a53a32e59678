import Dispatch
import NIOCore
import OTACore
import Synchronization

/// Hands chunks from a blocking producer (a store cursor on the service's thread pool) to the
/// async response writer, at most `depth` chunks ahead: the producer waits while the client
/// reads slowly, so memory stays flat whatever the result's size. When the client goes away
/// the producer's next `send` throws and the cursor closes.
final class ChunkPipe: Sendable {
    let chunks: AsyncStream<ByteBuffer>
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    private let permits: DispatchSemaphore
    private let depth: Int
    private let cancelled = Atomic<Bool>(false)
    /// Bytes gathered before they make a chunk.
    private let pending = Mutex<[UInt8]>([])
    static let chunkBytes = 64 << 10

    init(depth: Int = 8) {
        (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .unbounded)
        // Safe to free after a cancel (the stopped producer's error line and end take permits).
        permits = permitSemaphore(depth)
        self.depth = depth
    }

    /// Adds bytes; sends a chunk when enough gathered. Blocks while `depth` chunks wait.
    func write(_ bytes: some Sequence<UInt8>) throws(OTAError) {
        let full: [UInt8]? = pending.withLock { buffer in
            buffer.append(contentsOf: bytes)
            guard buffer.count >= Self.chunkBytes else { return nil }
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if let full { try send(full) }
    }

    private func send(_ bytes: [UInt8]) throws(OTAError) {
        try checkOpen()
        permits.wait()
        try checkOpen()
        continuation.yield(ByteBuffer(bytes: bytes))
    }

    private func checkOpen() throws(OTAError) {
        guard !cancelled.load(ordering: .acquiring) else {
            throw OTAError(.ioWrite, "the client closed the connection")
        }
    }

    /// Sends what is gathered and ends the stream.
    func finish() throws(OTAError) {
        let rest = pending.withLock { buffer in
            defer { buffer.removeAll() }
            return buffer
        }
        if !rest.isEmpty { try send(rest) }
        continuation.finish()
    }

    /// Ends the stream without sending what is gathered (the producer failed).
    func abandon() { continuation.finish() }

    /// The consumer wrote one chunk.
    func consumed() { permits.signal() }

    /// The consumer stopped: wake and stop the producer.
    func cancel() {
        cancelled.store(true, ordering: .releasing)
        for _ in 0...depth { permits.signal() }
    }
}
