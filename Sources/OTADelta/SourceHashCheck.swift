internal import Dispatch
import OTABase
internal import Synchronization

/// The old image's hash, computed on another thread while the decoder runs (`SourceCheck.concurrent`).
///
/// It reads the source in its own buffer, in order, and compares the digest with the patch
/// header's. `result()` waits for it: nil when the image matches, else the error the decoder
/// reports in place of any later one (the old-hash mismatch first, as when the hash ran before
/// the first output byte).
final class SourceHashCheck: @unchecked Sendable {
    // Safe: `source` is only read (DirectDeltaSource reads may run on two threads at once), the
    // outcome is written once on `queue` before `group` leaves and read only after waiting on it
    // (deferred: written and read by the decoder's caller only), and `stopped` is atomic.
    private let source: any DirectDeltaSource
    private let algorithm: HashAlgorithm
    private let expected: Digest
    private let group = DispatchGroup()
    private var outcome: OTAError?
    private let stopped = Atomic<Bool>(false)
    /// Bytes read and hashed at a time.
    static let piece = 128 << 10

    /// Hashed on the caller's thread, the first time `result()` is asked for (not on another).
    private let deferred: Bool
    private var done = false

    /// - Parameter deferred: no thread: the image is hashed by the first `result()`, on its
    ///   caller's thread, so the verdict and its place among the errors are those of the
    ///   concurrent check (for a small image, where a thread costs more than the hash).
    init(source: any DirectDeltaSource, algorithm: HashAlgorithm, expected: Digest, deferred: Bool = false) {
        self.source = source
        self.algorithm = algorithm
        self.expected = expected
        self.deferred = deferred
        if deferred { return }
        group.enter()
        DispatchQueue.global().async {
            self.outcome = self.run()
            self.group.leave()
        }
    }

    /// Waits for the hash (deferred: runs it, once); nil when the old image matches the header.
    func result() -> OTAError? {
        if deferred {
            if !done { (outcome, done) = (run(), true) }
            return outcome
        }
        group.wait()
        return outcome
    }

    /// Stops reading at the next piece (the decoder was dropped before its end).
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func run() -> OTAError? {
        // Page-aligned: a copy into 16 bytes past a page boundary is slow (DeltaDecoder.pageAlignment).
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.piece, alignment: DeltaDecoder.pageAlignment)
        defer { buffer.deallocate() }
        do throws(OTAError) {
            try Self.verify(
                size: source.byteCount, algorithm: algorithm, expected: expected, buffer: buffer,
                stopped: { self.stopped.load(ordering: .relaxed) }, read: source.read)
            return nil
        } catch {
            return error
        }
    }

    /// Hashes the old image's `size` bytes, read in order through `buffer` by `read`, and throws
    /// the old-hash mismatch when the digest is not `expected`. Returns early, without a
    /// verdict, once `stopped` says so. The one old-image check, run before output or beside it.
    static func verify(
        size: Int64, algorithm: HashAlgorithm, expected: Digest, buffer: UnsafeMutableRawBufferPointer,
        stopped: () -> Bool = { false },
        read: (Int64, UnsafeMutableRawBufferPointer) throws(OTAError) -> Void
    ) throws(OTAError) {
        let hasher = try Hasher(algorithm)
        var offset: Int64 = 0
        while offset < size {
            if stopped() { return }
            let count = Int(min(Int64(buffer.count), size - offset))
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            try read(offset, part)
            hasher.update(UnsafeRawBufferPointer(part))
            offset += Int64(count)
        }
        guard hasher.finalize().constantTimeEquals(expected) else {
            throw OTAError(
                .deltaSourceMismatch, "the old image's \(algorithm.rawValue) does not match the patch's source hash")
        }
    }
}
