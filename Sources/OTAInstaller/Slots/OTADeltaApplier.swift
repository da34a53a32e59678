import Foundation
public import OTACore
import OTADelta

/// The installer's delta applier: OTADelta's streaming `DeltaDecoder`, pipelined (each frame's
/// ops and slot writes on a thread of the decoder's own while the installer's thread decodes the
/// next frame; `Session`) or, for a small image and patch, on the installer's thread alone
/// (`Delta.threads(oldSize:newSize:patchSize:)`, as `ota-patch` chooses), reading the source
/// image from the active slot by offset and writing the rebuilt image into the inactive slot in
/// order, each output piece straight from the decoder's buffer. The decoder checks the source's size
/// before its first output byte and its hash on a second thread while it decodes (`finish`
/// waits for it and reports a mismatch over any other error), the patch header's new-image hash
/// against the signed target hash before any output, and the result's hash at the end; the
/// installer compares the slot, read back, with the bytes written before any switch.
public struct OTADeltaApplier: DeltaApplier {
    public init() {}

    /// `DeltaDecoder` hashes the whole source against the patch header (beside the decoding for
    /// a slot device, before any output for another `SlotReading`); a mismatch fails `consume`
    /// or `finish` with `delta.source-mismatch`.
    public var verifiesSource: Bool { true }

    /// `DeltaDecoder` refuses a patch whose header declares another new-image hash than the
    /// signed `targetHash` (`delta.target-mismatch`, before any output) and its `finish` one whose
    /// output does not hash to the header's (`delta.result-mismatch`).
    public var verifiesTarget: Bool { true }

    public func begin(
        source: any SlotReading, sourceSize: UInt64, target: any SlotWriting, targetSize: UInt64,
        targetHash: Digest, patchSize: UInt64
    ) throws(OTAError) -> any DeltaApplySession {
        let old: any DeltaSource =
            if let device = source as? SlotDevice {
                DeviceDeltaSource(device: device, size: sourceSize)
            } else {
                SlotDeltaSource(slot: source, size: sourceSize)
            }
        // The signed sizes: a patch whose header declares another new size fails (`deltaTooLong`,
        // `deltaShortOutput`) whichever threads it runs on.
        let threads = Delta.threads(oldSize: sourceSize, newSize: targetSize, patchSize: patchSize)
        return Session(source: old, target: target, targetSize: targetSize, targetHash: targetHash, threads: threads)
    }

    /// The first `size` bytes of any readable slot, as OTADelta's old image (the decoder copies
    /// from the arrays it returns).
    final class SlotDeltaSource: DeltaSource {
        let slot: any SlotReading
        let byteCount: Int64

        init(slot: any SlotReading, size: UInt64) {
            self.slot = slot
            byteCount = Int64(size)
        }

