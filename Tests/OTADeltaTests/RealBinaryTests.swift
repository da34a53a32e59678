import Foundation
import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Round trips on real executables and shared libraries found on this machine (skipped when
/// absent): CPython extension modules from adjacent releases, and two related Debian tools.
@Suite struct RealBinaryTests {
    static let pairs: [(String, String)] = [
        (
            "/root/.pyenv/versions/3.10.13/lib/python3.10/lib-dynload/_datetime.cpython-310-x86_64-linux-gnu.so",
            "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/_datetime.cpython-311-x86_64-linux-gnu.so"
        ),
        (
            "/root/.pyenv/versions/3.12.1/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so",
            "/root/.pyenv/versions/3.13.0/lib/python3.13/lib-dynload/_json.cpython-313-x86_64-linux-gnu.so"
        ),
        ("/usr/bin/bspatch", "/usr/bin/bsdiff"),
    ]

    @Test(arguments: pairs.indices)
    func `real binaries round trip byte for byte`(index: Int) throws {
        let (oldPath, newPath) = Self.pairs[index]
        guard FileSystem.exists(oldPath), FileSystem.exists(newPath) else { return }
        let old = try FileSystem.read(oldPath, limit: 8 << 20)
        let new = try FileSystem.read(newPath, limit: 8 << 20)
        let patch = try Delta.diff(old: old, new: new)
        #expect(try Delta.apply(old: old, patch: patch) == new)
        let xz = try XZEncoder.compress(new, preset: 9)
        #expect(patch.count < xz.count, "\(newPath): patch \(patch.count) vs xz \(xz.count)")
    }

    @Test func `file to file through the atomic writer`() throws {
        let (oldPath, newPath) = Self.pairs[2]
        guard FileSystem.exists(oldPath), FileSystem.exists(newPath) else { return }
        let directory = try TemporaryDirectory.create("delta-test")
        defer { TemporaryDirectory.remove(directory) }
        let create = try Delta.createPatch(old: oldPath, new: newPath, output: directory + "/p")
        let apply = try Delta.applyPatch(old: oldPath, patch: directory + "/p", output: directory + "/n")
        #expect(create.patchSize == apply.patchSize)
        #expect(try FileSystem.read(directory + "/n") == (try FileSystem.read(newPath)))
        // A failed apply leaves no output file.
        #expect(throws: OTAError(.deltaSourceMismatch, "")) {
            _ = try Delta.applyPatch(old: newPath, patch: directory + "/p", output: directory + "/bad")
        }
        #expect(!FileSystem.exists(directory + "/bad"))
        #expect(try FileSystem.list(directory) == ["n", "p"])
    }
}
