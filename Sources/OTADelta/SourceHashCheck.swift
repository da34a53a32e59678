internal import Dispatch
import OTABase
internal import Synchronization

/// The verdict on the old image's hash with `SourceCheck.concurrent`, asked for by `finish` and
/// by the first error (`result()`): nil when the image matches the header, else the error the
/// decoder reports in place of any later one.
protocol SourceVerdict: AnyObject {
    func result() -> OTAError?
    /// Stops the hash at its next piece (the decoder was dropped before its end).
    func stop()
}

/// The old image's hash, computed on another thread while the decoder runs (`SourceCheck.concurrent`).
///
/// It reads the source in its own buffer, in order, and compares the digest with the patch
/// header's. `result()` waits for it: nil when the image matches, else the error the decoder
/// reports in place of any later one (the old-hash mismatch first, as when the hash ran before
/// the first output byte).
final class SourceHashCheck: SourceVerdict, @unchecked Sendable {
    // Safe: `source` is only read (DirectDeltaSource reads may run on two threads at once), the
    // outcome is written once on `queue` before `group` leaves and read only after waiting on it,
    // and `stopped` is atomic.
    private let source: any DirectDeltaSource
    private let algorithm: HashAlgorithm
    private let expected: Digest
    private let group = DispatchGroup()
    private var outcome: OTAError?
    private let stopped = Atomic<Bool>(false)
    /// Bytes read and hashed at a time.
    static let piece = 128 << 10

    init(source: any DirectDeltaSource, algorithm: HashAlgorithm, expected: Digest) {
        self.source = source
        self.algorithm = algorithm
        self.expected = expected
        group.enter()
        DispatchQueue.global().async {
            self.outcome = self.run()
            self.group.leave()
        }
    }

    /// Waits for the hash; nil when the old image matches the header.
    func result() -> OTAError? {
        group.wait()
        return outcome
    }

    /// Stops reading at the next piece (the decoder was dropped before its end).
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func run() -> OTAError? {
        Self.verdict(source: source, algorithm: algorithm, expected: expected) {
            self.stopped.load(ordering: .relaxed)
        }
    }

    /// `verify` of the whole source through a buffer of its own: nil when it matches (or was
    /// stopped), else the mismatch or read error.
    static func verdict(
        source: any DirectDeltaSource, algorithm: HashAlgorithm, expected: Digest, stopped: () -> Bool = { false }
    ) -> OTAError? {
        // Page-aligned: a copy into 16 bytes past a page boundary is slow (DeltaDecoder.pageAlignment).
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece, alignment: DeltaDecoder.pageAlignment)
        defer { buffer.deallocate() }
        do throws(OTAError) {
            try verify(
                size: source.byteCount, algorithm: algorithm, expected: expected, buffer: buffer, stopped: stopped,
                read: source.read)
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

/// The old image's hash with no thread (`DeltaDecoder.Threads.callerOnly`): computed on the
/// caller's thread by the first `result()`, so the verdict and its place among the errors are
/// those of `SourceHashCheck` (for a small image, where a thread costs more than the hash).
final class DeferredSourceCheck: SourceVerdict {
    private let source: any DirectDeltaSource
    private let algorithm: HashAlgorithm
    private let expected: Digest
    /// The verdict, once `result()` has run the hash.
    private var outcome: OTAError??

    init(source: any DirectDeltaSource, algorithm: HashAlgorithm, expected: Digest) {
        self.source = source
        self.algorithm = algorithm
        self.expected = expected
    }

    /// Hashes the image the first time; nil when it matches the header.
    func result() -> OTAError? {
        if let outcome { return outcome }
        let verdict = SourceHashCheck.verdict(source: source, algorithm: algorithm, expected: expected)
        outcome = .some(verdict)
        return verdict
    }

    /// Nothing runs until `result()`.
    func stop() {}
}
