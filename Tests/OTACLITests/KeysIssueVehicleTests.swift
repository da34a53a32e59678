import Foundation
import OTACore
import OTATestSupport
import Testing

/// A vehicle certificate names its vehicle: `ota keys issue --role vehicle` needs `--signer-id`
/// with the VIN (17 characters of A-Z without I, O, Q, and 0-9), which the fleet service reads to
/// know whose log a vehicle may upload. Anything else is a usage error (exit 1, `usage.signer-id`)
/// and writes no certificate.
@Suite struct KeysIssueVehicleTests {
    func ota(_ arguments: [String]) throws -> CLIRunner.Result { try CLIRunner.run(arguments + ["--json"]) }

    @Test(arguments: ["intl", "gm"])
    func `a vehicle certificate is issued only for a VIN given as signer id`(suite: String) throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(RepositoryRoot.path)/keys-sample/\(suite)"
        let csr = try ota([
            "keys", "csr", "--new-key", directory + "/device.key", "--type", suite == "gm" ? "sm2" : "p256", "--cn",
            "Vehicle Device", "--org", "ota tests", "-o", directory + "/device.csr",
        ])
        try #require(csr.status == 0, "\(csr.stdout) \(csr.stderr)")
        let issue = [
            "keys", "issue", directory + "/device.csr", "--role", "vehicle", "--ca-key", keys + "/vehicle/root-ca.key",
            "--ca-cert", keys + "/vehicle/root-ca.crt", "-o", directory + "/device.crt",
        ]
        // No signer id; the old sample's 16 characters; 18; lower case; I, O and Q (never in a VIN);
        // a space; a full-width digit (Unicode look-alike); an empty one.
        let refused: [String?] = [
            nil, "SAMPLE0000000001", "LSVX1A2B3C4D567890", "lsvx1a2b3c4d56789", "LSVX1A2B3C4D5678I",
            "LSVX1A2B3C4D5678O",
            "LSVX1A2B3C4D5678Q", "LSVX1A2B3C4D 6789", "LSVX1A2B3C4D5678\u{FF19}", "",
        ]
        for signerID in refused {
            let run = try ota(issue + (signerID.map { ["--signer-id", $0] } ?? []))
            #expect(run.status == 1, "\(signerID ?? "none"): \(run.stdout) \(run.stderr)")
            #expect(run.errorCode == "usage.signer-id", "\(signerID ?? "none"): \(run.stdout)")
            let message = (run.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("--signer-id") && message.contains("VIN"), "\(message)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/device.crt"))
        }
        // Without --json the person at the terminal reads the same reason on stderr.
        let plain = try CLIRunner.run(issue)
        #expect(plain.status == 1 && plain.stderr.contains("--signer-id"), "\(plain.stderr)")

        let issued = try ota(issue + ["--signer-id", "LSVX1A2B3C4D56789"])
        #expect(issued.status == 0, "\(issued.stdout) \(issued.stderr)")
        let certificate = try Certificate.load(contentsOf: directory + "/device.crt")[0]
        #expect(try certificate.signerID == "LSVX1A2B3C4D56789")
        // Other roles keep an optional signer id of any printable form.
        let release = try ota([
            "keys", "issue", directory + "/device.csr", "--role", "compliance", "--ca-key",
            keys + "/compliance/root-ca.key", "--ca-cert", keys + "/compliance/root-ca.crt", "-o",
            directory + "/staff.crt",
        ])
        #expect(release.status == 0, "\(release.stdout) \(release.stderr)")
    }

    @Test func `a vehicle certificate without a VIN is not renewed without one`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let keys = "\(RepositoryRoot.path)/keys-sample/intl"
        // A vehicle-role certificate made by hand without the signer-id extension (as before this rule).
        let key = try PrivateKey.generate(.p256)
        try AtomicFileWriter.write(Array(try key.pem().utf8), to: directory + "/old.key", mode: 0o600)
        let old = try OpenSSLTool.issueCertificate(
            for: directory + "/old.key", form: nil, subject: "/O=ota tests/OU=vehicle/CN=Vehicle Device",
            caCertificate: keys + "/vehicle/root-ca.crt", caKey: keys + "/vehicle/root-ca.key", sm2: false,
            extensions: OpenSSLTool.clientExtensions(.vehicle, signerID: nil), in: directory)
        let renew = [
            "keys", "renew", old, "--ca-key", keys + "/vehicle/root-ca.key", "--ca-cert", keys + "/vehicle/root-ca.crt",
            "-o", directory + "/new.crt",
        ]
        let refused = try ota(renew)
        #expect(refused.status == 1 && refused.errorCode == "usage.signer-id", "\(refused.stdout)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/new.crt"))
        let renewed = try ota(renew + ["--signer-id", "LSVX1A2B3C4D56789"])
        #expect(renewed.status == 0, "\(renewed.stdout) \(renewed.stderr)")
        #expect(try Certificate.load(contentsOf: directory + "/new.crt")[0].signerID == "LSVX1A2B3C4D56789")
    }
}
