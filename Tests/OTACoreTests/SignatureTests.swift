import Foundation
import OTACore
import OTATestSupport
import Testing

@Suite("Signatures")
struct SignatureTests {
    static let signingTypes: [KeyType] = [.p256, .ed25519, .sm2]

    @Test(arguments: signingTypes)
    func `a signature verifies with its key and fails with another or on another message`(type: KeyType) throws {
        let key = try PrivateKey.generate(type)
        let other = try PrivateKey.generate(type)
        let message = Array("DSSEv1 4 test 5 hello".utf8)
        let algorithm = try SignatureAlgorithm.forKey(type)
        let signature = try key.signature(for: message)
        #expect(try key.publicKey.check(signature, for: message, algorithm: algorithm) == .valid)
        #expect(try other.publicKey.check(signature, for: message, algorithm: algorithm) == .invalid)
        #expect(try key.publicKey.check(signature, for: message + [0], algorithm: algorithm) == .invalid)
        var flipped = signature
        flipped[flipped.count / 2] ^= 0x40
        #expect(try key.publicKey.check(flipped, for: message, algorithm: algorithm) == .invalid)
    }

    @Test func `an algorithm that disagrees with the key is refused`() throws {
        let key = try PrivateKey.generate(.p256)
        let signature = try key.signature(for: [1, 2, 3])
        #expect(throws: OTAError(.signatureAlgorithmMismatch, "")) {
            try key.publicKey.check(signature, for: [1, 2, 3], algorithm: .sm2SM3)
        }
        #expect(throws: OTAError(.signatureAlgorithmMismatch, "")) {
            try key.publicKey.check(signature, for: [1, 2, 3], algorithm: .ed25519)
        }
    }

    @Test func `an SM2 signature depends on the distinguishing ID`() throws {
        let key = try PrivateKey.generate(.sm2)
        let message = Array("abc".utf8)
        let signature = try key.signature(for: message)
        #expect(try key.publicKey.check(signature, for: message, algorithm: .sm2SM3) == .valid)
        #expect(
            try key.publicKey.check(
                signature, for: message, algorithm: .sm2SM3, sm2ID: Array("ALICE123@YAHOO.COM".utf8)) == .invalid)
    }

    @Test func `an ECDSA signature with trailing bytes is invalid`() throws {
        let key = try PrivateKey.generate(.p256)
        let signature = try key.signature(for: [9])
        #expect(try key.publicKey.check(signature + [0], for: [9], algorithm: .ecdsaP256SHA256) == .invalid)
    }

    /// Signs with ota, verifies with `openssl dgst` / `pkeyutl`, and the other way round.
    @Test(arguments: signingTypes)
    func `signatures interoperate with the openssl command line both ways`(type: KeyType) throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let key = try PrivateKey.generate(type)
        try key.pem().write(toFile: "\(directory)/key.pem", atomically: true, encoding: .utf8)
        try key.publicKey.pem().write(toFile: "\(directory)/pub.pem", atomically: true, encoding: .utf8)
        let message = Data("payload to sign, twice".utf8)
        try message.write(to: URL(fileURLWithPath: "\(directory)/msg"))
        let algorithm = try SignatureAlgorithm.forKey(type)

        // ota signs, openssl verifies.
        try Data(key.signature(for: Array(message))).write(to: URL(fileURLWithPath: "\(directory)/ota.sig"))
        let verifyArguments: [String]
        switch type {
        case .ed25519:
            verifyArguments = [
                "pkeyutl", "-verify", "-pubin", "-inkey", "\(directory)/pub.pem", "-rawin", "-in", "\(directory)/msg",
                "-sigfile", "\(directory)/ota.sig",
            ]
        case .sm2:
            verifyArguments = [
                "dgst", "-sm3", "-verify", "\(directory)/pub.pem", "-sigopt", "distid:1234567812345678", "-signature",
                "\(directory)/ota.sig", "\(directory)/msg",
            ]
        default:
            verifyArguments = [
                "dgst", "-sha256", "-verify", "\(directory)/pub.pem", "-signature", "\(directory)/ota.sig",
                "\(directory)/msg",
            ]
        }
        #expect(try OpenSSLTool.status(verifyArguments).0 == 0)

        // openssl signs, ota verifies.
        let signArguments: [String]
        switch type {
        case .ed25519:
            signArguments = ["pkeyutl", "-sign", "-inkey", "\(directory)/key.pem", "-rawin", "-in", "\(directory)/msg"]
        case .sm2:
            signArguments = [
                "dgst", "-sm3", "-sign", "\(directory)/key.pem", "-sigopt", "distid:1234567812345678",
                "\(directory)/msg",
            ]
        default:
            signArguments = ["dgst", "-sha256", "-sign", "\(directory)/key.pem", "\(directory)/msg"]
        }
        let (status, signature, _) = try OpenSSLTool.status(signArguments)
        #expect(status == 0)
        #expect(try key.publicKey.check(Array(signature), for: Array(message), algorithm: algorithm) == .valid)
    }

    // MARK: Wycheproof

    struct ECDSAGroup: Decodable {
        struct Case: Decodable { let tcId: Int; let msg: String; let sig: String; let result: String }
        let publicKeyDer: String
        let tests: [Case]
    }

    @Test func `Wycheproof ECDSA P-256 SHA-256 (DER) vectors`() throws {
        let file = try Vectors.json("ecdsa_secp256r1_sha256_test.json", as: WycheproofFile<ECDSAGroup>.self)
        var checked = 0
        for group in file.testGroups {
            let key = try PublicKey(der: hex(group.publicKeyDer))
            for test in group.tests {
                let outcome = try key.check(hex(test.sig), for: hex(test.msg), algorithm: .ecdsaP256SHA256)
                switch test.result {
                case "valid": #expect(outcome == .valid, "tcId \(test.tcId)")
                case "invalid": #expect(outcome == .invalid, "tcId \(test.tcId)")
                default: break
                }
                checked += 1
            }
        }
        #expect(checked > 400)
    }

    struct EdDSAGroup: Decodable {
        struct Key: Decodable { let pk: String }
        struct Case: Decodable { let tcId: Int; let msg: String; let sig: String; let result: String }
        let publicKey: Key
        let tests: [Case]
    }

    @Test func `Wycheproof Ed25519 vectors`() throws {
        let file = try Vectors.json("ed25519_test.json", as: WycheproofFile<EdDSAGroup>.self)
        var checked = 0
        for group in file.testGroups {
            let key = try PublicKey.raw(hex(group.publicKey.pk), type: .ed25519)
            for test in group.tests {
                let outcome = try key.check(hex(test.sig), for: hex(test.msg), algorithm: .ed25519)
                if test.result == "valid" { #expect(outcome == .valid, "tcId \(test.tcId)") }
                if test.result == "invalid" { #expect(outcome == .invalid, "tcId \(test.tcId)") }
                checked += 1
            }
        }
        #expect(checked > 100)
    }
}
