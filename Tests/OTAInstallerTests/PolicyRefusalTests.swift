import Foundation
import OTABuilder
import OTACore
import OTAInstaller
import OTARecorder
import Testing

/// Every policy refusal: its stable code, no slot written, the boot control untouched, and a
/// record of the refusal.
@Suite("Installer policy refusals")
struct PolicyRefusalTests {
    typealias Spec = InstallerFixture.ImageSpec

    /// Runs an install that must be refused with `code` (and `cause`), and checks the aftermath.
    func expectRefused(
        _ code: String, cause: String? = nil, fixture: InstallerFixture, vehicle: String? = nil, bundle: String,
        approval: [UInt8]? = nil, conditions: VehicleConditions? = InstallerFixture.parked,
        consent: Consent? = InstallerFixture.yes, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let vehicle = try vehicle ?? fixture.vehicle()
        let slotsBefore = try InstallerFixture.slotHashes(vehicle)
        let bootBefore = try InstallerFixture.rawBoot(vehicle)
        let stateBefore = try InstallerFixture.rawState(vehicle)
        let recordsBefore = try InstallerFixture.records(vehicle).count
        let caught = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: bundle, approval: approval, conditions: conditions, consent: consent)
        }
        #expect(caught?.code == code, "\(caught?.description ?? "installed")", sourceLocation: sourceLocation)
        #expect(caught?.kind == .rejected, sourceLocation: sourceLocation)
        if let cause { #expect(caught?.cause == cause, sourceLocation: sourceLocation) }
        #expect(
            try InstallerFixture.slotHashes(vehicle) == slotsBefore, "a slot was written",
            sourceLocation: sourceLocation)
        #expect(try InstallerFixture.rawBoot(vehicle) == bootBefore, sourceLocation: sourceLocation)
        let stateAfter = try InstallerFixture.rawState(vehicle)
        #expect(
            stateAfter.ecus == stateBefore.ecus && stateAfter.slots == stateBefore.slots && stateAfter.pending == nil,
            sourceLocation: sourceLocation)
        let records = try InstallerFixture.records(vehicle).dropFirst(recordsBefore)
        let refusal = records.last
        // An install attempt ends with its result record; a vehicle that refuses to open (its
        // trust store or state fails its seal) records the check that refused.
        #expect(
            [.result, .trustCheck, .stateCheck].contains(refusal?.step) && refusal?.outcome == .rejected
                && refusal?.errorCode == code,
            "no record of the refusal: \(records.map(\.step))", sourceLocation: sourceLocation)
        #expect(refusal?.vin == InstallerFixture.vin, sourceLocation: sourceLocation)
    }

    @Test func `a bundle for another model is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "target.model", fixture: fixture, bundle: try fixture.bundle(try fixture.manifest(models: "[X2]")))
    }

    @Test func `an image for another hardware id is refused`() throws {
        let fixture = try InstallerFixture()
        let manifest = try fixture.manifest(images: [Spec(group: 0), Spec(group: 1, hardwareId: "HW-1-REV-B")])
        try expectRefused("target.hardware-id", fixture: fixture, bundle: try fixture.bundle(manifest))
    }

    @Test func `a VIN allow-list without this vehicle is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "target.vin", fixture: fixture,
            bundle: try fixture.bundle(try fixture.manifest(vins: "[LSVX1A2B3C4D00000]")))
    }

    @Test func `a VIN allow-list with this vehicle is accepted`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.bundle(try fixture.manifest(vins: "[LSVX1A2B3C4D00000, \(InstallerFixture.vin)]"))
        let report = try Vehicle(directory: vehicle).install(
            bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(report.stage == .activated)
    }

    @Test func `an expired bundle is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "manifest.expired", fixture: fixture,
            bundle: try fixture.bundle(try fixture.manifest(expires: "2026-02-01T00:00:00Z"), refusable: true))
    }

    @Test func `a lower security version is refused`() throws {
        let fixture = try InstallerFixture()
        let manifest = try fixture.manifest(images: [
            Spec(group: 0, securityVersion: 4, allowDowngrade: true), Spec(group: 1),
        ])
        try expectRefused("rollback.security-version", fixture: fixture, bundle: try fixture.bundle(manifest))
    }

    @Test func `an older version at the same security version needs allowDowngrade`() throws {
        let fixture = try InstallerFixture()
        let refused = try fixture.manifest(images: [Spec(group: 0, version: "0.9.0", securityVersion: 5)])
        try expectRefused("rollback.version", fixture: fixture, bundle: try fixture.bundle(refused))
        let allowed = try fixture.manifest(images: [
            Spec(group: 0, version: "0.9.0", securityVersion: 5, allowDowngrade: true)
        ])
        let report = try Vehicle(directory: try fixture.vehicle()).install(
            bundle: try fixture.bundle(allowed), conditions: InstallerFixture.parked,
            consent: InstallerFixture.yes)
        #expect(report.stage == .activated)
    }

    @Test func `an automated-driving change without an approval is refused`() throws {
        let fixture = try InstallerFixture()
        let manifest = try fixture.manifest(
            images: [Spec(group: 0, categories: "[automated-driving, safety]")],
            regulatory: InstallerFixture.adRegulatory)
        try expectRefused("approval.missing", fixture: fixture, bundle: try fixture.bundle(manifest))
    }

    @Test func `an ECU the vehicle marks automated-driving needs an approval whatever the manifest says`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(automatedDriving: true))
        try expectRefused("approval.missing", fixture: fixture, vehicle: vehicle, bundle: try fixture.standardBundle())
    }

    func adBundle(_ fixture: InstallerFixture, models: String = "[X1]") throws -> String {
        try fixture.bundle(
            try fixture.manifest(
                models: models, images: [Spec(group: 0, categories: "[automated-driving]")],
                regulatory: InstallerFixture.adRegulatory))
    }

    @Test func `an approval for another bundle is refused`() throws {
        let fixture = try InstallerFixture()
        let other = try adBundle(fixture)
        try expectRefused(
            "approval.invalid", cause: "approval.bundle-mismatch", fixture: fixture, bundle: try adBundle(fixture),
            approval: try fixture.approval(for: other))
    }

    @Test func `an approval for another model is refused`() throws {
        let fixture = try InstallerFixture()
        let bundle = try adBundle(fixture, models: "[X1, X9]")
        try expectRefused(
            "approval.invalid", cause: "approval.model-mismatch", fixture: fixture, bundle: bundle,
            approval: try fixture.approval(for: bundle, models: ["X9"]))
    }

    @Test func `an expired approval is refused`() throws {
        let fixture = try InstallerFixture()
        let bundle = try adBundle(fixture)
        let approval = try fixture.approval(
            for: bundle, validFrom: Date().addingTimeInterval(-86400 * 10),
            validUntil: Date().addingTimeInterval(-86400))
        try expectRefused(
            "approval.invalid", cause: "approval.expired", fixture: fixture, bundle: bundle, approval: approval)
    }

    @Test func `an approval signed by a release certificate is refused`() throws {
        let fixture = try InstallerFixture()
        let bundle = try adBundle(fixture)
        try expectRefused(
            "approval.invalid", cause: "approval.untrusted", fixture: fixture, bundle: bundle,
            approval: try fixture.approval(for: bundle, signer: try fixture.signer()))
    }

    @Test func `a valid approval lets an automated-driving change install`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(automatedDriving: true))
        let bundle = try adBundle(fixture)
        let decision = try Vehicle(directory: vehicle).check(bundle: bundle)
        #expect(decision.isAccepted && decision.approvalRequired)
        let report = try Vehicle(directory: vehicle).install(
            bundle: bundle, expecting: decision, approval: try fixture.approval(for: bundle),
            conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(report.stage == .activated)
        let approvalRecord = try InstallerFixture.records(vehicle).last { $0.step == .approval }
        #expect(approvalRecord?.update?.approval?.number == "AD-2026-1")
    }

    @Test func `a safety change without a filing reference is refused`() throws {
        let fixture = try InstallerFixture()
        let manifest = try fixture.manifest(images: [Spec(group: 0, categories: "[safety]")])
        try expectRefused("filing.missing", fixture: fixture, bundle: try fixture.bundle(manifest, refusable: true))
    }

    @Test func `a recall without a recall filing is refused`() throws {
        let fixture = try InstallerFixture()
        let manifest = try fixture.manifest(
            images: [Spec(group: 0, categories: "[recall]")],
            regulatory: "  - {type: filing, number: F-2, authority: MIIT}")
        try expectRefused("filing.missing", fixture: fixture, bundle: try fixture.bundle(manifest, refusable: true))
    }

    @Test func `an unparked vehicle is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "precondition.parked", fixture: fixture, bundle: try fixture.standardBundle(),
            conditions: VehicleConditions(parked: false, gear: "D", batteryPercent: 80))
    }

    @Test func `a low battery is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "precondition.battery", fixture: fixture, bundle: try fixture.standardBundle(),
            conditions: VehicleConditions(parked: true, gear: "P", batteryPercent: 29))
    }

    @Test func `a gear other than P is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "precondition.gear", fixture: fixture, bundle: try fixture.standardBundle(),
            conditions: VehicleConditions(parked: true, gear: "N", batteryPercent: 80))
    }

    /// Before: a reading the manifest needs and the state left out (or misspelt, as the command
    /// line's strict reading now refuses) passed as met: only `driving == true` and
    /// `doorsUnlockable == false` were refused.
    @Test func `a reading the preconditions need and the state lacks is refused, not taken as met`() throws {
        let fixture = try InstallerFixture()
        let manifest = try fixture.manifest(
            images: [Spec(group: 0)],
            preconditions:
                "{parked: true, gear: P, minimumBatteryPercent: 30, noDrivingDuringInstall: true, doorsUnlockable: true}"
        )
        let bundle = try fixture.bundle(manifest, refusable: true)
        for (code, conditions) in [
            (
                "precondition.unknown",
                VehicleConditions(parked: true, gear: "P", batteryPercent: 80, doorsUnlockable: true)
            ),
            ("precondition.unknown", VehicleConditions(parked: true, gear: "P", batteryPercent: 80, driving: false)),
            (
                "precondition.driving",
                VehicleConditions(parked: true, gear: "P", batteryPercent: 80, driving: true, doorsUnlockable: true)
            ),
            (
                "precondition.doors",
                VehicleConditions(parked: true, gear: "P", batteryPercent: 80, driving: false, doorsUnlockable: false)
            ),
        ] {
            try expectRefused(code, fixture: fixture, bundle: bundle, conditions: conditions)
        }
    }

    @Test func `unknown vehicle state is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused(
            "precondition.unknown", fixture: fixture, bundle: try fixture.standardBundle(), conditions: nil)
    }

    @Test func `refused consent is refused and recorded with the notice digest and language`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        try expectRefused(
            "consent.refused", fixture: fixture, vehicle: vehicle, bundle: try fixture.standardBundle(),
            consent: Consent(answer: .refused, language: "en", by: .driver, channel: "app"))
        let record = try InstallerFixture.records(vehicle).last
        #expect(record?.notice?.language == "en")
        #expect(record?.notice?.digest.count == 64)
        #expect(
            record?.confirmation?.answer == .refused && record?.confirmation?.party == .driver
                && record?.confirmation?.channel == "app")
    }

    @Test func `missing consent is refused`() throws {
        let fixture = try InstallerFixture()
        try expectRefused("consent.missing", fixture: fixture, bundle: try fixture.standardBundle(), consent: nil)
    }

    @Test func `a missing or empty trust store refuses every install`() throws {
        let fixture = try InstallerFixture()
        let bundle = try fixture.standardBundle()
        // Made with an empty trust store: every install is refused.
        let emptyTrust = fixture.directory + "/empty-trust"
        try FileManager.default.createDirectory(
            atPath: "\(emptyTrust)/release/anchors", withIntermediateDirectories: true)
        let empty = fixture.directory + "/vehicle-empty-trust"
        try Vehicle.create(
            directory: empty, config: fixture.config(), baseDirectory: fixture.images, trust: emptyTrust,
            decryptionKey: "\(fixture.keys)/vehicle/device.key")
        try expectRefused("trust.empty", fixture: fixture, vehicle: empty, bundle: bundle)
        // Emptied or removed after init: the vehicle refuses to open (its trust store is sealed).
        let emptied = try fixture.vehicle()
        try FileManager.default.removeItem(atPath: "\(emptied)/trust")
        try FileManager.default.createDirectory(
            atPath: "\(emptied)/trust/release/anchors", withIntermediateDirectories: true)
        try expectRefused("trust.tampered", fixture: fixture, vehicle: emptied, bundle: bundle)
        let missing = try fixture.vehicle()
        try FileManager.default.removeItem(atPath: "\(missing)/trust")
        try expectRefused("trust.tampered", fixture: fixture, vehicle: missing, bundle: bundle)
    }

    @Test func `the policy runs in the design's order and records every step`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        let steps = try InstallerFixture.records(vehicle).map(\.step)
        #expect(
            steps == [
                .vehicleInit, .verify, .repository, .target, .antiRollback, .approval, .filing, .plan, .precondition,
                .consent, .decrypt,
                .applyStart, .applyImage, .applyImage, .applyInstalled, .activate,
            ])
        let consent = try InstallerFixture.records(vehicle).first { $0.step == .consent }
        #expect(consent?.notice?.language == "zh-CN")
        #expect(consent?.notice?.digest.count == 64)
    }
}
