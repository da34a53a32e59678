import Foundation
import OTATestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A command stopped by a signal leaves no output behind: not the output, and not the partial
/// file under its temporary name (`.NAME.tmp-…`), which before the handler stayed on disk, as
/// large as what was written so far. The process still ends by that signal.
@Suite struct InterruptCleanupTests {
    /// The directory's entries whose names start with `prefix` (hidden ones included).
    static func entries(_ directory: String, prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(prefix) }
    }

    /// `count` pseudo-random bytes.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            for index in stride(from: 0, to: count - 7, by: 8) {
                raw.storeBytes(of: generator.next(), toByteOffset: index, as: UInt64.self)
            }
        }
        return bytes
    }

    /// `ota-diff`'s arguments for an 8 MiB pair written into `directory` (`old.img`, `new.img`:
    /// every 4 KiB one byte changed), its patch `p.patch`.
    static func diffArguments(in directory: TemporaryDirectory, seed: UInt64) throws -> [String] {
        let old = noise(8 << 20, seed: seed)
        var new = old
        for index in stride(from: 0, to: new.count, by: 4096) { new[index] ^= 0x5A }
        try Data(old).write(to: URL(fileURLWithPath: directory.appending("old.img")))
        try Data(new).write(to: URL(fileURLWithPath: directory.appending("new.img")))
        return [directory.appending("old.img"), directory.appending("new.img"), "-o", directory.appending("p.patch")]
    }

    /// Starts `arguments`, waits until its temporary output exists in `directory`, sends
    /// `signal`, and returns how it ended.
    static func stopWhileWriting(
        _ executable: String, _ arguments: [String], directory: String, output: String, signal: Int32
    ) throws -> ChildProcess.Outcome {
        let child = try ChildProcess(executable, arguments, captureErrors: true)
        let deadline = Date(timeIntervalSinceNow: 120)
        while try entries(directory, prefix: ".\(output).tmp-").isEmpty {
            guard Date() < deadline, try !child.hasEnded() else { break }
            usleep(5_000)
        }
        child.kill(signal)
        return try child.finish(timeout: 120)
    }

    @Test(arguments: [SIGTERM, SIGHUP])
    func `ota-diff stopped while writing leaves no temporary file`(signal: Int32) throws {
        let directory = try TemporaryDirectory("interrupt-diff")
        let outcome = try Self.stopWhileWriting(
            CLIRunner.product("ota-diff").path, try Self.diffArguments(in: directory, seed: 16),
            directory: directory.path, output: "p.patch", signal: signal)
        #expect(outcome.status == 128 + signal, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(try Self.entries(directory.path, prefix: ".p.patch") == [])
        #expect(!FileManager.default.fileExists(atPath: directory.appending("p.patch")))
    }

    /// SIGKILL cannot be handled: the temporary file stays. Its name carries the writer's
    /// process id, so the next writer of the same output removes it once that process is gone
    /// and the file has been left a minute (before: it stayed for good, as large as what was
    /// written). A file of a live process, or a fresh one, is left alone.
    @Test func `a temporary file a killed writer left is removed by the next writer of that output`() throws {
        let directory = try TemporaryDirectory("interrupt-kill")
        let arguments = try Self.diffArguments(in: directory, seed: 17)
        let outcome = try Self.stopWhileWriting(
            CLIRunner.product("ota-diff").path, arguments, directory: directory.path, output: "p.patch", signal: SIGKILL
        )
        #expect(outcome.status == 128 + SIGKILL)
        let abandoned = try Self.entries(directory.path, prefix: ".p.patch.tmp-")
        #expect(abandoned.count == 1, "\(abandoned)")
        // Beside it: one of a live process (this one), and one of a gone process written just now.
        let killed = try #require(abandoned.first?.dropFirst(".p.patch.tmp-".count).split(separator: "-").first)
        let alive = ".p.patch.tmp-\(getpid())-000000000000", fresh = ".p.patch.tmp-\(killed)-111111111111"
        for name in [alive, fresh] { try Data("x".utf8).write(to: URL(fileURLWithPath: directory.appending(name))) }
        let longAgo = Date(timeIntervalSinceNow: -120)
        for name in abandoned + [alive] {
            try FileManager.default.setAttributes([.modificationDate: longAgo], ofItemAtPath: directory.appending(name))
        }
        let again = try ProcessRunner.run(CLIRunner.product("ota-diff").path, arguments)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.entries(directory.path, prefix: ".p.patch.tmp-").sorted() == [alive, fresh].sorted())
        #expect(FileManager.default.fileExists(atPath: directory.appending("p.patch")))
    }

    @Test func `ota bundle build stopped while writing leaves no temporary file`() throws {
        let directory = try TemporaryDirectory("interrupt-bundle")
        try SampleImages.make(in: directory.appending("images"), sizeMiB: 48)
        let keys = RepositoryRoot.path + "/keys-sample/intl"
        let outcome = try Self.stopWhileWriting(
            CLIRunner.executable.path,
            [
                "bundle", "build", RepositoryRoot.path + "/manifests/infotainment-full.yaml", "--images",
                directory.appending("images"), "--key", "\(keys)/release/signer-1.key", "--cert",
                "\(keys)/release/signer-1.crt", "--chain", "\(keys)/release/chain.pem", "-o",
                directory.appending("ivi.ota"),
            ], directory: directory.path, output: "ivi.ota", signal: SIGTERM)
        #expect(outcome.status == 128 + SIGTERM, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(try Self.entries(directory.path, prefix: ".ivi.ota") == [])
        #expect(!FileManager.default.fileExists(atPath: directory.appending("ivi.ota")))
    }

    /// The old image is mapped; truncated while `ota-diff` waits for the new image on a FIFO, its
    /// next read faults (SIGBUS). Before: "Bus error" and the patch's temporary file left behind.
    @Test func `an input cut short under ota-diff is reported and leaves no temporary file`() throws {
        let directory = try TemporaryDirectory("interrupt-bus")
        let old = Self.noise(1 << 20, seed: 17)
        let oldPath = directory.appending("old.img"), fifo = directory.appending("new.fifo")
        try Data(old).write(to: URL(fileURLWithPath: oldPath))
        try #require(mkfifo(fifo, 0o600) == 0)
        let child = try ChildProcess(
            CLIRunner.product("ota-diff").path, [oldPath, fifo, "-o", directory.appending("p.patch")],
            captureErrors: true)
        // Mapped: the old image is in the process's memory map.
        let deadline = Date(timeIntervalSinceNow: 60)
        while (try? String(contentsOfFile: "/proc/\(child.pid)/maps", encoding: .utf8))?.contains(oldPath) != true {
            let ended = try child.hasEnded()
            try #require(Date() < deadline && !ended, "ota-diff never mapped \(oldPath)")
            usleep(5_000)
        }
        try #require(truncate(oldPath, 0) == 0)
        let writer = open(fifo, O_WRONLY)
        try #require(writer >= 0)
        let new = old.map { $0 ^ 0x11 }
        _ = new.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
        close(writer)
        let outcome = try child.finish(timeout: 120)
        let errors = String(decoding: outcome.stderr, as: UTF8.self)
        #expect(outcome.status == 128 + SIGBUS, "\(errors)")
        #expect(errors.contains("cut short while being read (SIGBUS)"), "\(errors)")
        #expect(try Self.entries(directory.path, prefix: ".p.patch") == [])
        #expect(!FileManager.default.fileExists(atPath: directory.appending("p.patch")))
    }
}
