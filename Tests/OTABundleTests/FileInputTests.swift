import Foundation
import Synchronization
import Testing

@testable import OTABuilder
@testable import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Inputs that are not what they claim: a FIFO or directory where a file is expected, an image
/// that leaves the images directory through a link, and documents nested to exhaust a parser.
@Suite("File inputs")
struct FileInputTests {
    /// Runs `body` on another thread and fails if it has not finished within `seconds` (a hang).
    func finishes(within seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            body()
            done.signal()
        }
        return done.wait(timeout: .now() + seconds) == .success
    }

    @Test func `a FIFO or a directory is refused at once, never waited on`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let fifo = fixture.directory + "/bundle.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let policy = try fixture.policy()
        let trust = fixture.trust
        let bundleCodes = Mutex<[String]>([])
        #expect(
            finishes(within: 10) {
                for path in [fifo, trust] {
                    let code = fixture.verifyCode(path)
                    bundleCodes.withLock { $0.append(code ?? "accepted") }
                }
                _ = policy
            }, "verifying a FIFO hung")
        #expect(bundleCodes.withLock { $0 } == ["bundle.not-a-file", "bundle.not-a-file"])
        let readCodes = Mutex<[String]>([])
        #expect(
            finishes(within: 10) {
                do { _ = try ManifestSource.load(fifo) } catch {
                    readCodes.withLock { $0.append((error as? OTAError)?.code.rawValue ?? "\(error)") }
                }
                do { _ = try FileSystem.read(fifo, limit: 1 << 20) } catch {
                    readCodes.withLock { $0.append((error as? OTAError)?.code.rawValue ?? "\(error)") }
                }
            }, "reading a FIFO as a manifest hung")
        #expect(readCodes.withLock { $0 } == ["io.not-a-file", "io.not-a-file"])
        // An image that is a FIFO: the builder refuses it without waiting for a writer.
        try fixture.image("a.img", size: 10_000)
        let manifest = try fixture.manifest(images: [("alpha", "image.fifo")])
        #expect(mkfifo(fixture.directory + "/images/image.fifo", 0o600) == 0)
        let built = Mutex<String?>(nil)
        #expect(
            finishes(within: 10) {
                do { _ = try fixture.build(manifest: manifest) } catch {
                    built.withLock { $0 = (error as? OTAError)?.code.rawValue }
                }
            }, "building from a FIFO image hung")
        #expect(built.withLock { $0 } == "image.not-a-file")
    }

    @Test func `an image that resolves outside the images directory is refused`() throws {
        let fixture = try BundleFixture(suite: .intl)
        // A link inside --images to the signer's private key: the key must not become an image.
        try FileManager.default.createSymbolicLink(
            atPath: fixture.directory + "/images/key.img", withDestinationPath: "\(fixture.pki)/release/signer-1.key")
        #expect(throws: OTAError(.imageOutsideDirectory, "")) {
            try fixture.build(manifest: try fixture.manifest(images: [("alpha", "key.img")]))
        }
        // A directory link that leads out, with the file beyond it.
        try FileManager.default.createSymbolicLink(
            atPath: fixture.directory + "/images/release", withDestinationPath: "\(fixture.pki)/release")
        #expect(throws: OTAError(.imageOutsideDirectory, "")) {
            try fixture.build(manifest: try fixture.manifest(images: [("alpha", "release/signer-2.key")]))
        }
        // A link that stays inside the directory is fine.
        try fixture.image("real.img", size: 20_000)
        try FileManager.default.createSymbolicLink(
            atPath: fixture.directory + "/images/current.img", withDestinationPath: "real.img")
        _ = try fixture.build(manifest: try fixture.manifest(images: [("alpha", "current.img")]))
    }

    @Test(arguments: [
        ("flow lists", String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)),
        ("flow maps", String(repeating: "{a: ", count: 5000) + "1" + String(repeating: "}", count: 5000)),
        ("one bracket per line", String(repeating: "[\n", count: 3000) + String(repeating: "]\n", count: 3000)),
        ("block sequences", (0..<200).map { String(repeating: " ", count: $0) + "- x:" }.joined(separator: "\n")),
        ("sequence markers on one line", String(repeating: "- ", count: 3000) + "x"),
        (
            "billion laughs",
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]"
        ),
    ])
    func `deep nesting and aliases are refused before parsing`(what: String, text: String) throws {
        #expect(throws: OTAError(.manifestSyntax, "")) { try ManifestSource.parse("bundle: " + text, source: what) }
        #expect(YAMLInputCheck.problem(in: text) != nil, "\(what)")
    }

    @Test func `ordinary YAML passes the nesting check`() throws {
        for sample in ["infotainment-full", "multi-ecu-delta", "adas-automated-driving", "body-gm"] {
            let text = try String(
                contentsOfFile: "\(BundleFixture.repository)/manifests/\(sample).yaml", encoding: .utf8)
            #expect(YAMLInputCheck.problem(in: text) == nil, "\(sample)")
        }
        let vehicle = try String(contentsOfFile: "\(BundleFixture.repository)/samples/vehicle-x1.yaml", encoding: .utf8)
        #expect(YAMLInputCheck.problem(in: vehicle) == nil)
        #expect(
            YAMLInputCheck.problem(in: "a: 'it''s [not] nested'\nb: \"x [y] {z}\" # and [a comment\nc: a*b&c") == nil)
    }

    @Test func `JSON nested past the limit is refused by our own parser`() {
        let deep = Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        #expect(throws: StrictJSON.SyntaxError.self) { try StrictJSON.parse(deep) }
        #expect(throws: OTAError(.manifestMalformed, "")) {
            try CanonicalJSON.decode(Manifest.self, from: deep, as: .manifestMalformed)
        }
        #expect(throws: OTAError(.vehicleStateMalformed, "")) {
            try CanonicalJSON.decodeInput(
                [String: Int].self, from: Array(("{\"a\":" + String(repeating: "[", count: 100_000)).utf8),
                as: .vehicleStateMalformed)
        }
    }
}
