import Foundation
import OTATestSupport
import Testing

/// `ota-patch`, the vehicle-side applier without Foundation: the same output, error codes, exit
/// statuses and clean failure as `ota delta apply` (the same decoder), and none of the libraries
/// it exists to leave out.
@Suite(.serialized) struct PatchExecutableTests {
    static var patcher: String { CLIRunner.product("ota-patch").path }

    /// Runs `ota-patch`; the code is the `[...]` of its `ota-patch: error:` line, if any.
    static func patch(_ arguments: [String]) throws -> (status: Int32, code: String?, stdout: String) {
        try #require(FileManager.default.isExecutableFile(atPath: patcher), "\(patcher) is not built")
        let output = try ProcessRunner.run(patcher, arguments)
        let code = output.stderr.firstMatch(of: /ota-patch: error: .*\[([a-z0-9.-]+)\]/).map { String($0.output.1) }
        return (output.status, code, output.stdout)
    }

    /// The files in `directory` (a failed apply must leave nothing, not even its temporary file).
    static func names(_ directory: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory))
    }

    /// Old and new images, a patch of them, in a fresh directory.
    static func fixture(_ label: String) throws -> (TemporaryDirectory, new: [UInt8], patch: [UInt8]) {
        let directory = try TemporaryDirectory(label)
        let (old, new) = ReferenceTransformTests.pair(.x86_64)
        try Data(old).write(to: URL(fileURLWithPath: directory.appending("old")))
        try Data(new).write(to: URL(fileURLWithPath: directory.appending("new")))
        let create = try CLIRunner.run([
            "delta", "create", directory.appending("old"), directory.appending("new"), "-o", directory.appending("p"),
        ])
        try #require(create.status == 0, "\(create.stderr)")
        return (directory, new, Array(try Data(contentsOf: URL(fileURLWithPath: directory.appending("p")))))
    }

    @Test func `ota-patch rebuilds the new image like ota delta apply`() throws {
        let (directory, new, _) = try Self.fixture("ota-patch-round-trip")
        let result = try Self.patch([
            directory.appending("old"), directory.appending("p"), "-o", directory.appending("out"),
        ])
        #expect(result.status == 0)
        #expect(result.code == nil)
        #expect(result.stdout.contains("\(new.count) bytes, sha256:"))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: directory.appending("out")))) == new)
        // Operands and -o in any order, --output=.
        let reordered = try Self.patch([
            "-o", directory.appending("out2"), directory.appending("old"), directory.appending("p"),
        ])
        #expect(reordered.status == 0)
        let equals = try Self.patch([
            directory.appending("old"), directory.appending("p"), "--output=" + directory.appending("out3"),
        ])
        #expect(equals.status == 0)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: directory.appending("out3")))) == new)
    }

    /// Every refusal `ota delta apply` gives, `ota-patch` gives with the same code and exit status,
    /// and neither leaves an output or temporary file.
    @Test func `a tampered patch or wrong old image is refused with ota delta apply's code and status`() throws {
        let (directory, _, patch) = try Self.fixture("ota-patch-refusals")
        var cases: [(label: String, old: String, patch: [UInt8])] = [
            ("wrong old image", "new", patch),
            (
                "header byte flipped", "old",
                {
                    var p = patch; p[20] ^= 1; return p
                }()
            ),
            ("truncated in the header", "old", Array(patch.prefix(50))),
            ("truncated in the body", "old", Array(patch.prefix(patch.count - 7))),
            ("trailing byte", "old", patch + [0]),
            (
                "unknown version", "old",
                {
                    var p = patch; p[8] = 9; return p
                }()
            ),
        ]
        // Flipped bytes across the body (frames, transform block, streams).
        for position in stride(from: 108, to: patch.count, by: max(1, (patch.count - 108) / 6)) {
            var p = patch
            p[position] ^= 0x40
            cases.append(("body byte \(position) flipped", "old", p))
        }
        // An old image of the right size with one byte changed: its hash runs beside the
        // decoding, and its mismatch is the error, with or without another fault in the patch.
        var flippedOld = Array(try Data(contentsOf: URL(fileURLWithPath: directory.appending("old"))))
        flippedOld[flippedOld.count / 3] ^= 1
        try Data(flippedOld).write(to: URL(fileURLWithPath: directory.appending("old-flipped")))
        cases.append(("same-size wrong old image", "old-flipped", patch))
        cases.append(
            ("same-size wrong old image, truncated patch", "old-flipped", Array(patch.prefix(patch.count - 7))))
        cases.append(("same-size wrong old image, trailing byte", "old-flipped", patch + [0]))
        let before = try Self.names(directory.path)
        for item in cases {
            try Data(item.patch).write(to: URL(fileURLWithPath: directory.appending("bad-patch")))
            let reference = try CLIRunner.run([
                "delta", "apply", directory.appending(item.old), directory.appending("bad-patch"), "-o",
                directory.appending("out"), "--json",
            ])
            let lean = try Self.patch([
                directory.appending(item.old), directory.appending("bad-patch"), "-o", directory.appending("out"),
            ])
            #expect(reference.status != 0, "\(item.label): ota delta apply accepted it")
            #expect(lean.status == reference.status, "\(item.label)")
            #expect(
                lean.code != nil && lean.code == reference.errorCode,
                "\(item.label): \(String(describing: lean.code)) vs \(String(describing: reference.errorCode))")
            #expect(try Self.names(directory.path) == before.union(["bad-patch"]), "\(item.label): output left behind")
            if item.old == "old-flipped" {
                #expect(lean.code == "delta.source-mismatch" && lean.status == 2, "\(item.label)")
            }
        }
    }

    @Test func `usage and I/O errors exit 1 with their codes`() throws {
        let (directory, _, _) = try Self.fixture("ota-patch-usage")
        let noOutput = try Self.patch([directory.appending("old"), directory.appending("p")])
        #expect(noOutput.status == 1)
        #expect(noOutput.code == "usage.invalid")
        let unknown = try Self.patch([
            "--fast", directory.appending("old"), directory.appending("p"), "-o", directory.appending("out"),
        ])
        #expect(unknown.status == 1)
        #expect(unknown.code == "usage.invalid")
        let missing = try Self.patch([
            directory.appending("nope"), directory.appending("p"), "-o", directory.appending("out"),
        ])
        #expect(missing.status == 1)
        #expect(missing.code == "io.not-found")
        #expect(!FileManager.default.fileExists(atPath: directory.appending("out")))
        // An output that is not a regular file (here a FIFO; as root, /dev/null was replaced) is
        // refused before the apply and left as it was.
        let fifo = directory.appending("out-fifo")
        try #require(mkfifo(fifo, 0o644) == 0)
        let ontoFIFO = try Self.patch([directory.appending("old"), directory.appending("p"), "-o", fifo])
        #expect(ontoFIFO.status == 1)
        #expect(ontoFIFO.code == "io.not-a-file")
        #expect(try FileManager.default.attributesOfItem(atPath: fifo)[.type] as? FileAttributeType == .typeUnknown)
        #expect(try Self.names(directory.path) == ["old", "new", "p", "out-fifo"])
        let version = try Self.patch(["--version"])
        #expect(version.status == 0)
        #expect(!version.stdout.isEmpty)
    }

    /// The point of the executable: none of Foundation, libcurl or the server stack is linked,
    /// dynamically or statically (checked on the binary; the same check finds Foundation in `ota`).
    @Test func `ota-patch links no Foundation, libcurl, libssl, GRDB or NIO`() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.patcher), "\(Self.patcher) is not built")
        func run(_ script: String, _ binary: String) throws -> String {
            let output = try ProcessRunner.run("/bin/bash", ["-c", script, "check", binary])
            return output.stdout
        }
        let needed = try run("readelf -d \"$1\" | grep NEEDED || true", Self.patcher)
        // libssl: COpenSSL is libcrypto alone (TLS is libcurl's, which brings its own libssl).
        for library in ["libFoundation", "libcurl", "libssl", "libxml2", "libicu", "lib_FoundationICU", "libsqlite3"] {
            #expect(!needed.contains(library), "ota-patch needs \(library): \(needed)")
        }
        let prefixes = ["$s10Foundation", "$s20FoundationEssentials", "$s4GRDB", "$s7NIOCore", "curl_easy_init"]
        for prefix in prefixes {
            let count = try run("nm -P \"$1\" 2>/dev/null | grep -c -F -- '\(prefix)' || true", Self.patcher)
            #expect(count.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "ota-patch holds \(prefix)")
        }
        // The check can fail: `ota` links Foundation.
        let ota = try run("readelf -d \"$1\" | grep NEEDED || true", CLIRunner.executable.path)
        #expect(ota.contains("libFoundation"))
    }

    /// Start-up binds no shared library's symbols but libc's and libm's: libstdc++ and the unwinder
    /// (the static Swift runtime's C++ needs), libcrypto and liblzma are linked from their static
    /// archives (Package.swift, `link/`), so the loader maps two libraries and relocates almost
    /// nothing (docs/PERFORMANCE-LOG.md, "Start-up: the libraries linked statically"). `ota-diff`
    /// too.
    @Test func `ota-patch and ota-diff need only libc and libm`() throws {
        for product in ["ota-patch", "ota-diff"] {
            let binary = CLIRunner.product(product).path
            try #require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) is not built")
            let output = try ProcessRunner.run(
                "/bin/bash", ["-c", "readelf -d \"$1\" | grep NEEDED || true", "x", binary])
            let needed = output.stdout.matches(of: /\[([^\]]+)\]/).map { String($0.output.1) }
            #expect(
                Set(needed.filter { !$0.hasPrefix("ld-linux") }) == ["libc.so.6", "libm.so.6"],
                "\(product) needs \(needed)")
        }
        // The check can fail: `ota` needs libcrypto and liblzma.
        let ota = try ProcessRunner.run(
            "/bin/bash", ["-c", "readelf -d \"$1\" | grep NEEDED || true", "x", CLIRunner.executable.path])
        #expect(ota.stdout.contains("libcrypto.so") && ota.stdout.contains("liblzma.so"))
    }
}
