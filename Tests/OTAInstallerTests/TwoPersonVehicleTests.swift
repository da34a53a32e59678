import Foundation
import OTACore
import OTAInstaller
import OTARecorder
import OTATestSupport
import Testing

@testable import OTABuilder

/// A vehicle configured for two release signers (`releaseThreshold: 2`) installs only what two
/// people signed: one engineer's key under a second certificate (in another point encoding,
/// made with the `openssl` command line and the sample signing CA) does not count twice.
@Suite("Two-person rule on the vehicle")
struct TwoPersonVehicleTests {
    func twoSignerVehicle(_ fixture: InstallerFixture) throws -> String {
        var config = fixture.config()
        config.releaseThreshold = 2
        return try fixture.vehicle(config)
    }

    /// Appends `signer`'s signature to the bundle's envelope in place, bypassing `bundle sign`'s
    /// own check (as an attacker editing `signatures.json` would).
    func appendSignature(_ bundle: String, _ signer: SignerIdentity) throws {
        let reader = try BundleReader(path: bundle)
        let head = try reader.readHead()
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        var envelope = head.envelope
        envelope.signatures.append(try signer.sign(head.manifestBytes, type: SignatureEnvelope.manifestType))
        try reader.streamPayloadsUnverifiedHead(manifest: manifest)
        let payloads = manifest.images.map { image in
            (
                entry: image.payload.entry, size: image.payload.storedSize,
                source: { () throws(OTAError) -> BundleWriter.PayloadSource in .stream(try reader.nextPayload()!) }
            )
        }
        try BundleWriter.write(
            to: bundle, manifest: head.manifestBytes, envelope: envelope, recipients: head.recipients,
            payloads: payloads)
    }

    @Test(arguments: [OpenSSLTool.PointForm.compressed, .hybrid])
    func `one engineer with a second certificate for the same key cannot meet a threshold of two`(
        form: OpenSSLTool.PointForm
    ) throws {
        let fixture = try InstallerFixture()
        let vehicle = try twoSignerVehicle(fixture)
        let bundle = try fixture.standardBundle()
        let certificate = try OpenSSLTool.issueCertificate(
            for: "\(fixture.keys)/release/signer-1.key", form: form,
            subject: "/O=ota sample OEM/OU=release/CN=Release Signer 1 (second badge)",
            caCertificate: "\(fixture.keys)/release/signing-ca.crt", caKey: "\(fixture.keys)/release/signing-ca.key",
            sm2: false,
            extensions: OpenSSLTool.signerExtensions(), in: fixture.directory)
        try appendSignature(
            bundle,
            try SignerIdentity.load(
                key: "\(fixture.keys)/release/signer-1.key", certificate: certificate,
                chain: "\(fixture.keys)/release/chain.pem", passphrase: nil))
        let slots = try InstallerFixture.slotHashes(vehicle)
        let caught = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(caught?.code == "signature.duplicate-signer", "\(caught?.description ?? "installed")")
        #expect(try InstallerFixture.slotHashes(vehicle) == slots)
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "signature.duplicate-signer")
    }

    @Test func `two engineers meet a threshold of two`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try twoSignerVehicle(fixture)
        let bundle = try fixture.standardBundle()
        _ = try BundleRewriter.cosign(path: bundle, signer: try fixture.signer("signer-2"))
        let report = try Vehicle(directory: vehicle).install(
            bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(report.images.count == 2)
    }
}
