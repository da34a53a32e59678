import Foundation
import OTATestSupport
import Testing

@testable import OTACore

@Suite("Authenticated encryption")
struct AEADTests {
    @Test(arguments: AEADAlgorithm.allCases)
    func `seal then open returns the plaintext`(algorithm: AEADAlgorithm) throws {
        let aead = try AEAD(algorithm, key: try SecureRandom.bytes(32))
        let nonce = try SecureRandom.bytes(12)
        for size in [0, 1, 15, 16, 17, 4096, 100_003] {
            let plaintext = try SecureRandom.bytes(size)
            let sealed = try aead.seal(plaintext, nonce: nonce, associatedData: [1, 2, 3])
            #expect(sealed.count == size + algorithm.tagLength)
            #expect(try aead.open(sealed, nonce: nonce, associatedData: [1, 2, 3]) == plaintext)
        }
    }

    @Test(arguments: AEADAlgorithm.allCases)
    func `any altered byte, nonce or associated data fails authentication`(algorithm: AEADAlgorithm) throws {
        let aead = try AEAD(algorithm, key: try SecureRandom.bytes(32))
        let nonce = try SecureRandom.bytes(12)
        let sealed = try aead.seal(Array("attack at dawn, 0x1000".utf8), nonce: nonce, associatedData: [7])
        for index in sealed.indices {
            var altered = sealed
            altered[index] ^= 0x01
            #expect(throws: OTAError(.cryptoAuthentication, "")) {
                try aead.open(altered, nonce: nonce, associatedData: [7])
            }
        }
        var otherNonce = nonce
        otherNonce[0] ^= 1
        #expect(throws: OTAError(.cryptoAuthentication, "")) {
            try aead.open(sealed, nonce: otherNonce, associatedData: [7])
        }
        #expect(throws: OTAError(.cryptoAuthentication, "")) {
            try aead.open(sealed, nonce: nonce, associatedData: [8])
        }
        #expect(throws: OTAError(.cryptoAuthentication, "")) {
            try aead.open(sealed.prefix(5), nonce: nonce, associatedData: [7])
        }
    }

    @Test func `wrong key and nonce lengths are refused`() throws {
        #expect(throws: OTAError(.cryptoKeyLength, "")) { try AEAD(.aes256GCM, key: [1, 2, 3]) }
        let aead = try AEAD(.sm4CTRHMACSM3, key: try SecureRandom.bytes(32))
        #expect(throws: OTAError(.cryptoNonceLength, "")) { try aead.seal([1], nonce: [1, 2]) }
    }

    /// GB/T 32907-2016 Appendix A: with key = IV = the vector, the first SM4-CTR keystream block
    /// is E(K, IV), so encrypting 16 zero bytes yields the published ciphertext.
    @Test func `SM4 matches the GB/T 32907 vector`() throws {
        let vector = hex("0123456789abcdeffedcba9876543210")
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        try Data(repeating: 0, count: 16).write(to: URL(fileURLWithPath: "\(directory)/zero"))
        let (status, output, _) = try OpenSSLTool.status([
            "enc", "-sm4-ctr", "-K", Hex.encode(vector), "-iv", Hex.encode(vector), "-in", "\(directory)/zero",
        ])
        #expect(status == 0)
        #expect(Hex.encode(output) == "681edf34d206965e86b3e94f536e4246")
        #expect(
            Hex.encode(try SymmetricStream.sm4CTR(key: vector, iv: vector, [UInt8](repeating: 0, count: 16)))
                == "681edf34d206965e86b3e94f536e4246")
    }

    struct AEADGroup: Decodable {
        struct Case: Decodable {
            let tcId: Int; let key: String; let iv: String; let aad: String; let msg: String; let ct: String;
            let tag: String; let result: String
        }
        let ivSize: Int
        let keySize: Int
        let tagSize: Int
        let tests: [Case]
    }

    @Test func `Wycheproof AES-256-GCM vectors (96-bit nonce, 128-bit tag)`() throws {
        let file = try Vectors.json("aes_gcm_test.json", as: WycheproofFile<AEADGroup>.self)
        var checked = 0
        for group in file.testGroups where group.keySize == 256 && group.ivSize == 96 && group.tagSize == 128 {
            for test in group.tests {
                let aead = try AEAD(.aes256GCM, key: hex(test.key))
                let sealed = hex(test.ct) + hex(test.tag)
                let opened = try? aead.open(sealed, nonce: hex(test.iv), associatedData: hex(test.aad))
                if test.result == "valid" {
                    #expect(opened == hex(test.msg), "tcId \(test.tcId)")
                    #expect(
                        try aead.seal(hex(test.msg), nonce: hex(test.iv), associatedData: hex(test.aad)) == sealed,
                        "tcId \(test.tcId)")
                } else if test.result == "invalid" {
                    #expect(opened == nil, "tcId \(test.tcId)")
                }
                checked += 1
            }
        }
        #expect(checked > 30)
    }

    @Test func `HKDF-SHA256 matches RFC 5869`() throws {
        var cases: [[String: String]] = []
        var current: [String: String] = [:]
        for line in try Vectors.text("rfc-5869-HKDF-SHA256.txt").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if line.hasPrefix("COUNT") {
                if !current.isEmpty { cases.append(current) }
                current = [:]
            } else if parts.count == 2 {
                current[parts[0]] = parts[1]
            }
        }
        if !current.isEmpty { cases.append(current) }
        #expect(cases.count >= 3)
        for vector in cases {
            let okm = try HKDF.derive(
                .sha256, secret: hex(vector["IKM"] ?? ""), salt: hex(vector["salt"] ?? ""),
                info: hex(vector["info"] ?? ""),
                length: Int(vector["L"] ?? "0") ?? 0)
            #expect(Hex.encode(okm) == vector["OKM"])
        }
    }
}
