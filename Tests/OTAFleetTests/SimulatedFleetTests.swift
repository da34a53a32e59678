import Foundation
import OTACore
import OTATestSupport
import Testing

/// The simulated fleets of the benchmarks (`ota-records-rig simulate`, `certify`) use real VINs:
/// 17 characters of A-Z without I, O, Q and 0-9 with the check digit in the ninth place, and
/// every certificate is issued the way `ota keys issue --role vehicle` issues it, VIN rule included.
@Suite struct SimulatedFleetTests {
    /// The ISO 3779 check digit, computed apart from the rig's code: a character's value is its
    /// place in this line modulo 10 (`.` marks what a VIN never holds).
    static func checkDigit(_ vin: String) -> Character? {
        let values = Array("0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ")
        let weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
        guard vin.count == 17 else { return nil }
        var sum = 0
        for (index, character) in vin.enumerated() {
            guard character != ".", let place = values.firstIndex(of: character) else { return nil }
            sum += place % 10 * weights[index]
        }
        return sum % 11 == 10 ? "X" : Character(String(sum % 11))
    }

    func rig(_ arguments: [String]) throws -> ProcessRunner.Output {
        let rig = CLIRunner.product("ota-records-rig").path
        guard FileManager.default.isExecutableFile(atPath: rig) else {
            throw HarnessError("\(rig) is not built (swift build --product ota-records-rig)")
        }
        return try ProcessRunner.run(rig, arguments)
    }

    @Test func `the check digit of a published VIN`() {
        #expect(Self.checkDigit("1M8GDM9AXKP042788") == "X")
        #expect(Self.checkDigit("11111111111111111") == "1")
        #expect(Self.checkDigit("LSVSIM00000000042") == nil)
    }

    @Test func `simulated vehicles have valid VINs, and certify issues through the vehicle VIN rule`() throws {
        let directory = try TemporaryDirectory.create("simulated-fleet")
        defer { TemporaryDirectory.remove(directory) }
        let keys = RepositoryRoot.path + "/keys-sample/intl/vehicle"
        let simulated = try rig([
            "simulate", directory + "/logs", "--key", keys + "/device.key", "--vehicles", "12", "--records", "2",
        ])
        try #require(simulated.status == 0, "\(simulated.stderr)")
        let vins = try FileManager.default.contentsOfDirectory(atPath: directory + "/logs").sorted()
        #expect(vins.count == 12)
        for vin in vins {
            // The rule ota keys issue --role vehicle applies.
            #expect((try? CertificateIssuer.checkVehicleSignerID(vin, what: "vin")) != nil, "\(vin)")
            #expect(Array(vin)[8] == Self.checkDigit(vin), "\(vin): check digit")
        }
        let issue = [
            "certify", directory + "/logs", "--key", keys + "/device.key", "--ca-key", keys + "/root-ca.key",
            "--ca-cert", keys + "/root-ca.crt", "-o", directory + "/certs",
        ]
        let certified = try rig(issue)
        try #require(certified.status == 0, "\(certified.stderr)")
        for vin in vins {
            let certificate = try Certificate.load(contentsOf: directory + "/certs/\(vin).crt")[0]
            #expect(try certificate.signerID == vin)
            #expect(certificate.extendedKeyUsages.compactMap(ProjectOID.role(marked:)) == [.vehicle])
        }
        // A log directory named like the rig's old VINs (with an I) is refused, as ota keys issue refuses it.
        try FileManager.default.createDirectory(
            atPath: directory + "/logs/LSVSIM00000000042", withIntermediateDirectories: false)
        let refused = try rig(issue)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is not a VIN"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/certs/LSVSIM00000000042.crt"))
    }
}
