import Foundation
import OTACore
import OTATestSupport
import Testing

@testable import OTAInstaller

/// The anti-rollback counters, the clock floor and the vehicle's own configuration are sealed
/// (`MACFileStore`: an HMAC under the device-held `keys/seal.key`): anything edited, forged,
/// moved or copied from another vehicle is refused when the installer opens, never trusted.
@Suite("Protected vehicle state")
struct ProtectedStateTests {
    func opening(_ vehicle: String) -> OTAError? {
        failure { () throws(OTAError) in _ = try Vehicle(directory: vehicle) }
    }

    /// The state file's text with `edit` applied, its seal line kept as it was.
    func editSealedState(_ vehicle: String, _ edit: (String) -> String) throws {
        let path = "\(vehicle)/private/state.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let edited = edit(text)
        #expect(edited != text, "the edit changed nothing")
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test(arguments: Suite.allCases)
    func `a lowered anti-rollback counter is refused, sealed line or not`(suite: Suite) throws {
        let fixture = try InstallerFixture()
        var config = fixture.config(securityVersions: [7, 7])
        config.suite = suite
        let vehicle = try fixture.vehicle(config)
        #expect(
            try String(contentsOfFile: "\(vehicle)/keys/seal.key", encoding: .utf8).hasPrefix(
                suite == .gm ? "hmac-sm3 " : "hmac-sha256 "))
        #expect(opening(vehicle) == nil)
        // The attacker edits the counter in place and keeps the seal line …
        try editSealedState(vehicle) {
            $0.replacingOccurrences(of: #""securityVersion":7"#, with: #""securityVersion":1"#)
        }
        #expect(opening(vehicle)?.code == "vehicle.state-tampered")
        // … or writes a plain, unsealed state with the lower counter.
        var state = try InstallerFixture.rawStateUnchecked(vehicle)
        state.ecus["ECU0"]?.securityVersion = 1
        try Data(try CanonicalJSON.encode(state)).write(to: URL(fileURLWithPath: "\(vehicle)/private/state.json"))
        #expect(opening(vehicle)?.code == "vehicle.state-tampered")
    }

    @Test func `a clock floor moved back is refused`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        var state = try InstallerFixture.rawState(vehicle)
        state.timeFloor = Date(timeIntervalSince1970: 2_000_000_000)
        try InstallerFixture.writeRawState(vehicle, state)  // as the installer would
        #expect(opening(vehicle) == nil)
        try editSealedState(vehicle) {
            $0.replacingOccurrences(of: Timestamp.format(state.timeFloor), with: "1970-01-01T00:00:00Z")
        }
        #expect(opening(vehicle)?.code == "vehicle.state-tampered")
    }

    @Test(arguments: Suite.allCases)
    func `a configuration edited to drop the automated-driving mark is refused`(suite: Suite) throws {
        let fixture = try InstallerFixture()
        var config = fixture.config(automatedDriving: true)
        config.suite = suite
        let vehicle = try fixture.vehicle(config)
        #expect(opening(vehicle) == nil)
        let path = "\(vehicle)/vehicle.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: #""automatedDriving":true"#, with: #""automatedDriving":false"#).write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(opening(vehicle)?.code == "vehicle.config-tampered")
        // Even a byte-for-byte equivalent re-encoding differs from what was sealed.
        try (text + " ").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(opening(vehicle)?.code == "vehicle.config-tampered")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(opening(vehicle) == nil)
    }

    @Test func `state copied from another vehicle, or moved to another name, is refused`() throws {
        let fixture = try InstallerFixture()
        let first = try fixture.vehicle(), second = try fixture.vehicle()
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(second)/private/state.json"))
        try FileManager.default.removeItem(atPath: "\(second)/private/state.json")
        try FileManager.default.copyItem(atPath: "\(first)/private/state.json", toPath: "\(second)/private/state.json")
        #expect(opening(second)?.code == "vehicle.state-tampered")
        // The configuration seal is a validly sealed document, but under another name.
        try FileManager.default.removeItem(atPath: "\(second)/private/state.json")
        try FileManager.default.copyItem(
            atPath: "\(second)/private/config.seal", toPath: "\(second)/private/state.json")
        #expect(opening(second)?.code == "vehicle.state-tampered")
        try original.write(to: URL(fileURLWithPath: "\(second)/private/state.json"))
        #expect(opening(second) == nil)
    }

