internal import Dispatch
internal import OTABase

/// A hasher fed from one thread and run on a serial queue, at most `depth` pieces behind, so
/// hashing the output overlaps decoding without holding more than a few pieces. A piece is not
/// copied: the caller keeps its bytes unchanged until `depth` more pieces have been handed in, or
/// until `drain` or `finalize` returns.
final class BackgroundHasher: @unchecked Sendable {
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

    /// Hashes each piece in `update`, on the caller's thread (no queue, no thread).
    private let inline: Bool

    /// - Parameter inline: no thread: each piece is hashed before `update` returns (for a small
    ///   image, where starting a thread costs more than the hashing it would overlap).
    init(_ hasher: Hasher, inline: Bool = false) {
        self.hasher = hasher
        self.inline = inline
        slots = DispatchSemaphore(value: Self.depth)
    }

    /// Returns once at most `depth` pieces, this one included, are waiting or being hashed.
    func update(_ bytes: UnsafeRawBufferPointer) {
        if inline { return hasher.update(bytes) }
        slots.wait()
        let piece = Piece(bytes: bytes)
        queue.async {
            self.hasher.update(piece.bytes)
            self.slots.signal()
        }
    }

    /// Waits until every piece handed in is hashed.
    func drain() {
        if inline { return }
        queue.sync {}
    }

    /// The new image's digest once every piece is hashed.
    func finalize() -> Digest {
        if inline { return hasher.finalize() }
        return queue.sync { hasher.finalize() }
    }
}
