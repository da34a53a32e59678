public import OTABase

/// A content key wrapped to one recipient's public key.
///
/// - P-256 / X25519 recipients: an ephemeral key of the same type, ECDH, HKDF-SHA256 (salt =
///   ephemeral SPKI ‖ recipient SPKI, info = `ota key wrap v1`), AES-256-GCM over the content key
///   with `context` as associated data.
/// - SM2 recipients: SM2 public-key encryption (GB/T 32918.4, whose C3 hash authenticates the
///   plaintext) of `SM3("ota key wrap v1" ‖ context) ‖ content key`; unwrapping checks the
///   first 32 bytes, so a wrap made for one bundle does not open in another.
///
/// Content keys are 32 bytes; anything else unwrapped is refused.
public struct WrappedKey: Sendable, Equatable {
    public enum Scheme: String, Sendable, Codable {
        case ecdhP256 = "ecdh-p256-hkdf-sha256-aes256gcm"
        case x25519 = "x25519-hkdf-sha256-aes256gcm"
        case sm2 = "sm2-encrypt"
    }

    public let scheme: Scheme
    /// The ephemeral public key (SPKI DER); empty for SM2.
    public let ephemeralPublicKey: [UInt8]
    public let ciphertext: [UInt8]

    public init(scheme: Scheme, ephemeralPublicKey: [UInt8], ciphertext: [UInt8]) {
        self.scheme = scheme
        self.ephemeralPublicKey = ephemeralPublicKey
        self.ciphertext = ciphertext
    }

    static let info = Array("ota key wrap v1".utf8)
    /// The length of every content key.
    public static let contentKeyLength = ContentKey.length

    /// Wraps `contentKey` to `recipient`; `context` binds the wrap to its bundle.
    public static func wrap(_ contentKey: ContentKey, to recipient: PublicKey, context: [UInt8]) throws(OTAError)
        -> WrappedKey
    {
        switch recipient.type {
        case .sm2:
            var plaintext = try Hasher.hash(.sm3, info + context).bytes
            contentKey.withUnsafeBytes { plaintext.append(contentsOf: $0) }
            defer { plaintext.cleanse() }
            return WrappedKey(scheme: .sm2, ephemeralPublicKey: [], ciphertext: try recipient.sm2Encrypt(plaintext))
        case .p256, .x25519:
            let ephemeral = try PrivateKey.generate(recipient.type)
            let ephemeralDER = try ephemeral.publicKey.der()
            var kek = try keyEncryptionKey(
                secret: try ephemeral.sharedSecret(with: recipient), ephemeralDER: ephemeralDER,
                recipientDER: try recipient.der())
            defer { kek.cleanse() }
            let sealer = try AEAD(.aes256GCM, key: kek)
            let sealed = try contentKey.withUnsafeBytes { (raw) throws(OTAError) in
                try sealer.seal(raw, nonce: [UInt8](repeating: 0, count: 12), associatedData: context)
            }
            return WrappedKey(
                scheme: recipient.type == .p256 ? .ecdhP256 : .x25519, ephemeralPublicKey: ephemeralDER,
                ciphertext: sealed)
        case .ed25519:
            throw OTAError(.keyUnsupported, "an Ed25519 key cannot receive a wrapped key (use X25519, P-256 or SM2)")
        }
    }

    /// Unwraps with the recipient's private key; `crypto.authentication` if it was not for this
    /// key or was altered.
    public func unwrap(with privateKey: PrivateKey, context: [UInt8]) throws(OTAError) -> ContentKey {
        var bytes = try unwrapAny(with: privateKey, context: context)
        defer { bytes.cleanse() }
        guard bytes.count == Self.contentKeyLength else {
            throw OTAError(
                .keywrapMalformed, "the unwrapped content key is \(bytes.count) bytes, not \(Self.contentKeyLength)")
        }
        return try bytes.withBytes { (raw) throws(OTAError) in try ContentKey(copying: raw) }
    }

    private func unwrapAny(with privateKey: PrivateKey, context: [UInt8]) throws(OTAError) -> [UInt8] {
        switch scheme {
        case .sm2:
            guard privateKey.type == .sm2 else {
                throw OTAError(.keywrapKeyMismatch, "an SM2 wrapped key needs an SM2 private key")
            }
            guard ephemeralPublicKey.isEmpty else {
                throw OTAError(.keywrapMalformed, "an SM2 wrapped key has no ephemeral key")
            }
            var plaintext = try privateKey.sm2Decrypt(ciphertext)
            defer { plaintext.cleanse() }
            let binding = try Hasher.hash(.sm3, Self.info + context).bytes
            guard plaintext.count == binding.count + Self.contentKeyLength,
                ConstantTime.equals(Array(plaintext.prefix(binding.count)), binding)
            else {
                throw OTAError(.cryptoAuthentication, "the SM2 wrapped key was made for another bundle or is malformed")
            }
            return Array(plaintext.dropFirst(binding.count))
        case .ecdhP256, .x25519:
            let expected: KeyType = scheme == .ecdhP256 ? .p256 : .x25519
            guard privateKey.type == expected else {
                throw OTAError(
                    .keywrapKeyMismatch, "a \(scheme.rawValue) wrapped key needs a \(expected.rawValue) private key")
            }
            let ephemeral: PublicKey
            do throws(OTAError) {
                ephemeral = try PublicKey(der: ephemeralPublicKey, source: "ephemeral key")
            } catch {
                throw OTAError(.keywrapMalformed, "the ephemeral key is not a public key: \(error.message)")
            }
            guard ephemeral.type == expected else {
                throw OTAError(.keywrapMalformed, "ephemeral key type does not match the scheme")
            }
            var kek = try Self.keyEncryptionKey(
                secret: try privateKey.sharedSecret(with: ephemeral), ephemeralDER: ephemeralPublicKey,
                recipientDER: try privateKey.publicKey.der())
            defer { kek.cleanse() }
            return try AEAD(.aes256GCM, key: kek).open(
                ciphertext, nonce: [UInt8](repeating: 0, count: 12), associatedData: context)
        }
    }

    private static func keyEncryptionKey(secret: [UInt8], ephemeralDER: [UInt8], recipientDER: [UInt8]) throws(OTAError)
        -> [UInt8]
    {
        try HKDF.derive(.sha256, secret: secret, salt: ephemeralDER + recipientDER, info: info, length: 32)
    }
}