    @Test func `a missing or damaged seal key refuses instead of trusting the state`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let key = try Data(contentsOf: URL(fileURLWithPath: "\(vehicle)/keys/seal.key"))
        try FileManager.default.removeItem(atPath: "\(vehicle)/keys/seal.key")
        #expect(opening(vehicle)?.code == "vehicle.state-tampered")
        try Data("hmac-sha256 00\n".utf8).write(to: URL(fileURLWithPath: "\(vehicle)/keys/seal.key"))
        #expect(opening(vehicle)?.code == "vehicle.state-tampered")
        try key.write(to: URL(fileURLWithPath: "\(vehicle)/keys/seal.key"))
        #expect(opening(vehicle) == nil)
    }

    /// A backend of the application's choosing (here one keeping its documents in its own
    /// folder, sealed with its own key) receives every document and is what the installer trusts.
    @Test func `another protected store backend can take over`() throws {
        let fixture = try InstallerFixture()
        let folder = fixture.directory + "/other-backend"
        try FileSystem.createDirectory(folder, mode: 0o700)
        let key = try MACFileStore.Key.generate(.sha256)
        try key.write(to: folder + ".key")
        let backend = try MACFileStore(privateDirectory: folder, keyPath: folder + ".key")
        let path = "\(fixture.directory)/vehicle-backend"
        try Vehicle.create(
            directory: path, config: fixture.config(), baseDirectory: fixture.images, trust: "\(fixture.keys)/trust",
            decryptionKey: "\(fixture.keys)/vehicle/device.key", protectedStore: backend)
        #expect(FileManager.default.fileExists(atPath: folder + "/state.json"))
        #expect(!FileManager.default.fileExists(atPath: path + "/private/state.json"))
        #expect(!FileManager.default.fileExists(atPath: path + "/keys/seal.key"))
        do {
            let vehicle = try Vehicle(directory: path, options: Vehicle.Options(protectedStore: backend))
            let report = try vehicle.install(
                bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes
            )
            #expect(report.images.count == 2)
        }  // the installer's lock is released here
        // Without its backend the vehicle has no state it can trust.
        #expect(opening(path)?.code == "vehicle.state-tampered")
    }
}

/// A step's failure is what the installer reports even when recording it fails too (a full disk
/// reported the log's `write failed` instead of the slot's error or the refusal; an audit
/// helper's finding, reproduced with `prlimit --fsize` at the refusal's record line).
@Suite struct UnrecordedFailureTests {
    @Test func `the error a step met is reported, with the failed record beside it`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try Vehicle(directory: try fixture.vehicle())
        let met = OTAError(.preconditionUnknown, "no vehicle state was given")
        let reported = vehicle.failure(met) { () throws(OTAError) in
            throw OTAError(.ioWrite, "records/segment-00000000000000000000.log: write failed", cause: "No space left")
        }
        #expect(reported.code == .preconditionUnknown && reported.message == met.message)
        #expect(reported.related.map(\.code) == [.ioWrite])
        #expect(reported.related.first?.message.hasPrefix("not recorded: records/segment") == true)
        #expect(vehicle.failure(met) { () throws(OTAError) in }.related.isEmpty)
    }
}

/// A journal write that fails leaves no temporary file (found by an audit helper: on a full disk
/// `.state.json.tmp` stayed, and the error named it).
@Suite struct PrivateDirectoryWriteTests {
    @Test func `a failed replace removes its temporary file`() throws {
        let root = try TemporaryDirectory.create("private-write")
        defer { TemporaryDirectory.remove(root) }
        let directory = try PrivateDirectory(path: root + "/private", create: true)
        // The rename fails: the name is a directory that is not empty.
        try FileManager.default.createDirectory(
            atPath: root + "/private/state.json/x", withIntermediateDirectories: true)
        #expect(throws: OTAError.self) { try directory.write("state.json", Array("{}".utf8)) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/private").sorted() == ["state.json"])
    }
}
