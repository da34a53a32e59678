import Foundation
import OTACore
import OTATestSupport
import Testing

@testable import OTAInstaller

/// Install, activate, reboot, confirm, fallback and rollback, and the lessons from the tools in
/// use today, each as a rule.
@Suite("Installer lifecycle")
struct LifecycleTests {
    func install(_ vehicle: String, _ bundle: String, activate: Bool = true) throws -> InstallReport {
        try Vehicle(directory: vehicle).install(
            bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes, activate: activate)
    }

    @Test(arguments: VehicleConfig.BootControlKind.allCases)
    func `nothing reports success before the new slots booted and were confirmed`(boot: VehicleConfig.BootControlKind)
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(bootControl: boot))
        var progress: [WorkProgress] = []
        let report = try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked,
            consent: InstallerFixture.yes
        ) { progress.append($0) }
        #expect(report.stage == .activated)
        #expect(report.bytesWritten == UInt64(2 * fixture.imageSize))
        #expect(
            progress.last?.done == UInt64(2 * fixture.imageSize)
                && progress.last?.total == UInt64(2 * fixture.imageSize))
        #expect(zip(progress, progress.dropFirst()).allSatisfy { $0.done <= $1.done })
        #expect(progress.contains { $0.step.hasPrefix("verify") })
        // Counters and committed versions have not moved.
        #expect(try Vehicle(directory: vehicle).status().ecus["ECU0"]?.securityVersion == 5)
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).confirmBoot() }?.code
                == "confirm.not-booted")

        let booted = try Vehicle(directory: vehicle).reboot()
        #expect(booted.booted == ["group0": .b, "group1": .b])
        try Vehicle(directory: vehicle).confirmBoot()
        let status = try Vehicle(directory: vehicle).status()
        #expect(
            status.ecus["ECU0"]
                == InstalledSoftware(version: "2.0.0", securityVersion: 6, bundle: "update-1", swin: "SW-0-2.0.0"))
        #expect(
            status.boot.active == ["group0": .b, "group1": .b] && status.boot.trial == nil && status.pending == nil)
        #expect(try fixture.slotContentHash(vehicle, group: 0, slot: .b) == fixture.imageHash("new-0.img"))
        #expect(try fixture.slotContentHash(vehicle, group: 1, slot: .a) == fixture.imageHash("old-1.img"))
        let records = try InstallerFixture.records(vehicle)
        #expect(records.contains { $0.step == .commit && $0.outcome == .success })
        #expect(records.last?.step == .result && records.last?.outcome == .success)
    }

    @Test func `install, activate and commit are separate persisted stages`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        #expect(try install(vehicle, try fixture.standardBundle(), activate: false).stage == .installed)
        #expect(try InstallerFixture.rawState(vehicle).pending?.stage == .installed)
        #expect(try InstallerFixture.rawBoot(vehicle).trial == nil)
        // A reboot now still boots the old slots; the installed update waits.
        #expect(try Vehicle(directory: vehicle).reboot().booted == ["group0": .a, "group1": .a])
        #expect(try Vehicle(directory: vehicle).status().pending?.stage == .installed)
        try Vehicle(directory: vehicle).activate()
        #expect(try InstallerFixture.rawBoot(vehicle).trial == ["group0": .b, "group1": .b])
        try Vehicle(directory: vehicle).reboot()
        try Vehicle(directory: vehicle).confirmBoot()
        #expect(try Vehicle(directory: vehicle).status().ecus["ECU1"]?.version == "2.0.0")
    }

    @Test(arguments: VehicleConfig.BootControlKind.allCases)
    func `an unconfirmed boot exhausts the counter and every group falls back, recorded as a failure`(
        boot: VehicleConfig.BootControlKind
    ) throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(bootControl: boot, tries: 2))
        _ = try install(vehicle, try fixture.standardBundle())
        #expect(try Vehicle(directory: vehicle).reboot().booted == ["group0": .b, "group1": .b])
        #expect(try Vehicle(directory: vehicle).reboot().booted == ["group0": .b, "group1": .b])
        let fallback = try Vehicle(directory: vehicle).reboot()
        #expect(fallback.booted == ["group0": .a, "group1": .a])
        #expect(fallback.lastFallback?.contains("boot counter exhausted") == true)
        let status = try Vehicle(directory: vehicle).status()
        #expect(status.pending == nil && status.boot.trial == nil && status.nextBoot == ["group0": .a, "group1": .a])
        #expect(status.ecus["ECU0"]?.securityVersion == 5 && status.ecus["ECU0"]?.version == "1.0.0")
        #expect(status.slots["group0"]?["b"]?.status == .discarded)
        let record = try InstallerFixture.records(vehicle).last { $0.step == .result }
        #expect(record?.outcome == .rolledBack && record?.errorCode == "boot.fallback")
        #expect(record?.reasons.first?.message.contains("boot counter exhausted") == true)
        #expect(try fixture.slotContentHash(vehicle, group: 0, slot: .a) == fixture.imageHash("old-0.img"))
        // The vehicle can take the update again later.
        #expect(try install(vehicle, try fixture.standardBundle()).stage == .activated)
    }

    @Test func `rollback before confirm returns every group to the committed slots`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        _ = try install(vehicle, try fixture.standardBundle())
        try Vehicle(directory: vehicle).reboot()
        try Vehicle(directory: vehicle).rollback()
        #expect(try Vehicle(directory: vehicle).reboot().booted == ["group0": .a, "group1": .a])
        #expect(try Vehicle(directory: vehicle).status().ecus["ECU0"]?.securityVersion == 5)
        #expect(
            failure { () throws(OTAError) in try Vehicle(directory: vehicle).rollback() }?.code
                == "rollback.nothing-pending")
    }

    @Test func `a second install while one is pending is refused`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        _ = try install(vehicle, try fixture.standardBundle())
        let second = try fixture.standardBundle()
        #expect(
            failure { () throws(OTAError) in
                try Vehicle(directory: vehicle).install(
                    bundle: second, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
            }?.code == "install.pending")
    }

    @Test func `the bundle file replaced after check is caught`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let path = try fixture.standardBundle()
        let decision = try Vehicle(directory: vehicle).check(bundle: path)
        #expect(decision.isAccepted && decision.notice["zh-CN"]?.purpose == "测试")
        let other = try fixture.bundle(try fixture.manifest(id: "update-1b"))
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: other, toPath: path)
        let before = try InstallerFixture.slotHashes(vehicle)
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: path, expecting: decision, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "install.bundle-changed")
        #expect(try InstallerFixture.slotHashes(vehicle) == before)
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "install.bundle-changed")
    }

    @Test func `payload bytes altered after check never reach an active slot and the written slot is not trusted`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let path = try fixture.standardBundle()
        let decision = try Vehicle(directory: vehicle).check(bundle: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3000] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: path, expecting: decision, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "payload.chunk-hash")
        let status = try Vehicle(directory: vehicle).status()
        #expect(status.pending == nil && status.boot.trial == nil && status.nextBoot == ["group0": .a, "group1": .a])
        #expect(status.slots["group1"]?["b"]?.status == .discarded)
        #expect(try fixture.slotContentHash(vehicle, group: 0, slot: .a) == fixture.imageHash("old-0.img"))
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "payload.chunk-hash")
    }

    @Test func `a slot left half-written is rewritten in full, never trusted because of an old hash`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.standardBundle()
        // A first attempt wrote the complete new image into slot B and then stopped (journal: writing).
        let device = try SlotDevice(path: "\(vehicle)/slots/group0-b.img", writable: true)
        let image = Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixture.images)/new-0.img")))
        try device.write(image[...], at: 0)
        var state = try InstallerFixture.rawState(vehicle)
        state.setSlotForTest("group0", .b, SlotInfo(status: .writing))
        state.pending = PendingUpdate(
            stage: .writing, bundleId: "update-1", campaign: "CAMP-1", manifestDigest: "00", hashAlgorithm: .sha256,
            images: [
                PendingImage(
                    name: "image0", ecu: "ECU0", slotGroup: "group0", slot: .b, version: "2.0.0", securityVersion: 6,
                    hash: try fixture.imageHash("new-0.img"), size: UInt64(image.count), kind: .full)
            ],
            started: Date())
        try InstallerFixture.writeRawState(vehicle, state)
        // Opening recovers: the slot is discarded, whatever its hash.
        #expect(try Vehicle(directory: vehicle).status().slots["group0"]?["b"]?.status == .discarded)
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "install.interrupted")
        let report = try install(vehicle, bundle)
        #expect(report.bytesWritten == UInt64(2 * fixture.imageSize))
    }

    @Test func `the private directory is refused when it is a link or open to others`() throws {
        let fixture = try InstallerFixture()
        let linked = try fixture.vehicle()
        try FileManager.default.moveItem(atPath: "\(linked)/private", toPath: "\(linked)/elsewhere")
        try FileManager.default.createSymbolicLink(
            atPath: "\(linked)/private", withDestinationPath: "\(linked)/elsewhere")
        #expect(failure { () throws(OTAError) in _ = try Vehicle(directory: linked) }?.code == "vehicle.private-dir")
        let open = try fixture.vehicle()
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(open)/private")
        #expect(failure { () throws(OTAError) in _ = try Vehicle(directory: open) }?.code == "vehicle.private-dir")
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(try fixture.vehicle())/private")
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
    }

    @Test func `a failed vehicle init leaves nothing behind`() throws {
        let fixture = try InstallerFixture()
        var config = fixture.config()
        config.slotGroups[1].image = "missing.img"
        let path = "\(fixture.directory)/vehicle-failed"
        let error = failure { () throws(OTAError) in
            try Vehicle.create(
                directory: path, config: config, baseDirectory: fixture.images, trust: "\(fixture.keys)/trust")
        }
        #expect(error?.code == "io.not-found")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func `one installer at a time`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let first = try Vehicle(directory: vehicle)
        #expect(
            failure { () throws(OTAError) in _ = try Vehicle(directory: vehicle, options: .init(lockTimeout: 0.05)) }?
                .code == "install.busy")
        _ = first
    }

    @Test func `the GRUB environment block keeps its size, header and other variables`() throws {
        let fixture = try InstallerFixture()
        let path = "\(fixture.directory)/grubenv"
        try Data(try GrubEnvironmentBootControl.render([("saved_entry", "linux"), ("note", "a\\b\nc")])).write(
            to: URL(fileURLWithPath: path))
        let control = GrubEnvironmentBootControl(path: path)
        var state = BootState(active: ["ivi": .a, "adas": .b])
        state.trial = ["ivi": .b]
        state.triesRemaining = 3
        try control.store(state)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(
            bytes.count == 1024 && bytes.starts(with: Array("# GRUB Environment Block\n".utf8))
                && bytes.last == UInt8(ascii: "#"))
        #expect(try control.load() == state)
        let variables = try GrubEnvironmentBootControl.parse(bytes)
        #expect(variables.first { $0.0 == "saved_entry" }?.1 == "linux")
        #expect(variables.first { $0.0 == "note" }?.1 == "a\\b\nc")
        #expect(String(decoding: bytes, as: UTF8.self).contains("ota_trial_ivi=b\nota_tries=3\n"))
        #expect(
            failure { () throws(OTAError) in _ = try GrubEnvironmentBootControl.parse(Array(bytes.prefix(1000))) }?.code
                == "boot.env-invalid")
    }

    @Test func `the U-Boot environment matches fw_setenv's format: CRC32, NUL-separated pairs, other variables kept`()
        throws
    {
        #expect(CRC32.checksum(Array("123456789".utf8)[...]) == 0xCBF4_3926)  // the standard check value
        let fixture = try InstallerFixture()
        let path = "\(fixture.directory)/uboot.env"
        try Data(
            try UBootEnvironmentBootControl.render([("bootcmd", "run ota_boot"), ("bootdelay", "0")], size: 0x2000)
        ).write(to: URL(fileURLWithPath: path))
        let control = UBootEnvironmentBootControl(path: path)
        var state = BootState(active: ["ivi": .a, "adas": .b])
        state.trial = ["ivi": .b]
        state.triesRemaining = 3
        state.lastFallback = "boot counter exhausted"
        try control.store(state)
        #expect(try control.load() == state)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count == 0x2000 && bytes.last == 0xFF)
        #expect(
            try UBootEnvironmentBootControl.parse(bytes, size: 0x2000).first { $0.0 == "bootcmd" }?.1 == "run ota_boot")
        // An independent CRC (Python's zlib) agrees.
        let python = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import sys, zlib; d = open(sys.argv[1], 'rb').read(); sys.exit(0 if zlib.crc32(d[4:]) == int.from_bytes(d[:4], 'little') else 1)",
                path,
            ])
        #expect(python.status == 0, "\(python.stderr)")
        // fw_printenv (u-boot-tools), when installed, reads what we wrote.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/fw_printenv") {
            try "\(path) 0x0 0x2000\n".write(
                toFile: "\(fixture.directory)/fw_env.config", atomically: true, encoding: .utf8)
            let printenv = try ProcessRunner.run(
                "/usr/bin/fw_printenv", ["-c", "\(fixture.directory)/fw_env.config", "ota_trial_ivi", "ota_tries"])
            #expect(printenv.stdout == "ota_trial_ivi=b\nota_tries=3\n")
        }
        var corrupted = bytes
        corrupted[100] ^= 1
        #expect(
            failure { () throws(OTAError) in _ = try UBootEnvironmentBootControl.parse(corrupted, size: 0x2000) }?.code
                == "boot.env-crc")
    }
}

extension VehicleState {
    mutating func setSlotForTest(_ group: String, _ name: SlotName, _ info: SlotInfo) {
        slots[group, default: [:]][name.rawValue] = info
    }
}
