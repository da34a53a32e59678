import Foundation
import OTABase
import OTATestSupport
import Testing

@testable import OTADelta

/// A patch file whose read fails midway, with a real `EIO` from the kernel: `Delta.applyPatch`
/// (and `ota-patch` and `ota delta apply`, which are it) reports the read error, naming the patch
/// and the cause, and leaves no output and no temporary file, even though a frame was still
/// writing that temporary file on the decoder's thread when the read failed.
///
/// The failing file: an ext2 filesystem with 2 KiB blocks, mounted read-only from a loop device,
/// holding the patch with its double-indirect block pointer set past the end of the filesystem.
/// Reads return the first 12 + 512 blocks (1,073,152 bytes) and then fail with `EIO`. This needs
/// root, loop devices, ext2 and e2fsprogs; the suite is skipped without them.
@Suite(.serialized, .enabled(if: FailingPatchFile.supported, "needs root, a loop device, mkfs.ext2 and debugfs"))
struct PatchReadFailureTests {
    /// A patch, crafted frame by frame (not made by `Delta.diff`: diffing a 13.5 MiB image took
    /// minutes in a debug build), whose read fails just after a frame of many MiB of output from
    /// a few hundred patch bytes has started, so that frame is still writing when it does.
    ///
    /// Old: 1 MiB of random bytes. The patch: four INSERT frames of 1,020 KiB of random bytes
    /// (256, 256, 256 and 252 KiB), then one frame of 48 ADDs of 256 KiB (12 MiB of output: 12
    /// passes over the old image with the last byte of every 4 KiB plus one; the runs and
    /// differences repeat, so it packs small), ending before 1 MiB into the patch (a whole 64 KiB
    /// read), then two INSERT frames of 256 KiB, the first cut by the failure at 1,073,152 bytes.
    /// The decoder starts the ADD frame's ops on its own thread as that frame's last piece comes
    /// in, and the next read fails while they run. What shows it: without the decoder's
    /// `waitUntilIdle` in `applyPatch`, all three runs below left the temporary file (4 runs of 4).
    static func patch() throws -> (old: [UInt8], patch: [UInt8], new: [UInt8], frameEnds: [Int]) {
        typealias Streams = AdversarialPatchTests.Streams
        let old = RoundTripTests.random(1 << 20, seed: 71)
        var new: [UInt8] = []
        var frames: [[UInt8]] = []
        var bodySize: UInt64 = 0
        func add(_ streams: Streams) throws {
            frames.append(try AdversarialPatchTests.frame(streams))
            bodySize += UInt64(streams.all.reduce(0) { $0 + $1.count })
        }
        func insert(_ bytes: [UInt8]) throws {
            new += bytes
            try add(
                Streams(
                    control: [DeltaOperation.insertCode] + AdversarialPatchTests.varint(UInt64(bytes.count)),
                    inserts: bytes))
        }
        for (index, size) in [256 << 10, 256 << 10, 256 << 10, 252 << 10].enumerated() {
            try insert(RoundTripTests.random(size, seed: 72 + UInt64(index)))
        }
        let length = 256 << 10
        var adds = Streams()
        var changed = old
        for position in stride(from: 4095, to: changed.count, by: 4096) { changed[position] &+= 1 }
        for op in 0..<48 {
            let start = op % 4 * length
            // Old positions on the wire are relative to the end of the previous ADD's old range.
            let delta = op == 0 ? 0 : start - ((op - 1) % 4 * length + length)
            adds.control += [DeltaOperation.addCode] + AdversarialPatchTests.varint(Varint.zigzag(Int64(delta)))
            adds.control += AdversarialPatchTests.varint(UInt64(length))
            for _ in 0..<(length / 4096) {
                adds.runs += AdversarialPatchTests.run(zeros: 4095, literals: 1)
                adds.differences.append(1)
            }
            new += changed[start..<(start + length)]
        }
        try add(adds)
        for index in 0..<2 { try insert(RoundTripTests.random(256 << 10, seed: 76 + UInt64(index))) }
        let header = try AdversarialPatchTests.header(old: old, new: new, bodySize: bodySize)
        let frameEnds = frames.indices.map { index in
            DeltaPatchHeader.byteCount + frames[...index].reduce(0) { $0 + $1.count }
        }
        return (old, header + frames.joined(), new, frameEnds)
    }

