import Foundation
import OTATestSupport
import Testing

/// docs/API.md is the public API: each of its Swift examples compiles against the built modules
/// from outside the package (no `-package-name`, so `package` declarations are out of reach),
/// as a consumer's code would.
@Suite("Public API")
struct PublicAPITests {
    /// The built modules (`.build/<triple>/debug/Modules`, beside the test bundle).
    static var modules: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("Modules")
            .path
    }

    /// Type-checks `source` as a consumer would, returning the compiler's status and output.
    static func typecheck(_ source: String, in directory: String) throws -> (status: Int32, output: String) {
        let file = directory + "/consumer.swift"
        try source.write(toFile: file, atomically: true, encoding: .utf8)
        // SwiftPM hands a consumer the C modules' maps; so do we.
        let cModules = try FileManager.default.contentsOfDirectory(atPath: CLIRunner.repository + "/Sources").filter {
            $0.hasPrefix("C")
        }.sorted()
        var arguments = ["swiftc", "-typecheck", "-I", modules]
        for module in cModules {
            arguments += ["-Xcc", "-fmodule-map-file=\(CLIRunner.repository)/Sources/\(module)/module.modulemap"]
        }
        arguments.append(file)
        // The driver leaves a `TemporaryDirectory.XXXXXX` behind in $TMPDIR at every run: keep it in ours.
        let result = try ProcessRunner.run("/usr/bin/env", arguments, environment: ["TMPDIR": directory])
        return (result.status, result.stdout + result.stderr)
    }

    static func examples() throws -> [String] {
        let text = try String(contentsOfFile: CLIRunner.repository + "/docs/API.md", encoding: .utf8)
        return text.matches(of: /```swift\n((?s).*?)```/).map { String($0.output.1) }
    }

    @Test func `every example in docs/API.md compiles as a consumer's code`() throws {
        let examples = try Self.examples()
        #expect(examples.count >= 3, "docs/API.md should show the builder, the installer and the recorder")
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        for (index, example) in examples.enumerated() {
            let result = try Self.typecheck(example, in: directory)
            #expect(result.status == 0, "example \(index + 1) of docs/API.md does not compile:\n\(result.output)")
        }
    }

    @Test func `plumbing is out of a consumer's reach`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        // Each was public once; each is `package` now.
        for (module, use) in [
            ("OTACore", "_ = try? InputFile(path: \"/etc/hosts\")"), ("OTACore", "_ = Hex.self"),
            ("OTACore", "_ = ScratchFile.self"), ("OTAInstaller", "_ = SlotDevice.self"),
            ("OTAInstaller", "_ = Vehicle.Options().faultHook"), ("OTAInstaller", "_ = VehicleLayout.self"),
            ("OTACore", "_ = TrustStoreContents.self"), ("OTACore", "_ = CanonicalJSON.self"),
            ("OTACore", "_ = TrustUpdater.self"), ("OTARecorder", "_ = JSONObjectReader.self"),
            ("OTARecorder", "_ = LogLayout.self"), ("OTARecorder", "_ = SegmentReader.self"),
            ("OTARecorder", "_ = JSONValue.self"), ("OTARecorder", "_ = EntryBody.self"),
            ("OTACompliance", "_ = (any RecordStore).self"),
        ] {
            let result = try Self.typecheck("import \(module)\n\(use)\n", in: directory)
            #expect(result.status != 0, "\(module): `\(use)` compiled from outside the package")
        }
        // The control: the same harness compiles what is public.
        let control = try Self.typecheck("import OTACore\n_ = Suite.intl\n", in: directory)
        #expect(control.status == 0, "\(control.output)")
    }
}
