import Foundation
import OTACore
import Testing

@Suite("Key agreement and key wrap")
struct KeyAgreementTests {
    struct XDHGroup: Decodable {
        struct Case: Decodable {
            let tcId: Int; let `public`: String; let `private`: String; let shared: String; let result: String
        }
        let tests: [Case]
    }

    @Test func `Wycheproof X25519 vectors`() throws {
        let file = try Vectors.json("x25519_test.json", as: WycheproofFile<XDHGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                let secret = try? PrivateKey.raw(hex(test.private), type: .x25519).sharedSecret(
                    with: PublicKey.raw(hex(test.public), type: .x25519))
                if test.result == "valid" { #expect(secret == hex(test.shared), "tcId \(test.tcId)") }
                if test.result == "invalid" {
                    #expect(secret == nil || secret != hex(test.shared), "tcId \(test.tcId)")
                }
                // "acceptable" low-order cases: OpenSSL refuses an all-zero secret, which is what a key wrap wants.
                if test.result == "acceptable", let secret { #expect(secret == hex(test.shared), "tcId \(test.tcId)") }
                checked += 1
            }
        }
        #expect(checked > 400)
    }

    struct ECDHGroup: Decodable {
        struct Case: Decodable {
            let tcId: Int; let `public`: String; let `private`: String; let shared: String; let result: String
        }
        let tests: [Case]
    }

    @Test func `Wycheproof ECDH P-256 vectors`() throws {
        let file = try Vectors.json("ecdh_secp256r1_test.json", as: WycheproofFile<ECDHGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                let secret = try? PrivateKey.p256(scalar: hex(test.private)).sharedSecret(
                    with: PublicKey(der: hex(test.public)))
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
        let contentKey = try ContentKey.random()
        let context = Array("bundle 42".utf8)
        let wrapped = try WrappedKey.wrap(contentKey, to: try recipient.publicKey, context: context)
        #expect(try wrapped.unwrap(with: recipient, context: context).constantTimeEquals(contentKey))
        #expect(throws: OTAError(.cryptoAuthentication, "")) { try wrapped.unwrap(with: stranger, context: context) }
        // The context binds the wrap to its bundle in every scheme, SM2 included.
        #expect(throws: OTAError(.cryptoAuthentication, "")) {
            try wrapped.unwrap(with: recipient, context: Array("bundle 43".utf8))
        }
        var altered = wrapped.ciphertext
        altered[altered.count - 3] ^= 0x10
        let tampered = WrappedKey(
            scheme: wrapped.scheme, ephemeralPublicKey: wrapped.ephemeralPublicKey, ciphertext: altered)
        #expect(throws: OTAError(.cryptoAuthentication, "")) { try tampered.unwrap(with: recipient, context: context) }
    }

    @Test func `a wrapped key for one key type refuses another`() throws {
        let wrapped = try WrappedKey.wrap(
            try ContentKey.random(), to: try PrivateKey.generate(.x25519).publicKey, context: [])
        #expect(throws: OTAError(.keywrapKeyMismatch, "")) {
            try wrapped.unwrap(with: try PrivateKey.generate(.p256), context: [])
        }
        #expect(throws: OTAError(.keyUnsupported, "")) {
            try WrappedKey.wrap(try ContentKey.random(), to: try PrivateKey.generate(.ed25519).publicKey, context: [])
        }
        #expect(throws: OTAError(.cryptoKeyLength, "")) {
            try [UInt8]([1]).withUnsafeBytes { raw in try ContentKey(copying: raw) }
        }
    }

    @Test func `a garbage ephemeral key is a clean error`() throws {
        let recipient = try PrivateKey.generate(.p256)
        let wrapped = try WrappedKey.wrap(try ContentKey.random(), to: try recipient.publicKey, context: [])
        let broken = WrappedKey(
            scheme: wrapped.scheme, ephemeralPublicKey: [0x30, 0x03, 0x02, 0x01, 0x00], ciphertext: wrapped.ciphertext)
        #expect(throws: OTAError(.keywrapMalformed, "")) { try broken.unwrap(with: recipient, context: []) }
    }

    @Test func `an SM2 wrap of a bare or short key is refused (length and binding checked)`() throws {
        let recipient = try PrivateKey.generate(.sm2)
        // What a wrap looked like before binding: the content key alone.
        let bare = WrappedKey(
            scheme: .sm2, ephemeralPublicKey: [],
            ciphertext: try recipient.publicKey.sm2Encrypt(try SecureRandom.bytes(32)))
        #expect(throws: OTAError(.cryptoAuthentication, "")) { try bare.unwrap(with: recipient, context: []) }
        let binding = try Hasher.hash(.sm3, Array("ota key wrap v1".utf8)).bytes
        let short = WrappedKey(
            scheme: .sm2, ephemeralPublicKey: [], ciphertext: try recipient.publicKey.sm2Encrypt(binding + [1, 2, 3]))
        #expect(throws: OTAError(.cryptoAuthentication, "")) { try short.unwrap(with: recipient, context: []) }
    }

    @Test func `an ECDH wrap of a short key is refused`() throws {
        // A recipient entry is unsigned: anyone can wrap anything to the vehicle's public key.
        let recipient = try PrivateKey.generate(.p256)
        let ephemeral = try PrivateKey.generate(.p256)
        let ephemeralDER = try ephemeral.publicKey.der()
        let kek = try HKDF.derive(
            .sha256, secret: try ephemeral.sharedSecret(with: try recipient.publicKey),
            salt: ephemeralDER + (try recipient.publicKey.der()),
            info: Array("ota key wrap v1".utf8), length: 32)
        let sealed = try AEAD(.aes256GCM, key: kek).seal(
            [7, 7, 7], nonce: [UInt8](repeating: 0, count: 12), associatedData: [])
        let short = WrappedKey(scheme: .ecdhP256, ephemeralPublicKey: ephemeralDER, ciphertext: sealed)
        #expect(throws: OTAError(.keywrapMalformed, "")) { try short.unwrap(with: recipient, context: []) }
    }
}