    @Test func `a patch whose read fails midway is reported as that read's error and leaves nothing`() throws {
        let directory = try TemporaryDirectory("patch-read-failure")
        let (old, patch, new, frameEnds) = try Self.patch()
        let oldPath = directory.appending("old")
        try Data(old).write(to: URL(fileURLWithPath: oldPath))
        // The layout above: the ADD frame whole in the reads before the failing block, the next
        // frame cut by it.
        try #require(
            frameEnds[4] <= 1 << 20 && frameEnds[5] > FailingPatchFile.readableBytes,
            "frames end at \(frameEnds)")
        let failing = try FailingPatchFile(patch, in: directory)

        // In process: the temporary file is gone when `applyPatch` throws (the frame that was
        // writing it has let go of it), not later on the decoder's thread.
        let inProcess = try Self.emptyDirectory(directory, "in-process")
        var caught: OTAError?
        do {
            _ = try Delta.applyPatch(old: oldPath, patch: failing.path, output: inProcess + "/new")
        } catch {
            caught = error
        }
        #expect(try Self.names(inProcess) == [], "left behind when it threw")
        let error = try #require(caught)
        #expect(error.code == .ioFailed)
        #expect(error.message == "\(failing.path): read failed")
        #expect(error.cause == "Input/output error")

        // ota-patch and ota delta apply: exit status 1 with the same code, nothing left (a process
        // that exited while a frame still wrote would leave the temporary file for good).
        let leanOutputs = try Self.emptyDirectory(directory, "ota-patch")
        let lean = try ProcessRunner.run(
            CLIRunner.product("ota-patch").path, [oldPath, failing.path, "-o", leanOutputs + "/new"])
        #expect(lean.status == 1)
        #expect(lean.stderr.contains("\(failing.path): read failed"), "\(lean.stderr)")
        #expect(lean.stderr.contains("Input/output error"), "\(lean.stderr)")
        #expect(lean.stderr.contains("[io.failed]"), "\(lean.stderr)")
        #expect(try Self.names(leanOutputs) == [], "ota-patch left it behind")
        let fullOutputs = try Self.emptyDirectory(directory, "ota")
        let full = try CLIRunner.run(["delta", "apply", oldPath, failing.path, "-o", fullOutputs + "/new", "--json"])
        #expect(full.status == 1)
        #expect(full.errorCode == "io.failed", "\(full.stdout)")
        #expect(full.stdout.contains("\(failing.path): read failed"), "\(full.stdout)")
        #expect(try Self.names(fullOutputs) == [], "ota delta apply left it behind")

        // The same patch read in full rebuilds the image (the failure is the read's, not the patch's).
        let whole = directory.appending("patch")
        try Data(patch).write(to: URL(fileURLWithPath: whole))
        _ = try Delta.applyPatch(old: oldPath, patch: whole, output: inProcess + "/new")
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: inProcess + "/new"))) == new)
    }

    static func emptyDirectory(_ directory: TemporaryDirectory, _ name: String) throws -> String {
        let path = directory.appending(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func names(_ path: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path) }
}

/// A file whose reads fail with `EIO` after `readableBytes`, on a filesystem of its own (ext2,
/// 2 KiB blocks, loop-mounted read-only under the given directory; unmounted on deinit): the
/// file's double-indirect block pointer points past the end of the filesystem.
final class FailingPatchFile {
    /// 12 direct blocks and the 512 of the indirect block, 2 KiB each.
    static let readableBytes = (12 + 512) * 2048

    static func tool(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].map { $0 + name }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static var supported: Bool {
        getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && ["mkfs.ext2", "debugfs", "mount", "umount"].allSatisfy { tool($0) != nil }
    }

    let mountPoint: String
    var path: String { mountPoint + "/patch" }

    init(_ contents: [UInt8], in directory: TemporaryDirectory) throws {
        let source = directory.appending("fs-source")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data(contents).write(to: URL(fileURLWithPath: source + "/patch"))
        let image = directory.appending("fs.img")
        let blocks = String(contents.count / 2048 + 1024)
        try Self.run("mkfs.ext2", ["-q", "-F", "-b", "2048", "-d", source, image, blocks])
        try Self.run("debugfs", ["-w", "-R", "set_inode_field /patch block[DIND] 99999999", image])
        mountPoint = directory.appending("mnt")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Self.run("mount", ["-o", "loop,ro", image, mountPoint])
    }

    deinit { _ = try? Self.run("umount", [mountPoint]) }

    private static func run(_ name: String, _ arguments: [String]) throws {
        let output = try ProcessRunner.run(try #require(tool(name)), arguments, timeout: 60)
        try #require(output.status == 0, "\(name) \(arguments): \(output.stderr)")
    }
}
