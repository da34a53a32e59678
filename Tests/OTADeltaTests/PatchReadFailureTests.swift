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
    /// Old and new images whose patch runs a frame of many MiB of output from a small patch
    /// stretch just before the read fails, so that frame is still writing when it does.
    ///
    /// New: 764 KiB of random bytes (three INSERT frames of up to 256 KiB raw each, the third
    /// closed by the first ops of what follows), then 12 copies of the 1 MiB old image with one
    /// byte in 4 KiB changed (ADDs: a few raw bytes per 4 KiB of output), then 1 MiB of random
    /// bytes (so the patch goes on past the failing block). By those sizes the frame holding the
    /// ADDs ends near 770 KiB into the 1.8 MB patch and the next one past the failure at 1 MiB.
    /// What shows it: without the decoder's `waitUntilIdle` in `applyPatch`, all three runs below
    /// left the temporary file (2 runs of 2).
    static func images() -> (old: [UInt8], new: [UInt8]) {
        let old = RoundTripTests.random(1 << 20, seed: 71)
        var middle: [UInt8] = []
        for copy in 0..<12 {
            var changed = old
            for position in stride(from: 1234 + copy, to: changed.count, by: 4096) { changed[position] &+= 1 }
            middle += changed
        }
        let new = RoundTripTests.random(764 << 10, seed: 72) + middle + RoundTripTests.random(1 << 20, seed: 73)
        return (old, new)
    }

    @Test func `a patch whose read fails midway is reported as that read's error and leaves nothing`() throws {
        let directory = try TemporaryDirectory("patch-read-failure")
        let (old, new) = Self.images()
        let oldPath = directory.appending("old")
        try Data(old).write(to: URL(fileURLWithPath: oldPath))
        let patch = try Delta.diff(old: old, new: new)
        try #require(patch.count > FailingPatchFile.readableBytes + (64 << 10), "patch of \(patch.count) bytes")
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
