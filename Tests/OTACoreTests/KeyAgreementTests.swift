import Foundation
import OTACore
import Testing

@Suite("Key agreement and key wrap")
struct KeyAgreementTests {
    struct XDHGroup: Decodable {
        struct Case: Decodable { let tcId: Int; let `public`: String; let `private`: String; let shared: String; let result: String }
        let tests: [Case]
    }

    @Test func `Wycheproof X25519 vectors`() throws {
        let file = try Vectors.json("x25519_test.json", as: WycheproofFile<XDHGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                let secret = try? PrivateKey.raw(hex(test.private), type: .x25519).sharedSecret(with: PublicKey.raw(hex(test.public), type: .x25519))
                if test.result == "valid" { #expect(secret == hex(test.shared), "tcId \(test.tcId)") }
                if test.result == "invalid" { #expect(secret == nil || secret != hex(test.shared), "tcId \(test.tcId)") }
                // "acceptable" low-order cases: OpenSSL refuses an all-zero secret, which is what a key wrap wants.
                if test.result == "acceptable", let secret { #expect(secret == hex(test.shared), "tcId \(test.tcId)") }
                checked += 1
            }
        }
        #expect(checked > 400)
    }

    struct ECDHGroup: Decodable {
        struct Case: Decodable { let tcId: Int; let `public`: String; let `private`: String; let shared: String; let result: String }
        let tests: [Case]
    }

    @Test func `Wycheproof ECDH P-256 vectors`() throws {
        let file = try Vectors.json("ecdh_secp256r1_test.json", as: WycheproofFile<ECDHGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                let secret = try? PrivateKey.p256(scalar: hex(test.private)).sharedSecret(with: PublicKey(der: hex(test.public)))
                if test.result == "valid" { #expect(secret == hex(test.shared), "tcId \(test.tcId)") }
                if test.result == "invalid" { #expect(secret == nil, "tcId \(test.tcId)") }
                checked += 1
            }
        }
        #expect(checked > 500)
    }

    @Test(arguments: [KeyType.p256, .x25519, .sm2])
    func `a wrapped key unwraps only with the recipient key and context`(type: KeyType) throws {
        let recipient = try PrivateKey.generate(type)
        let stranger = try PrivateKey.generate(type)
        let contentKey = try SecureRandom.bytes(32)
        let context = Array("bundle 42".utf8)
        let wrapped = try WrappedKey.wrap(contentKey, to: try recipient.publicKey, context: context)
        #expect(try wrapped.unwrap(with: recipient, context: context) == contentKey)
        #expect(throws: OTAError(.cryptoAuthentication, "")) { try wrapped.unwrap(with: stranger, context: context) }
        if type != .sm2 {
            #expect(throws: OTAError(.cryptoAuthentication, "")) { try wrapped.unwrap(with: recipient, context: Array("bundle 43".utf8)) }
        }
        var altered = wrapped.ciphertext
        altered[altered.count - 3] ^= 0x10
        let tampered = WrappedKey(scheme: wrapped.scheme, ephemeralPublicKey: wrapped.ephemeralPublicKey, ciphertext: altered)
        #expect(throws: OTAError(.cryptoAuthentication, "")) { try tampered.unwrap(with: recipient, context: context) }
    }

    @Test func `a wrapped key for one key type refuses another`() throws {
        let wrapped = try WrappedKey.wrap(try SecureRandom.bytes(32), to: try PrivateKey.generate(.x25519).publicKey, context: [])
        #expect(throws: OTAError(.keywrapKeyMismatch, "")) { try wrapped.unwrap(with: try PrivateKey.generate(.p256), context: []) }
        #expect(throws: OTAError(.keyUnsupported, "")) { try WrappedKey.wrap([1], to: try PrivateKey.generate(.ed25519).publicKey, context: []) }
    }

    @Test func `a garbage ephemeral key is a clean error`() throws {
        let recipient = try PrivateKey.generate(.p256)
        let wrapped = try WrappedKey.wrap(try SecureRandom.bytes(32), to: try recipient.publicKey, context: [])
        let broken = WrappedKey(scheme: wrapped.scheme, ephemeralPublicKey: [0x30, 0x03, 0x02, 0x01, 0x00], ciphertext: wrapped.ciphertext)
        #expect(throws: OTAError(.keyMalformed, "")) { try broken.unwrap(with: recipient, context: []) }
    }
}