        func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
            let bytes = try slot.read(at: UInt64(offset), count: count)
            guard bytes.count == count else { throw OTAError(.slotShort, "the source slot ended early") }
            return bytes
        }
    }

    /// A slot device's first `size` bytes, read straight into the decoder's buffers (from two
    /// threads at once: `pread` does not move a shared file position).
    final class DeviceDeltaSource: DirectDeltaSource {
        let device: SlotDevice
        let byteCount: Int64

        init(device: SlotDevice, size: UInt64) {
            self.device = device
            byteCount = Int64(size)
        }

        func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) {
            guard try device.read(into: buffer, at: UInt64(offset)) == buffer.count else {
                throw OTAError(.slotShort, "the source slot ended early")
            }
        }

        func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
            let bytes = try device.read(at: UInt64(offset), count: count)
            guard bytes.count == count else { throw OTAError(.slotShort, "the source slot ended early") }
            return bytes
        }
    }

    /// One patch being applied. On `.callerOnly` (a small image) the decoder runs every frame,
    /// both hashes and every write in `consume` and `finish`, on the installer's thread. Pipelined,
    /// each frame's ops run on a thread of the decoder's own and `Output.write` and everything below it (the installer's
    /// `CountingSlotWriter`, `ReadBackSlotWriter`, `SlotDevice`) on a second one, one piece at a
    /// time and in order, while the installer's thread decodes the payload and calls `consume`
    /// with the next bytes. Why that is safe:
    /// - the target chain is used by no other thread until the installer's thread has waited for
    ///   every frame: `finish` (the decoder's `finish` returns or throws only after every frame
    ///   ran) or `cancel` (below); `consume` touches none of it;
    /// - what the chain shares with the installer's thread is atomic or behind a lock: the byte
    ///   count `CountingSlotWriter` adds to and the progress report reads (an `Atomic`), the
    ///   read-back thread's state (`ReadBackSlotWriter`, a lock); the fault hook is `@Sendable`;
    /// - a failed write (and `deltaTooLong`) keeps its code: the decoder reports an output error
    ///   from the next `consume` that runs a frame or from `finish`, and runs no frame after it.
    ///   The installer switches no slot unless `finish` returned and the slot read back matches;
    /// - a session given up mid-patch (an error in the bundle or payload stage) closes `Output`
    ///   and waits for the frame running before the installer stops the read-back and discards
    ///   the slot: no write lands in the slot after `cancel` returns.
    final class Session: DeltaApplySession {
        private var decoder: DeltaDecoder?
        private let box: Output

        /// The decoder's output sink: writes at the running offset, refusing to pass the target
        /// size, and nothing at all once closed.
        final class Output {
            let target: any SlotWriting
            let limit: UInt64
            var offset: UInt64 = 0
            /// Held through each write, so `close` returns only after the write running, if any.
            private let lock = NSLock()
            private var closed = false

            init(target: any SlotWriting, limit: UInt64) {
                self.target = target
                self.limit = limit
            }

            func write(_ bytes: UnsafeRawBufferPointer) throws(OTAError) {
                lock.lock()
                defer { lock.unlock() }
                guard !closed else { throw OTAError(.slotIo, "the delta was given up; its output is not written") }
                guard offset + UInt64(bytes.count) <= limit else {
                    throw OTAError(.deltaTooLong, "the patch rebuilds more than the signed \(limit) bytes")
                }
                try target.write(bytes, at: offset)
                offset += UInt64(bytes.count)
            }

            /// Refuses every later write; returns once the write running, if any, is done.
            func close() {
                lock.lock()
                closed = true
                lock.unlock()
            }
        }

        init(
            source: any DeltaSource, target: any SlotWriting, targetSize: UInt64, targetHash: Digest,
            threads: DeltaDecoder.Threads
        ) {
            let box = Output(target: target, limit: targetSize)
            self.box = box
            // The source hashed beside the decoding (or, on one thread, after it): the slot written
            // is switched to only after `finish` (which waits for that hash) and the installer's
            // read-back check.
            decoder = DeltaDecoder(
                source: source, sourceCheck: .concurrent, threads: threads, expectedNewHash: targetHash
            ) {
                (bytes: UnsafeRawBufferPointer) throws(OTAError) in try box.write(bytes)
            }
        }

        deinit { cancel() }

        func consume(_ patch: [UInt8]) throws(OTAError) {
            try decoder?.update(patch)
        }

        func finish() throws(OTAError) -> UInt64 {
            guard let decoder else { return box.offset }
            // Returns or throws only after every frame ran: nothing is written after this.
            self.decoder = nil
            let header = try decoder.finish()
            guard header.newSize == box.offset else {
                throw OTAError(
                    .deltaShortOutput, "the patch rebuilt \(box.offset) bytes; its header declares \(header.newSize)")
            }
            return box.offset
        }

        func cancel() {
            box.close()
            // The frame running stops at its next write; waiting for it here releases the decoder
            // (and stops its source hash) on this thread.
            decoder?.waitUntilIdle()
            decoder = nil
        }
    }
}
