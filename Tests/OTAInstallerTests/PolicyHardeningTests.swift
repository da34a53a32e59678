import Foundation
import OTABuilder
import OTACore
import OTAInstaller
import OTARecorder
import Testing

/// Refusals added after the adversarial review (issue 14): time, targeting by what is written,
/// suite, version order, readings, recipients and boot records. Each checks the full aftermath
/// through `expectRefused`.
extension PolicyRefusalTests {
    typealias HardeningSpec = InstallerFixture.ImageSpec

    @Test func `a bundle dated years ahead is refused and never moves the clock floor`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let floor = try InstallerFixture.rawState(vehicle).timeFloor
        let future = try fixture.bundle(
            try fixture.manifest(id: "typo-2060", expires: "2061-01-01T00:00:00Z", created: "2060-01-01T00:00:00Z"),
            refusable: true)
        try expectRefused("manifest.not-yet-valid", fixture: fixture, vehicle: vehicle, bundle: future)
        #expect(try InstallerFixture.rawState(vehicle).timeFloor == floor)
        // Every later, correctly dated update still installs (no crl.expired from a moved floor).
        let report = try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(report.stage == .activated)
        #expect(try InstallerFixture.rawState(vehicle).timeFloor == floor)
    }

    @Test func `a bundle created within the clock skew installs and leaves the floor alone`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let floor = try InstallerFixture.rawState(vehicle).timeFloor
        let soon = Timestamp.format(Date().addingTimeInterval(3600))
        let bundle = try fixture.bundle(try fixture.manifest(created: soon))
        try Vehicle(directory: vehicle).install(
            bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(try InstallerFixture.rawState(vehicle).timeFloor == floor)
    }

    @Test func `a failed install never moves the clock floor`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let floor = try InstallerFixture.rawState(vehicle).timeFloor
        let bundle = try fixture.bundle(
            try fixture.manifest(created: Timestamp.format(Date().addingTimeInterval(3600))))
        try expectRefused("precondition.unknown", fixture: fixture, vehicle: vehicle, bundle: bundle, conditions: nil)
        #expect(try InstallerFixture.rawState(vehicle).timeFloor == floor)
    }

    @Test func `a vehicle configured for gm refuses an intl bundle`() throws {
        let fixture = try InstallerFixture()
        var config = fixture.config()
        config.suite = .gm
        try expectRefused(
            "target.suite", fixture: fixture, vehicle: try fixture.vehicle(config), bundle: try fixture.standardBundle()
        )
    }

    @Test(arguments: ["v2.3.0", "2.3.1-beta", "2.3.1+build7", "2.03.1", "2..1", "2.3.1 rc", "２.3.1"])
    func `versions the no-downgrade rule cannot order, or that sort below, are refused`(version: String) throws {
        let fixture = try InstallerFixture()
        var config = fixture.config()
        config.ecus[0].version = "2.3.1"
        let vehicle = try fixture.vehicle(config)
        if SoftwareVersion(version) == nil {
            // The builder refuses it before signing ...
            #expect(throws: OTAError(.manifestInvalid, "")) {
                try fixture.bundle(
                    try fixture.manifest(images: [HardeningSpec(group: 0, version: version, securityVersion: 5)]))
            }
        } else {
            // ... and a pre-release sorts before its release: a downgrade at the same security version.
            let bundle = try fixture.bundle(
                try fixture.manifest(images: [HardeningSpec(group: 0, version: version, securityVersion: 5)]))
            try expectRefused("rollback.version", fixture: fixture, vehicle: vehicle, bundle: bundle)
        }
    }

    @Test func `the version order is Semantic Versioning's, over any number of numeric parts`() {
        let ordered = [
            "0.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
            "1.0.0-rc.1", "1.0.0",
            "1.0.1", "1.9.2", "1.10.0", "2", "2.0.0.1",
        ]
        let versions = ordered.map { SoftwareVersion($0)! }
        for (index, version) in versions.enumerated().dropFirst() {
            #expect(versions[index - 1] < version, "\(ordered[index - 1]) < \(ordered[index])")
        }
        #expect(SoftwareVersion("2.3") == SoftwareVersion("2.3.0"))
        for bad in [
            "", "v1", "1.", ".1", "1.-2", "1.0.0-", "1.0.0-a..b", "1.0.0-01", "01.0", "1+x", "1.0.0-ä",
            String(repeating: "1.", count: 8) + "1",
        ] {
            #expect(SoftwareVersion(bad) == nil, "\(bad)")
        }
    }

    @Test func `readings out of their range are refused, not trusted`() throws {
        let fixture = try InstallerFixture()
        for reading in [
            VehicleConditions(parked: true, gear: "P", batteryPercent: 1000),
            VehicleConditions(parked: true, gear: "P", batteryPercent: -5),
            VehicleConditions(parked: true, gear: "P\u{0}", batteryPercent: 80),
            VehicleConditions(parked: true, gear: "", batteryPercent: 80),
        ] {
            try expectRefused(
                "precondition.reading", fixture: fixture, bundle: try fixture.standardBundle(), conditions: reading)
        }
    }

    @Test func `two ECUs sharing a slot group are refused at vehicle init and at every open`() throws {
        let fixture = try InstallerFixture()
        var shared = fixture.config(automatedDriving: true)
        shared.ecus[1].slotGroup = "group0"
        #expect(throws: OTAError(.vehicleConfigInvalid, "")) { try fixture.vehicle(shared) }
        // A vehicle.json edited the same way is refused on open (its seal no longer matches; a
        // configuration sealed before the rule existed is refused by the rule itself), before any
        // policy keyed on ECU labels could be bypassed by naming the other ECU.
        let vehicle = try fixture.vehicle(fixture.config(automatedDriving: true))
        try Data(try CanonicalJSON.encode(shared)).write(to: URL(fileURLWithPath: "\(vehicle)/vehicle.json"))
        #expect {
            try Vehicle(directory: vehicle)
        } throws: { error in
            ["vehicle.config-invalid", "vehicle.config-tampered"].contains((error as? OTAError)?.code.rawValue ?? "")
        }
    }

    @Test func `an approval whose number is not the manifest's ad-approval reference is refused`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(automatedDriving: true))
        let bundle = try fixture.bundle(
            try fixture.manifest(
                images: [HardeningSpec(group: 0, categories: "[automated-driving]")],
                regulatory: InstallerFixture.adRegulatory))
        try expectRefused(
            "approval.invalid", cause: "approval.number-mismatch", fixture: fixture, vehicle: vehicle, bundle: bundle,
            approval: try fixture.craftedApproval(for: bundle, id: "AD-SOMETHING-ELSE"))
    }

    @Test func `a garbage recipients block is a refusal before any slot is marked`() throws {
        let fixture = try InstallerFixture()
        let bundle = try fixture.bundle(try fixture.manifest(), encrypted: true)
        // The recipients block is outside the signature: replace the ephemeral key with garbage.
        var entries: [(String, [UInt8])] = []
        let reader = try ArchiveReader(file: try InputFile(path: bundle))
        while let entry = try reader.nextEntry() { entries.append((entry.name, try reader.readAll(limit: 16 << 20))) }
        var recipients = try Recipients.decode(entries[2].1)
        for index in recipients.recipients.indices {
            recipients.recipients[index].ephemeralPublicKey = Data([0x30, 0x03, 0x02, 0x01, 0x00]).base64EncodedString()
        }
        entries[2].1 = try recipients.encoded()
        let crafted = fixture.directory + "/garbage-recipients.ota"
        let file = try AtomicFileWriter(path: crafted)
        let writer = try ArchiveWriter(output: file)
        for (name, data) in entries {
            try writer.beginEntry(name: name, size: Int64(data.count))
            try writer.write(data)
        }
        try writer.finish()
        try file.commit()
        try expectRefused("keywrap.malformed", fixture: fixture, bundle: crafted)
    }
}

extension CrashInjectionTests {
    @Test func `a power cut right after the bootloader counted a boot still records the boot`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        let bootsBefore = try InstallerFixture.records(vehicle).filter { $0.step == .boot }.count
        // The bootloader runs and saves its environment (one try used); the power goes before
        // the installer writes anything.
        let killed = try Self.runKilled(["vehicle", "reboot", vehicle], crashAt: "step:boot.counted")
        #expect(killed)
        #expect(try InstallerFixture.rawBoot(vehicle).bootCount == 1)
        #expect(try InstallerFixture.records(vehicle).filter { $0.step == .boot }.count == bootsBefore)
        // The next start records it (and only once).
        _ = try Vehicle(directory: vehicle).status()
        _ = try Vehicle(directory: vehicle).status()
        let boots = try InstallerFixture.records(vehicle).filter { $0.step == .boot }
        #expect(boots.count == bootsBefore + 1)
        #expect(boots.last?.boot?.count == 1 && boots.last?.boot?.unrecorded == 1)
        // The update goes on normally from there.
        try Vehicle(directory: vehicle).confirmBoot()
        #expect(try Vehicle(directory: vehicle).status().pending == nil)
    }
}
