import Dispatch
import Glibc
import OTACore
import Testing

@testable import OTAFleet

/// A client that hangs up while a response streams (found by an audit helper, two crash logs):
/// the producer, stopped, then sent its error line and finish, each taking a permit; freed below
/// the value it was made with, the semaphore trapped in libdispatch and the whole service died.
@Suite struct ChunkPipeTests {
    @Test func `a pipe cancelled while its producer waits is freed without a trap`() throws {
        for _ in 0..<20 {
            var pipe: ChunkPipe? = ChunkPipe(depth: 8)
            let producer = pipe!
            let done = DispatchSemaphore(value: 0)
            let failures = FailureCount()
            DispatchQueue.global().async {
                do throws(OTAError) {
                    // Eight chunks go out; the ninth waits for a reader that never reads.
                    for _ in 0..<9 { try producer.write([UInt8](repeating: 0x41, count: ChunkPipe.chunkBytes)) }
                } catch {
                    failures.add()
                    // What `FleetServer.produce` does after a failure.
                    try? producer.write(Array("\n{\"error\":\"io.write\"}\n".utf8))
                    try? producer.finish()
                    producer.abandon()
                }
                done.signal()
            }
            usleep(20_000)
            pipe?.cancel()
            done.wait()
            #expect(failures.value == 1)
            pipe = nil
        }
    }
}

/// A counter the producer thread raises.
final class FailureCount: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var count = 0
    func add() { lock.wait(); count += 1; lock.signal() }
    var value: Int { lock.wait(); defer { lock.signal() }; return count }
}
