internal import Dispatch
internal import OTABase

/// A hasher fed from one thread and run on a serial queue, at most `depth` pieces behind, so
/// hashing the output overlaps decoding without holding more than a few pieces. A piece is not
/// copied: the caller keeps its bytes unchanged until `depth` more pieces have been handed in, or
/// until `drain` or `finalize` returns.
final class BackgroundHasher: OutputHashing, @unchecked Sendable {
    // Safe: `hasher` is used only by blocks on `queue` (one at a time, in order) and by
    // `finalize` after the queue has drained (`queue.sync`); the semaphore bounds the pieces in
    // flight, and the caller keeps each piece's bytes alive and unchanged while it may be in
    // flight (above).
    private let hasher: Hasher
    private let queue = DispatchQueue(label: "ota.delta.hash")
    private let slots: DispatchSemaphore
    /// One piece: SHA-256 of 256 KiB takes ~0.2 ms here, several times less than decoding it,
    /// and every piece more in flight is 256 KiB more of the decoder's peak memory.
    static let depth = 1

    /// A piece's bytes, handed to the queue (the caller's promise above makes it safe to send).
    private struct Piece: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
    }

    init(_ hasher: Hasher) {
        self.hasher = hasher
        slots = DispatchSemaphore(value: Self.depth)
    }

    /// Returns once at most `depth` pieces, this one included, are waiting or being hashed.
    func update(_ bytes: UnsafeRawBufferPointer) {
        slots.wait()
        let piece = Piece(bytes: bytes)
        queue.async {
            self.hasher.update(piece.bytes)
            self.slots.signal()
        }
    }

    /// Waits until every piece handed in is hashed.
    func drain() {
        queue.sync {}
    }

    /// The new image's digest once every piece is hashed.
    func finalize() -> Digest {
        queue.sync { hasher.finalize() }
    }
}

/// The new image's hash as the decoder feeds it (`DeltaDecoder.Threads`): on a serial queue
/// behind the decoder (`BackgroundHasher`) or, with no thread, as each piece is handed in
/// (`Hasher` itself). A piece's bytes stay unchanged until `BackgroundHasher.depth` more pieces
/// have been handed in, or until `drain` or `finalize` returns.
protocol OutputHashing: AnyObject {
    func update(_ bytes: UnsafeRawBufferPointer)
    /// Waits until every piece handed in is hashed.
    func drain()
    /// The digest once every piece is hashed.
    func finalize() -> Digest
}

extension Hasher: OutputHashing {
    /// Nothing to wait for: each piece was hashed before `update` returned.
    func drain() {}
}
