import Foundation
import OTACore
import OTATestSupport
import Testing

/// Signing keys in an HSM: every signing command takes `--key pkcs11:...` (a real SoftHSM2 token
/// made by the test set-up), and what it signs verifies with `ota` and with independent tools.
@Suite(
    .serialized,
    .enabled(
        if: SoftHSMToken.isAvailable,
        "SoftHSM2, opensc and libengine-pkcs11-openssl are installed by scripts/install-deps.sh"))
struct HSMSigningTests {
    static let repository = CLIRunner.repository
    let keys = repository + "/keys-sample/intl"
    let token: SoftHSMToken

    init() throws { token = try SoftHSMToken.shared.get() }

    func ota(_ arguments: [String]) throws -> CLIRunner.Result {
        try CLIRunner.run(arguments, environment: token.environment)
    }

    func makeImages(_ directory: String) throws {
        try SampleImages.make(in: directory + "/images")
    }

    /// `ota keys csr` with the token key, `ota keys issue` by the sample CA of `role`.
    func certificate(
        for uri: String, role: String, signerID: String, caKey: String, caCert: String, in directory: String
    ) throws -> String {
        let csr = try ota([
            "keys", "csr", "--key", uri, "--cn", "HSM \(role) signer", "--org", "ota tests", "-o",
            "\(directory)/\(role).csr", "--json",
        ])
        #expect(csr.status == 0, "\(csr.stderr)")
        let issue = try ota([
            "keys", "issue", "\(directory)/\(role).csr", "--role", role, "--signer-id", signerID, "--ca-key", caKey,
            "--ca-cert", caCert,
            "-o", "\(directory)/\(role).crt", "--json",
        ])
        #expect(issue.status == 0, "\(issue.stderr)")
        return "\(directory)/\(role).crt"
    }

    @Test func `a bundle signed in the token verifies with ota and with tar and openssl alone`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        try makeImages(directory)
        let uri = try token.keyPair(label: "cli-release", id: "a1")
        let cert = try certificate(
            for: uri, role: "release", signerID: "hsm-release-1", caKey: "\(keys)/release/signing-ca.key",
            caCert: "\(keys)/release/signing-ca.crt", in: directory)
        let bundle = directory + "/hsm.ota"
        let build = try ota([
            "bundle", "build", Self.repository + "/manifests/infotainment-full.yaml", "--images", directory + "/images",
            "--key", uri, "--cert", cert,
            "--chain", "\(keys)/release/chain.pem", "-o", bundle, "--json",
        ])
        #expect(build.status == 0, "\(build.stderr)")
        let verify = try ota(["bundle", "verify", bundle, "--trust", "\(keys)/trust", "--json"])
        #expect(verify.status == 0, "\(verify.stderr)")
        // A co-signature from a key file, then the two-person rule holds.
        let cosign = try ota([
            "bundle", "sign", bundle, "--key", "\(keys)/release/signer-1.key", "--cert", "\(keys)/release/signer-1.crt",
            "--chain", "\(keys)/release/chain.pem",
        ])
        #expect(cosign.status == 0, "\(cosign.stderr)")
        #expect(try ota(["bundle", "verify", bundle, "--trust", "\(keys)/trust", "--threshold", "2"]).status == 0)

