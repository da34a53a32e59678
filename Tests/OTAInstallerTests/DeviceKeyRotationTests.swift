import Foundation
import OTACore
import OTAInstaller
import OTARecorder
import Testing

/// `Vehicle.rotateDeviceKey`: the vehicle takes a new device key certified for the vehicle
/// role; the log continues under it; a power loss leaves exactly one key in charge.
@Suite(.serialized) struct DeviceKeyRotationTests {
    /// A new device key and its certificate from the sample vehicle CA (`role`: the marker).
    func newDevice(_ fixture: InstallerFixture, role: TrustRole = .vehicle) throws -> (
        key: String, certificate: String, privateKey: PrivateKey
    ) {
        let key = try PrivateKey.generate(.p256)
        let ca = CertificateIssuer(
            key: try PrivateKey(contentsOf: fixture.keys + "/vehicle/root-ca.key"),
            certificate: try Certificate.load(contentsOf: fixture.keys + "/vehicle/root-ca.crt")[0])
        let request = try CertificateRequest.make(
            subject: .init(commonName: "Vehicle Device \(InstallerFixture.vin)", organization: "ota sample OEM"),
            key: key)
        let certificate = try ca.issue(
            request: request, role: role, signerID: InstallerFixture.vin, notBefore: Date().addingTimeInterval(-60),
            notAfter: Date().addingTimeInterval(86400 * 365))
        let name = UUID().uuidString
        let keyPath = "\(fixture.directory)/\(name).key", certificatePath = "\(fixture.directory)/\(name).crt"
        try key.pem().write(toFile: keyPath, atomically: true, encoding: .utf8)
        try certificate.pem.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        return (keyPath, certificatePath, key)
    }

    func logVerifies(_ vehicle: String, fixture: InstallerFixture) throws -> VerificationReport {
        try LogVerifier(
            directory: "\(vehicle)/records",
            publicKey: try PrivateKey(contentsOf: fixture.keys + "/vehicle/device.key").publicKey
        ).verify()
    }

    @Test func `the vehicle's log continues under a rotated device key and a wrong certificate changes nothing`() throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let device = try newDevice(fixture)
        let stranger = try newDevice(fixture, role: .compliance)
        let before = try FileSystem.read("\(vehicle)/keys/device.key", limit: 1 << 20)
        let wrongRole = failure { () throws(OTAError) in
            _ = try Vehicle(directory: vehicle).rotateDeviceKey(
                to: stranger.privateKey, certificate: try Certificate.load(contentsOf: stranger.certificate)[0],
                reason: "test")
        }
        #expect(wrongRole?.code == "certificate.role")
        let notItsKey = failure { () throws(OTAError) in
            _ = try Vehicle(directory: vehicle).rotateDeviceKey(
                to: stranger.privateKey, certificate: try Certificate.load(contentsOf: device.certificate)[0],
                reason: "test")
        }
        #expect(notItsKey?.code == "key.certificate-mismatch")
        #expect(try FileSystem.read("\(vehicle)/keys/device.key", limit: 1 << 20) == before)

        let opened = try Vehicle(directory: vehicle)
        let rotation = try opened.rotateDeviceKey(
            to: device.privateKey, certificate: try Certificate.load(contentsOf: device.certificate)[0],
            reason: "renewal")
        // The same Vehicle records on, under the new key.
        try opened.applyTrust(
            try FileSystem.read(fixture.keys + "/vehicle/root-ca.crl", limit: 1 << 20), source: "test")
        let report = try logVerifies(vehicle, fixture: fixture)
        #expect(report.intact && report.keyRotations == 1 && report.keyID == rotation.newKey, "\(report.issues)")
        #expect(try PrivateKey(contentsOf: "\(vehicle)/keys/device.key").publicKey == device.privateKey.publicKey)
        #expect(
            try FileSystem.read("\(vehicle)/keys/device.crt", limit: 1 << 20)
                == FileSystem.read(device.certificate, limit: 1 << 20))
    }

    @Test(arguments: ["device-key.staged", "device-key.announced"])
    func `a power loss during a device key rotation leaves one key in charge and the log intact`(step: String) throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let device = try newDevice(fixture)
        let killed = try CrashInjectionTests.runKilled(
            [
                "vehicle", "rotate-key", vehicle, "--key", device.key, "--cert", device.certificate, "--reason",
                "renewal",
            ], crashAt: "step:\(step)")
        #expect(killed, "not killed at \(step)")
        // Opening settles it: the staged key is in charge only if the log's last checkpoint is its.
        let reopened = try Vehicle(directory: vehicle)
        #expect(!FileManager.default.fileExists(atPath: "\(vehicle)/keys/device.key.next"))
        #expect(!FileManager.default.fileExists(atPath: "\(vehicle)/keys/device.crt.next"))
        let inCharge = try PrivateKey(contentsOf: "\(vehicle)/keys/device.key").publicKey
        #expect(
            try inCharge
                == (step == "device-key.staged"
                    ? PrivateKey(contentsOf: fixture.keys + "/vehicle/device.key").publicKey
                    : device.privateKey.publicKey))
        // And it records on, verifiably.
        try reopened.applyTrust(
            try FileSystem.read(fixture.keys + "/vehicle/root-ca.crl", limit: 1 << 20), source: "test")
        let report = try logVerifies(vehicle, fixture: fixture)
        #expect(report.intact, "\(step): \(report.issues)")
        #expect(report.keyRotations == (step == "device-key.staged" ? 0 : 1))
    }
}
