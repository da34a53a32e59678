import Foundation
import OTACore

/// Writes an image into a slot front to back and, on a second thread, reads back what has been
/// written so far and hashes it, so the read-back check of the slot overlaps the writing instead
/// of following it; every 16 MiB read back, that thread also starts the range's writeback, so
/// the device writes overlap too and the final `sync` has little left to do. `finish` waits for the reader and returns the hash of the slot's first
/// `size` bytes as read back through the device.
final class ReadBackSlotWriter: SlotWriting, @unchecked Sendable {
    // Safe: `written`, `verified`, `closing`, `failure` and `exited` are shared under
    // `condition`; `hasher` is used only by the reading thread until it has exited.
    private let device: SlotDevice
    private let hasher: Hasher
    private let condition = NSCondition()
    private var written: UInt64 = 0
    private var verified: UInt64 = 0
    private var closing = false
    private var failure: OTAError?
    private var exited = false
    private var started = false
    /// Bytes read back per step.
    static let pieceSize = 1 << 20
    /// Read-back bytes after which their writeback is started (`SlotDevice.startWriteback`).
    static let writebackSize: UInt64 = 16 << 20

    init(_ device: SlotDevice, algorithm: HashAlgorithm) throws(OTAError) {
        self.device = device
        hasher = try Hasher(algorithm)
    }

    /// Writes at `offset`, which must be where the previous write ended (the image is written in order).
    func write(_ bytes: ArraySlice<UInt8>, at offset: UInt64) throws(OTAError) {
        guard offset == written else {
            throw OTAError(.slotIo, "\(device.path): write at \(offset) while \(written) bytes are written (writes must be in order)")
        }
        try device.write(bytes, at: offset)
        condition.lock()
        if !started {
            started = true
            let thread = Thread { self.readBack() }
            thread.name = "ota.install.readback"
            thread.start()
        }
        written += UInt64(bytes.count)
        condition.broadcast()
        let failed = failure
        condition.unlock()
        if let failed { throw failed }
    }

    /// Waits until everything written has been read back; returns the hash of the first `size`
    /// bytes of the slot (`slot.short` if fewer were written).
    func finish(size: UInt64) throws(OTAError) -> Digest {
        condition.lock()
        closing = true
        condition.broadcast()
        while started && !exited { condition.wait() }
        let failed = failure
        let total = verified
        condition.unlock()
        if let failed { throw failed }
        guard total == size else { throw OTAError(.slotShort, "\(device.path): \(total) bytes written; \(size) expected") }
        return hasher.finalize()
    }

    /// Stops the reading thread without waiting for it to catch up (after a failure; harmless
    /// after `finish`). Every writer must be finished or stopped: the thread waits for more.
    func stop() {
        condition.lock()
        closing = true
        failure = failure ?? OTAError(.slotIo, "\(device.path): read-back stopped")
        condition.broadcast()
        while started && !exited { condition.wait() }
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
            condition.unlock()
            if stop { break }
            let want = Int(min(UInt64(buffer.count), to - from))
            let result: Result<Int, OTAError> = buffer.withUnsafeMutableBytes { raw in
                do throws(OTAError) {
                    return .success(try device.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: from))
                } catch {
                    return .failure(error)
                }
            }
            if case .success(let got) = result, got == want {
                hasher.update(buffer[0..<got])
                let end = from + UInt64(got)
                if end - writtenBack >= Self.writebackSize {
                    device.startWriteback(offset: writtenBack, count: end - writtenBack)
                    writtenBack = end
                }
            }
            condition.lock()
            switch result {
            case .success(let got) where got == want:
                verified += UInt64(got)
            case .success(let got):
                failure = OTAError(.slotShort, "\(device.path): read back \(got) of \(want) bytes at \(from)")
            case .failure(let error):
                failure = error
            }
            condition.unlock()
        }
        condition.lock()
        exited = true
        condition.broadcast()
        condition.unlock()
    }
}