        // Independently: the public key read from the token, the DSSE PAE rebuilt by hand.
        let work = directory + "/third-party"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let tar = try ProcessRunner.run("/bin/tar", ["xf", bundle, "-C", work])
        #expect(tar.status == 0, "\(tar.stderr)")
        let manifest = try Data(contentsOf: URL(fileURLWithPath: work + "/manifest.json"))
        let type = "application/vnd.ota.manifest.v1+json"
        var pae = Data("DSSEv1 \(type.utf8.count) \(type) \(manifest.count) ".utf8)
        pae.append(manifest)
        try pae.write(to: URL(fileURLWithPath: work + "/pae.bin"))
        let envelope =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work + "/signatures.json")))
            as! [String: Any]
        let first = (envelope["signatures"] as! [[String: Any]])[0]
        #expect(first["algorithm"] as? String == "ecdsa-p256-sha256")
        try Data(base64Encoded: first["signature"] as! String)!.write(to: URL(fileURLWithPath: work + "/sig.bin"))
        try token.publicKeyPEM(id: "a1", to: work + "/token.pub")
        try OpenSSLTool.run([
            "dgst", "-sha256", "-verify", work + "/token.pub", "-signature", work + "/sig.bin", work + "/pae.bin",
        ])
        try OpenSSLTool.run([
            "verify", "-CAfile", "\(keys)/release/root-ca.crt", "-untrusted", "\(keys)/release/chain.pem", "-purpose",
            "any", cert,
        ])
    }

    @Test func `an approval signed in the token is accepted, and the approval key cannot sign a release`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        try makeImages(directory)
        let bundle = directory + "/adas.ota"
        #expect(
            try ota([
                "bundle", "build", Self.repository + "/manifests/adas-automated-driving.yaml", "--images",
                directory + "/images",
                "--key", "\(keys)/release/signer-1.key", "--cert", "\(keys)/release/signer-1.crt", "--chain",
                "\(keys)/release/chain.pem", "-o", bundle,
            ]).status == 0)
        let uri = try token.keyPair(label: "cli-approval", id: "a2")
        let cert = try certificate(
            for: uri, role: "approval", signerID: "hsm-approver-1", caKey: "\(keys)/approval/root-ca.key",
            caCert: "\(keys)/approval/root-ca.crt",
            in: directory)
        let approve = try ota([
            "approve", bundle, "--key", uri, "--cert", cert, "--approval-id", "MIIT-AD-2026-0042", "--models", "X1",
            "-o", directory + "/hsm.approval",
        ])
        #expect(approve.status == 0, "\(approve.stderr)")
        let verify = try ota([
            "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--approval", directory + "/hsm.approval",
            "--model", "X1", "--json",
        ])
        #expect(verify.status == 0, "\(verify.stderr)")
        // The same token key under its approval certificate cannot co-sign a release.
        if try ota(["bundle", "sign", bundle, "--key", uri, "--cert", cert]).status == 0 {
            let twoPerson = try ota([
                "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--threshold", "2", "--json",
            ])
            #expect(twoPerson.status == 2, "\(twoPerson.stdout)")
        }
    }

    @Test func `a repository role key in the token signs metadata that ota and python-tuf verify`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let repo = directory + "/repo"
        #expect(try ota(["repo", "init", repo]).status == 0)
        let uri = try token.keyPair(label: "cli-timestamp", id: "a3")
        let rotate = try ota(["repo", "rotate", repo, "--role", "timestamp", "--key", uri, "--json"])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: repo + "/keys").filter {
            $0.hasSuffix(".pkcs11")
        }
        #expect(stored.count == 1)
        // No key bytes on disk for the role: only the reference (and no PIN in it but its source).
        let reference = try String(contentsOfFile: repo + "/keys/" + stored[0], encoding: .utf8)
        #expect(reference.hasPrefix("pkcs11:") && !reference.contains(SoftHSMToken.pin))
        #expect(try ota(["repo", "timestamp", repo]).status == 0)
        let verify = try ota(["repo", "verify", repo])
        #expect(verify.status == 0, "\(verify.stderr)")
        // python-tuf checks the timestamp against the root's keys for the role.
        let script = """
            import sys
            from tuf.api.metadata import Metadata
            root = Metadata.from_file(sys.argv[1] + "/metadata/root.json")
            timestamp = Metadata.from_file(sys.argv[1] + "/metadata/timestamp.json")
            root.verify_delegate("timestamp", timestamp)
            assert list(timestamp.signatures) == [sys.argv[2]], list(timestamp.signatures)
            print("ok")
            """
        let python = try ProcessRunner.run(
            "/usr/bin/env", ["python3", "-c", script, repo, String(stored[0].dropLast(".pkcs11".count))])
        #expect(python.status == 0, "\(python.stdout)\(python.stderr)")
    }

    @Test func `a bad URI, a missing PIN or an Ed25519 token key is a clear error and writes nothing`() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        try makeImages(directory)
        let base = [
            "bundle", "build", Self.repository + "/manifests/infotainment-full.yaml", "--images", directory + "/images",
            "--cert", "\(keys)/release/signer-1.crt",
        ]
        try token.keyPair(label: "cli-release", id: "a1")
        let bad = try ota(base + ["--key", "pkcs11:object=a;slot-id=3", "-o", directory + "/a.ota", "--json"])
        #expect(bad.status == 1 && bad.errorCode == "key.pkcs11-uri")
        let noPIN = try ota(
            base + [
                "--key", "pkcs11:token=\(SoftHSMToken.label);object=cli-release?module-path=\(SoftHSMToken.module)",
                "-o", directory + "/b.ota", "--json",
            ])
        #expect(noPIN.status == 1 && noPIN.errorCode == "key.pkcs11-pin")
        let wrongPIN = try ota(
            base + [
                "--key",
                "pkcs11:token=\(SoftHSMToken.label);object=cli-release?module-path=\(SoftHSMToken.module)&pin-value=0000",
                "-o", directory + "/w.ota", "--json",
            ])
        #expect(wrongPIN.status == 1 && wrongPIN.errorCode == "key.pkcs11", "\(wrongPIN.stdout)")
        // The PIN may come from --passphrase-env; the key then does not match signer-1's certificate.
        try token.keyPair(label: "cli-release", id: "a1")
        var environment = token.environment
        environment["OTA_HSM_PIN"] = SoftHSMToken.pin
        let mismatch = try CLIRunner.run(
            base + [
                "--key", "pkcs11:token=\(SoftHSMToken.label);object=cli-release?module-path=\(SoftHSMToken.module)",
                "--passphrase-env", "OTA_HSM_PIN",
                "-o", directory + "/c.ota", "--json",
            ], environment: environment)
        #expect(mismatch.status == 1 && mismatch.errorCode == "key.certificate-mismatch", "\(mismatch.stdout)")
        // Debian 12's engine (libp11 0.4.12) cannot use EdDSA token keys: refused as key.pkcs11, not signed some other way.
        let edwards = try token.keyPair(label: "cli-ed25519", type: "EC:edwards25519", id: "e1", token: "ota-ed25519")
        let ed = try ota([
            "keys", "csr", "--key", edwards, "--cn", "x", "--org", "y", "-o", directory + "/ed.csr", "--json",
        ])
        #expect(ed.status == 1 && ed.errorCode == "key.pkcs11", "\(ed.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["images"])
    }
}
