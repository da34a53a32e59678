import Foundation
import OTABase
import OTATestSupport
import Testing

@testable import OTADelta

/// The encoder's images: a regular file is mapped whatever its size; anything else is read into
/// memory up to a limit, so an endless stream is an error, not a trap (`ota-diff /dev/zero NEW`
/// grew until the allocation failed: "Fatal error: failed to allocate 4429184960 bytes" under a
/// 4 GB address-space limit, all of the machine's memory without one).
@Suite struct ImageBytesTests {
    @Test func `an endless stream is refused at the limit, naming the path`() throws {
        let error = #expect(throws: OTAError.self) { try ImageBytes(path: "/dev/zero", streamLimit: 1 << 20) }
        #expect(error?.code == .ioTooLarge)
        #expect(error?.message.hasPrefix("/dev/zero: a stream of more than 1048576 bytes") == true)
    }

    @Test func `a FIFO is read whole from a writer that comes late, and refused above the limit`() throws {
        let directory = try TemporaryDirectory.create("image-bytes")
        defer { TemporaryDirectory.remove(directory) }
        for (count, limit) in [(3, 1 << 20), (70_000, 70_000), (70_001, 70_000)] {
            let fifo = directory + "/fifo-\(count)"
            try #require(mkfifo(fifo, 0o600) == 0)
            let content = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let writer = Thread {
                // Late: the reader opens the FIFO first (it read an empty image before it waited
                // for a writer). The write fails with EPIPE once the reader has given up.
                usleep(100_000)
                if let handle = FileHandle(forWritingAtPath: fifo) { try? handle.write(contentsOf: content) }
            }
            writer.start()
            if count > limit {
                let error = #expect(throws: OTAError.self) { try ImageBytes(path: fifo, streamLimit: limit) }
                #expect(error?.code == .ioTooLarge)
            } else {
                let image = try ImageBytes(path: fifo, streamLimit: limit)
                #expect(image.count == count)
                let same = try image.withBuffer { Array($0) == content }
                #expect(same)
            }
        }
    }

    /// A partition image given as its device (a loop device here): mapped, not read into memory,
    /// so the stream limit does not apply (it refused such a device larger than the limit).
    @Test(.enabled(if: LoopDevice.supported, "needs root, /dev/loop-control and losetup"))
    func `a block device is mapped whatever the stream limit`() throws {
        let directory = try TemporaryDirectory.create("image-bytes")
        defer { TemporaryDirectory.remove(directory) }
        let backing = directory + "/backing"
        let content = RoundTripTests.random(3 << 20, seed: 5)
        try Data(content).write(to: URL(fileURLWithPath: backing))
        let device = try LoopDevice(backing)
        let image = try ImageBytes(path: device.path, streamLimit: 1 << 20)
        #expect(image.count == content.count)
        let same = try image.withBuffer { Array($0) == content }
        #expect(same)
    }

    @Test func `a regular file is mapped whatever the stream limit`() throws {
        let directory = try TemporaryDirectory.create("image-bytes")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/image"
        try Data(repeating: 5, count: 100_000).write(to: URL(fileURLWithPath: path))
        let image = try ImageBytes(path: path, streamLimit: 10)
        #expect(image.count == 100_000)
        #expect(ImageBytes.streamLimit >= 64 << 20)
    }
}

/// A read-only loop device over a file, detached on deinit.
final class LoopDevice {
    static var supported: Bool {
        getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && FailingPatchFile.tool("losetup") != nil
    }

    let path: String

    init(_ backing: String) throws {
        let output = try ProcessRunner.run(
            try #require(FailingPatchFile.tool("losetup")), ["--find", "--show", "--read-only", backing])
        try #require(output.status == 0, "losetup: \(output.stderr)")
        path = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { _ = FailingPatchFile.tool("losetup").map { try? ProcessRunner.run($0, ["-d", path]) } }
}
