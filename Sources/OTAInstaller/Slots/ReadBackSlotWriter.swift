import Foundation
import OTACore

/// Writes an image into a slot front to back and, on a second thread, reads back what has been
/// written so far and checks it, so the read-back check of the slot overlaps the writing instead
/// of following it; every 16 MiB read back, that thread also starts the range's writeback, so the
/// device writes overlap too (and `SlotDevice` flushes what it holds every 2 MiB written) and the
/// final `sync` has little left to do.
///
/// Two checks: `.hash` hashes the bytes read back (the caller compares the digest with the
/// signed hash); `.sameAsWritten` compares them byte for byte with the bytes handed to `write`
/// (kept until read back, at most `maxHeld` bytes ahead), for a caller that has already hashed
/// exactly those bytes against the signed hash: the same guarantee without a second hash.
final class ReadBackSlotWriter: SlotWriting, @unchecked Sendable {
    enum Check {
        case hash(HashAlgorithm)
        case sameAsWritten
    }

    /// What the read-back found (after `finish`).
    enum ReadBack {
        /// `.hash`: the digest of the slot's bytes as read back.
        case digest(Digest)
        /// `.sameAsWritten`: every byte read back equals the byte written.
        case matchesWritten
    }

    // Safe: `written`, `verified`, `held`, `heldBytes`, `closing`, `failure`, `started` and
    // `exited` are shared under `condition`; `hasher` is used only by the reading thread until it
    // has exited.
    private let device: any ReadBackDevice
    private let hasher: Hasher?
    private let condition = NSCondition()
    private var written: UInt64 = 0
    private var verified: UInt64 = 0
    private var held: [(offset: UInt64, bytes: ArraySlice<UInt8>)] = []
    private var heldBytes = 0
    private var closing = false
    private var failure: OTAError?
    private var exited = false
    private var started = false
    /// Bytes read back per step.
    static let pieceSize = 1 << 20
    /// Written bytes `.sameAsWritten` may hold before `write` waits for the read-back.
    static let maxHeld = 16 << 20
    /// Read-back bytes after which their writeback is started (`SlotDevice.startWriteback`).
    static let writebackSize: UInt64 = 16 << 20

    init(_ device: any ReadBackDevice, check: Check) throws(OTAError) {
        self.device = device
        if case .hash(let algorithm) = check { hasher = try Hasher(algorithm) } else { hasher = nil }
    }

    /// Writes at `offset`, which must be where the previous write ended (the image is written in
    /// order). `.sameAsWritten` keeps the slice until read back.
    func write(_ bytes: ArraySlice<UInt8>, at offset: UInt64) throws(OTAError) {
        try bytes.withBytes { (raw) throws(OTAError) in try write(raw, at: offset, keeping: bytes) }
    }

    /// The same from bytes valid only during the call: `.hash` keeps nothing, `.sameAsWritten`
    /// keeps a copy until read back.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError) {
        if hasher == nil {
            try write(Array(bytes)[...], at: offset)
        } else {
            try write(bytes, at: offset, keeping: nil)
        }
    }

    /// Writes `bytes` and, for `.sameAsWritten`, holds `kept` (the same bytes) until read back.
    private func write(
        _ bytes: UnsafeRawBufferPointer, at offset: UInt64, keeping kept: ArraySlice<UInt8>?
    ) throws(OTAError) {
        guard offset == written else {
            throw OTAError(
                .slotIo,
                "\(device.path): write at \(offset) while \(written) bytes are written (writes must be in order)")
        }
        guard !bytes.isEmpty else { return }
        try device.write(bytes, at: offset)
        condition.lock()
        if !started {
            started = true
            let thread = Thread { self.readBack() }
            thread.name = "ota.install.readback"
            thread.start()
        }
        written += UInt64(bytes.count)
        if hasher == nil, let kept {
            held.append((offset, kept))
            heldBytes += kept.count
            while heldBytes > Self.maxHeld && failure == nil { condition.wait() }
        }
        condition.broadcast()
        let failed = failure
        condition.unlock()
        if let failed { throw failed }
    }

    /// Waits until everything written has been read back and checked; `slot.short` if fewer
    /// than `size` bytes were written.
    func finish(size: UInt64) throws(OTAError) -> ReadBack {
        condition.lock()
        closing = true
        condition.broadcast()
        while started && !exited { condition.wait() }
        let failed = failure
        let total = verified
        condition.unlock()
        if let failed { throw failed }
        guard total == size else {
            throw OTAError(.slotShort, "\(device.path): \(total) bytes written; \(size) expected")
        }
        if let hasher { return .digest(hasher.finalize()) }
        return .matchesWritten
    }

    /// Stops the reading thread without waiting for it to catch up (after a failure; harmless
    /// after `finish`). Every writer must be finished or stopped: the thread waits for more.
    func stop() {
        condition.lock()
        closing = true
        failure = failure ?? OTAError(.slotIo, "\(device.path): read-back stopped")
        condition.broadcast()
        while started && !exited { condition.wait() }
        held.removeAll()
        condition.unlock()
    }

    /// The reading loop: follows `written`, one piece at a time, until closed and caught up.
    private func readBack() {
        var buffer = [UInt8](repeating: 0, count: Self.pieceSize)
        var writtenBack: UInt64 = 0
        while true {
            condition.lock()
            while verified == written && !closing && failure == nil { condition.wait() }
            let from = verified
            let to = written
            let stop = failure != nil || (closing && from == to)
            // `.sameAsWritten`: the oldest held write (it starts at `from`; writes are in order).
            let expected = hasher == nil ? held.first?.bytes : nil
            condition.unlock()
            if stop { break }
            let want = expected.map { min($0.count, buffer.count) } ?? Int(min(UInt64(buffer.count), to - from))
            var outcome: OTAError?
            do throws(OTAError) {
                let read: Result<Int, OTAError> = buffer.withUnsafeMutableBytes { raw in
                    do throws(OTAError) {
                        return .success(
                            try device.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: from))
                    } catch {
                        return .failure(error)
                    }
                }
                let got = try read.get()
                if got < want {
                    outcome = OTAError(.slotShort, "\(device.path): read back \(got) of \(want) bytes at \(from)")
                } else if let expected {
                    let same = expected.withUnsafeBytes { written in
                        buffer.withUnsafeBytes { memcmp(written.baseAddress!, $0.baseAddress!, want) == 0 }
                    }
                    if !same {
                        outcome = OTAError(
                            .slotHashMismatch,
                            "\(device.path): the bytes read back at \(from) differ from the bytes written")
                    }
                } else {
                    hasher?.update(buffer[0..<want])
                }
            } catch {
                outcome = error
            }
            let end = from + UInt64(want)
            if outcome == nil && end - writtenBack >= Self.writebackSize {
                device.startWriteback(offset: writtenBack, count: end - writtenBack)
                writtenBack = end
            }
            condition.lock()
            if let outcome {
                failure = failure ?? outcome
            } else {
                verified = end
                if let expected {
                    if want == expected.count {
                        held.removeFirst()
                    } else {
                        held[0].offset += UInt64(want)
                        held[0].bytes = expected.dropFirst(want)
                    }
                    heldBytes -= want
                }
            }
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        exited = true
        condition.broadcast()
        condition.unlock()
    }
}

/// What `ReadBackSlotWriter` needs of a slot (`SlotDevice`; tests wrap it to fake a faulty device).
protocol ReadBackDevice: AnyObject {
    var path: String { get }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError)
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(OTAError) -> Int
    func startWriteback(offset: UInt64, count: UInt64)
}

extension SlotDevice: ReadBackDevice {}
