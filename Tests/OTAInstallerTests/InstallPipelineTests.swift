import Foundation
import OTACore
import Testing

@testable import OTAInstaller

/// The install pipeline's stages: items in order, failures where a single loop would have them,
/// no stage left running after a failure, and the slot read back as written.
@Suite("Install pipeline")
struct InstallPipelineTests {
    @Test func `items come out in order, all of them, whatever the depth`() throws {
        for depth in [1, 2, 4, 64] {
            var next = 0
            var seen: [Int] = []
            try StagePipeline.run(
                depth: depth,
                produce: { () throws(OTAError) -> Int? in
                    guard next < 1000 else { return nil }
                    defer { next += 1 }
                    return next
                }
            ) { item throws(OTAError) in seen.append(item) }
            #expect(seen == Array(0..<1000), "depth \(depth)")
        }
    }

    @Test func `a producer failure arrives after every item produced before it`() {
        var next = 0
        var seen: [Int] = []
        #expect(throws: OTAError(.payloadChunkHash, "")) {
            try StagePipeline.run(
                depth: 4,
                produce: { () throws(OTAError) -> Int? in
                    guard next < 10 else { throw OTAError(.payloadChunkHash, "chunk 10 does not match") }
                    defer { next += 1 }
                    return next
                }
            ) { item throws(OTAError) in seen.append(item) }
        }
        #expect(seen == Array(0..<10))
    }

    @Test func `a consumer failure stops the producer before run returns, at most depth items ahead`() {
        let produced = Counter()
        #expect(throws: OTAError(.slotIo, "")) {
            try StagePipeline.run(depth: 3, produce: { () throws(OTAError) -> Int? in produced.add() }) {
                item throws(OTAError) in
                if item == 5 { throw OTAError(.slotIo, "write failed") }
            }
        }
        let count = produced.value
        // Items 0...5 consumed, at most 3 queued behind, plus one in the producer's hands.
        #expect(count >= 6 && count <= 10, "\(count) produced")
        usleep(50_000)
        #expect(produced.value == count, "the producer kept running after run returned")
    }

    @Test func `the read-back hash is the hash of what was written, and writes must be in order`() throws {
        try withSlot { device, content in
            let writer = try ReadBackSlotWriter(device, check: .hash(.sha256))
            try write(content, to: writer)
            #expect(throws: OTAError(.slotIo, "")) { try writer.write([1, 2, 3][...], at: 0) }
            let expected = try Hasher(.sha256)
            expected.update(content)
            guard case .digest(let digest) = try writer.finish(size: UInt64(content.count)) else {
                Issue.record("no digest"); return
            }
            #expect(digest.bytes == expected.finalize().bytes)
            writer.stop()

            let short = try ReadBackSlotWriter(device, check: .hash(.sha256))
            try short.write(content[0..<1000], at: 0)
            #expect(throws: OTAError(.slotShort, "")) { try short.finish(size: 1001) }
            let stopped = try ReadBackSlotWriter(device, check: .hash(.sha256))
            try stopped.write(content[0..<(8 << 20)], at: 0)
            stopped.stop()
        }
    }

    @Test
    func
        `compared with what was written, the read-back passes on the same bytes and catches a byte the device changed`()
        throws
    {
        try withSlot { device, content in
            let writer = try ReadBackSlotWriter(device, check: .sameAsWritten)
            try write(content, to: writer)
            guard case .matchesWritten = try writer.finish(size: UInt64(content.count)) else {
                Issue.record("no match"); return
            }

            // A device that returns one byte changed when read back (a write lost or corrupted
            // on its way to the medium) is caught.
            let faulty = try ReadBackSlotWriter(FlippingDevice(device, at: 12_345_678), check: .sameAsWritten)
            #expect(throws: OTAError(.slotHashMismatch, "")) {
                try write(content, to: faulty)
                _ = try faulty.finish(size: UInt64(content.count))
            }
            faulty.stop()
            // Hashing the read-back gives a different digest for the same fault.
            let hashing = try ReadBackSlotWriter(FlippingDevice(device, at: 12_345_678), check: .hash(.sha256))
            try write(content, to: hashing)
            guard case .digest(let digest) = try hashing.finish(size: UInt64(content.count)) else {
                Issue.record("no digest"); return
            }
            let expected = try Hasher(.sha256)
            expected.update(content)
            #expect(digest.bytes != expected.finalize().bytes)
        }
    }

    /// The slot is flushed while the image is written (every 2 MiB, one flush at a time), and a
    /// flush that failed fails the final `sync`: the kernel reports a write error to one sync call
    /// only, so the fsync after it could succeed on a slot the device did not store.
    @Test func `the slot is flushed while written, and a failed early flush fails the sync`() throws {
        try withSlot { device, content in
            let writer = try ReadBackSlotWriter(device, check: .sameAsWritten)
            try write(content, to: writer)
            try device.sync()
            _ = try writer.finish(size: UInt64(content.count))
            #expect(device.earlyFlushes >= 1)
        }
        try withSlot(
            dataSync: { _ in
                errno = EIO
                return -1
            }
        ) { device, content in
            let writer = try ReadBackSlotWriter(device, check: .sameAsWritten)
            defer { writer.stop() }
            try write(content, to: writer)
            #expect(device.earlyFlushes >= 1)
            let error = #expect(throws: OTAError.self) { try device.sync() }
            #expect(error?.code == "slot.io" && error?.message.contains("fdatasync") == true)
        }
    }

    @Test func `raw writes from a reused buffer read back as written, compared or hashed`() throws {
        try withSlot { device, content in
            // The bytes are valid only during `write`: the buffer is overwritten after each call,
            // so a writer that kept the pointer instead of a copy would compare garbage.
            let compared = try ReadBackSlotWriter(device, check: .sameAsWritten)
            try writeRaw(content, to: compared)
            guard case .matchesWritten = try compared.finish(size: UInt64(content.count)) else {
                Issue.record("no match"); return
            }
            let hashed = try ReadBackSlotWriter(device, check: .hash(.sha256))
            try writeRaw(content, to: CountingSlotWriter(hashed) { _ in })
            guard case .digest(let digest) = try hashed.finish(size: UInt64(content.count)) else {
                Issue.record("no digest"); return
            }
            let expected = try Hasher(.sha256)
            expected.update(content)
            #expect(digest.bytes == expected.finalize().bytes)
        }
    }

    /// Writes `content` in uneven pieces through one scratch buffer, scribbled over after each write.
    private func writeRaw(_ content: [UInt8], to writer: any SlotWriting) throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 5 << 20, alignment: 16)
        defer { scratch.deallocate() }
        var offset = 0
        for piece in [1, 4095, 300_000, 1 << 20] + Array(repeating: 5 << 20, count: 8) where offset < content.count {
            let end = min(offset + piece, content.count)
            content[offset..<end].withUnsafeBytes { scratch.copyMemory(from: $0) }
            try writer.write(UnsafeRawBufferPointer(rebasing: scratch[0..<(end - offset)]), at: UInt64(offset))
            scratch.initializeMemory(as: UInt8.self, repeating: 0xAA)
            offset = end
        }
        #expect(offset == content.count)
    }

    private func withSlot(
        dataSync: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }, _ body: (SlotDevice, [UInt8]) throws -> Void
    ) throws {
        let directory = FileManager.default.temporaryDirectory.path + "/ota-readback-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/slot"
        let size = 20 << 20
        try SlotDevice.createFile(path: path, capacity: UInt64(size) + 4096)
        let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        try body(try SlotDevice(path: path, writable: true, dataSync: dataSync), content)
    }

    private func write(_ content: [UInt8], to writer: ReadBackSlotWriter) throws {
        var offset = 0
        for piece in [1, 4095, 300_000, 1 << 20, 7 << 20] + Array(repeating: 5 << 20, count: 8)
        where offset < content.count {
            let end = min(offset + piece, content.count)
            try writer.write(content[offset..<end], at: UInt64(offset))
            offset = end
        }
        #expect(offset == content.count)
    }
}

/// A slot whose reads return the byte at `offset` inverted.
private final class FlippingDevice: ReadBackDevice {
    let device: SlotDevice
    let offset: UInt64
    init(_ device: SlotDevice, at offset: UInt64) {
        self.device = device
        self.offset = offset
    }
    var path: String { device.path }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError) {
        try device.write(bytes, at: offset)
    }
    func startWriteback(offset: UInt64, count: UInt64) {}
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(OTAError) -> Int {
        let got = try device.read(into: buffer, at: offset)
        if self.offset >= offset && self.offset < offset + UInt64(got) { buffer[Int(self.offset - offset)] ^= 0xff }
        return got
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() -> Int {
        lock.withLock {
            count += 1
            return count - 1
        }
    }
}
