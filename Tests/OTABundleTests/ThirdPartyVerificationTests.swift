import Foundation
import OTABuilder
import OTACore
import OTATestSupport
import Testing

/// A third party checks a bundle with `tar` and the `openssl` command line only, following
/// `docs/FORMAT.md`: the PAE, the signature, the chain, and every payload chunk hash.
@Suite("Third-party verification with the openssl command line")
struct ThirdPartyVerificationTests {
    @discardableResult
    func run(_ tool: String, _ arguments: [String], in directory: String) throws -> (Int32, Data) {
        let outcome = try ChildProcess(tool, arguments, directory: directory).finish()
        return (outcome.status, Data(outcome.stdout))
    }

    @Test(arguments: Suite.allCases)
    func `a bundle's signature, chain and chunks verify with tar and openssl alone`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let bundle = try fixture.standardBundle()
        _ = try BundleRewriterHelper.cosign(bundle, fixture)
        let work = fixture.directory + "/third-party"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        #expect(try run("/bin/tar", ["xf", bundle], in: work).0 == 0)

        let manifest = try Data(contentsOf: URL(fileURLWithPath: "\(work)/manifest.json"))
        let type = "application/vnd.ota.manifest.v1+json"
        var pae = Data("DSSEv1 \(type.utf8.count) \(type) \(manifest.count) ".utf8)
        pae.append(manifest)
        try pae.write(to: URL(fileURLWithPath: "\(work)/pae.bin"))

        let envelope =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(work)/signatures.json")))
            as! [String: Any]
        let signatures = envelope["signatures"] as! [[String: Any]]
        #expect(signatures.count == 2)
        for (index, signature) in signatures.enumerated() {
            let certificates = signature["certificates"] as! [String]
            try Data(base64Encoded: signature["signature"] as! String)!.write(
                to: URL(fileURLWithPath: "\(work)/sig\(index).bin"))
            try Data(base64Encoded: certificates[0])!.write(to: URL(fileURLWithPath: "\(work)/signer\(index).der"))
            try Data(base64Encoded: certificates[1])!.write(to: URL(fileURLWithPath: "\(work)/chain\(index).der"))
            #expect(
                try run(
                    "/usr/bin/openssl",
                    ["x509", "-inform", "DER", "-in", "signer\(index).der", "-out", "signer\(index).pem"], in: work
                ).0 == 0)
            #expect(
                try run(
                    "/usr/bin/openssl",
                    ["x509", "-inform", "DER", "-in", "chain\(index).der", "-out", "chain\(index).pem"], in: work
                ).0 == 0)
            // OpenSSL 3.0's `verify` cannot check SM2 certificate signatures (it passes no
            // distinguishing ID), so the chain is checked from the command line for intl only.
            if suite == .intl {
                let verify = [
                    "verify", "-CAfile", "\(fixture.pki)/release/root-ca.crt", "-untrusted", "chain\(index).pem",
                    "-purpose", "any",
                    "-crl_check_all", "-CRLfile", "\(fixture.pki)/release/root-ca.crl", "-CRLfile",
                    "\(fixture.pki)/release/signing-ca.crl",
                ]
                #expect(try run("/usr/bin/openssl", verify + ["signer\(index).pem"], in: work).0 == 0)
            }
            let (_, pub) = try run(
                "/usr/bin/openssl", ["x509", "-in", "signer\(index).pem", "-pubkey", "-noout"], in: work)
            try pub.write(to: URL(fileURLWithPath: "\(work)/signer\(index).pub"))
            let check: [String]
            switch signature["algorithm"] as! String {
            case "ecdsa-p256-sha256":
                check = [
                    "dgst", "-sha256", "-verify", "signer\(index).pub", "-signature", "sig\(index).bin", "pae.bin",
                ]
            case "ed25519":
                check = [
                    "pkeyutl", "-verify", "-pubin", "-inkey", "signer\(index).pub", "-rawin", "-in", "pae.bin",
                    "-sigfile", "sig\(index).bin",
                ]
            default:
                check = [
                    "dgst", "-sm3", "-verify", "signer\(index).pub", "-sigopt", "distid:1234567812345678", "-signature",
                    "sig\(index).bin", "pae.bin",
                ]
            }
            #expect(try run("/usr/bin/openssl", check, in: work).0 == 0, "signature \(index)")
            // The same check fails on an altered manifest.
            var altered = pae
            altered[altered.count - 2] ^= 1
            try altered.write(to: URL(fileURLWithPath: "\(work)/pae-altered.bin"))
            #expect(
                try run("/usr/bin/openssl", check.map { $0 == "pae.bin" ? "pae-altered.bin" : $0 }, in: work).0 != 0)
        }

        let parsed = try JSONSerialization.jsonObject(with: manifest) as! [String: Any]
        for image in parsed["images"] as! [[String: Any]] {
            let payload = image["payload"] as! [String: Any]
            let stored = try Data(contentsOf: URL(fileURLWithPath: "\(work)/\(payload["entry"] as! String)"))
            let chunkSize = payload["chunkSize"] as! Int
            let hashes = payload["chunkHashes"] as! [String]
            for (index, expected) in hashes.enumerated() {
                let chunk = stored.subdata(in: (index * chunkSize)..<min((index + 1) * chunkSize, stored.count))
                try chunk.write(to: URL(fileURLWithPath: "\(work)/chunk.bin"))
                let (_, output) = try run(
                    "/usr/bin/openssl", ["dgst", suite == .gm ? "-sm3" : "-sha256", "-r", "chunk.bin"], in: work)
                #expect(
                    String(decoding: output, as: UTF8.self).hasPrefix(expected), "\(payload["entry"]!) chunk \(index)")
            }
        }
    }
}

enum BundleRewriterHelper {
    static func cosign(_ path: String, _ fixture: BundleFixture) throws -> BundleRewriter.Report {
        try BundleRewriter.cosign(path: path, signer: try fixture.signer("signer-2"))
    }
}
