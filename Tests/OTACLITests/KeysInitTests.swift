import Foundation
import OTACore
import OTATestSupport
import Testing

@Suite("ota keys init")
struct KeysInitTests {
    func certificate(_ directory: String, _ path: String) throws -> Certificate {
        try Certificate.load(contentsOf: "\(directory)/\(path)")[0]
    }

    @Test(arguments: Suite.allCases)
    func `the sample PKI verifies role by role against its own trust store`(suite: Suite) throws {
        let base = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(base) }
        let directory = base + "/pki"
        let result = try CLIRunner.run(["keys", "init", "--suite", suite.rawValue, "--out", directory, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.json["ok"] as? Bool == true)

        let readme = try String(contentsOfFile: "\(directory)/README.md", encoding: .utf8)
        #expect(readme.split(separator: "\n").first?.contains("PUBLIC and for demos and tests only") == true)

        let verifier = ChainVerifier(store: try TrustStore(directory: "\(directory)/trust"))
        let chain = try Certificate.load(contentsOf: "\(directory)/release/chain.pem")
        for signer in ["signer-1", "signer-2"] {
            #expect(
                try verifier.verify(
                    certificate(directory, "release/\(signer).crt"), intermediates: chain, role: .release
                ).isTrusted, "\(signer)")
        }
        guard
            case .untrusted(let revoked) = try verifier.verify(
                certificate(directory, "release/revoked-signer.crt"), intermediates: chain, role: .release)
        else {
            Issue.record("revoked signer was trusted")
            return
        }
        #expect(revoked.code == "certificate.revoked")
        for (path, role) in [
            ("approval/approval-signer.crt", TrustRole.approval), ("repository/repository-signer.crt", .repository),
            ("vehicle/device.crt", .vehicle), ("compliance/compliance-signer.crt", .compliance),
        ] {
            #expect(try verifier.verify(certificate(directory, path), role: role).isTrusted, "\(path)")
            // A valid certificate of another role is not a release signer.
            #expect(
                !(try verifier.verify(certificate(directory, path), intermediates: chain, role: .release).isTrusted),
                "\(path) as release")
        }

        // The encrypted sample key opens with its passphrase file and matches signer-1.
        let encrypted = try PrivateKey(
            contentsOf: "\(directory)/release/signer-1.encrypted.key",
            passphrase: .file("\(directory)/release/signer-1.passphrase"))
        #expect(try encrypted.publicKey == certificate(directory, "release/signer-1.crt").publicKey)
        let mode =
            try FileManager.default.attributesOfItem(atPath: "\(directory)/release/signer-1.key")[.posixPermissions]
            as? Int
        #expect(mode == 0o600)
    }

    /// What a certificate says, apart from its key, serial, dates and signature.
    func profile(_ certificate: Certificate) throws -> [String] {
        [
            certificate.subject, certificate.issuer, String(certificate.isCA), try certificate.publicKey.type.rawValue,
            certificate.extendedKeyUsages.sorted().joined(separator: ","), try certificate.signerID ?? "-",
        ]
    }

    @Test(arguments: Suite.allCases)
    func `the committed keys-sample has the files and certificate profiles that keys init makes`(suite: Suite) throws {
        let base = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(base) }
        let fresh = base + "/pki"
        #expect(try CLIRunner.run(["keys", "init", "--suite", suite.rawValue, "--out", fresh]).status == 0)
        let committed = "\(CLIRunner.repository)/keys-sample/\(suite.rawValue)"
        func files(_ root: String) throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: root).filter {
                !FileSystem.isDirectory("\(root)/\($0)")
            }.sorted()
        }
        #expect(try files(committed) == files(fresh), "regenerate with scripts/make-keys-sample.sh")
        for path in try files(fresh) where path.hasSuffix(".crt") {
            #expect(
                try profile(certificate(committed, path)) == profile(certificate(fresh, path)),
                "\(path): regenerate with scripts/make-keys-sample.sh")
        }
    }

    @Test func `the intl sample chain verifies with the openssl command line too`() throws {
        let base = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(base) }
        let directory = base + "/pki"
        #expect(try CLIRunner.run(["keys", "init", "--suite", "intl", "--out", directory]).status == 0)
        let verify = try ProcessRunner.run(
            "/usr/bin/openssl",
            [
                "verify", "-crl_check_all", "-purpose", "any", "-CAfile", "\(directory)/release/root-ca.crt",
                "-untrusted",
                "\(directory)/release/chain.pem",
                "-CRLfile", "\(directory)/release/root-ca.crl", "-CRLfile", "\(directory)/release/signing-ca.crl",
                "\(directory)/release/signer-1.crt",
            ])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test func `bad arguments exit 1 with a stable code and leave nothing behind`() throws {
        let base = try CLIRunner.temporaryDirectory()
        defer { CLIRunner.removeTemporaryDirectory(base) }
        let unknown = try CLIRunner.run(["keys", "init", "--suite", "rsa", "--out", "\(base)/x", "--json"])
        #expect(unknown.status == 1)
        #expect(unknown.errorCode == "suite.unknown")
        #expect(!FileManager.default.fileExists(atPath: "\(base)/x"))

        let exists = try CLIRunner.run(["keys", "init", "--suite", "intl", "--out", base, "--json"])
        #expect(exists.status == 1)
        #expect(exists.errorCode == "io.exists")

        let missing = try CLIRunner.run(["keys", "init", "--json"])
        #expect(missing.status == 1)
        #expect(missing.errorCode == "usage.invalid")
        #expect(try FileManager.default.contentsOfDirectory(atPath: base).isEmpty)
    }

    @Test func `help exits 0`() throws {
        let result = try CLIRunner.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Exit codes"))
    }
}
