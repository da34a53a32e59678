internal import Foundation
public import OTABase

/// The wrapped content keys of an encrypted bundle, one per recipient. Outside the signature, so
/// recipients can be added without re-signing; a tampered entry only fails decryption.
public struct Recipients: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        /// SHA-256 of the recipient's SubjectPublicKeyInfo (hex).
        public var keyId: String
        public var subject: String?
        public var scheme: WrappedKey.Scheme
        public var ephemeralPublicKey: String
        public var wrappedKey: String

        public init(keyId: String, subject: String?, wrapped: WrappedKey) {
            self.keyId = keyId
            self.subject = subject
            self.scheme = wrapped.scheme
            self.ephemeralPublicKey = Data(wrapped.ephemeralPublicKey).base64EncodedString()
            self.wrappedKey = Data(wrapped.ciphertext).base64EncodedString()
        }

        public func wrapped() throws(OTAError) -> WrappedKey {
            guard let ephemeral = Data(base64Encoded: ephemeralPublicKey), let key = Data(base64Encoded: wrappedKey)
            else {
                throw OTAError(.recipientsMalformed, "recipient \(keyId): keys are not base64")
            }
            return WrappedKey(scheme: scheme, ephemeralPublicKey: Array(ephemeral), ciphertext: Array(key))
        }
    }

    public var recipients: [Entry]

    public init(recipients: [Entry] = []) { self.recipients = recipients }

    public func encoded() throws(OTAError) -> [UInt8] { try CanonicalJSON.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws(OTAError) -> Recipients {
        let decoded = try CanonicalJSON.decode(Recipients.self, from: bytes, as: .recipientsMalformed)
        guard decoded.recipients.count <= BundleLayout.maximumRecipients else {
            throw OTAError(.recipientsMalformed, "more than \(BundleLayout.maximumRecipients) recipients")
        }
        return decoded
    }

    /// The context a content key is wrapped under: the suite hash of the manifest bytes.
    public static func wrapContext(manifestDigest: Digest) -> [UInt8] {
        Array("ota recipients v1:".utf8) + manifestDigest.bytes
    }

    /// Unwraps the content key with whichever of `keys` is a recipient.
    public func contentKey(using keys: [PrivateKey], manifestDigest: Digest) throws(OTAError) -> ContentKey {
        var lastError: OTAError? = nil
        for key in keys {
            let keyID = try key.publicKey.keyID().hex
            for entry in recipients where entry.keyId == keyID {
                do throws(OTAError) {
                    return try entry.wrapped().unwrap(
                        with: key, context: Self.wrapContext(manifestDigest: manifestDigest))
                } catch {
                    lastError = error
                }
            }
        }
        if let lastError { throw lastError }
        throw OTAError(.decryptNotARecipient, "none of the given keys is a recipient of this bundle")
    }
}

/// Keys and associated data of one payload's chunked AEAD.
package enum PayloadCipher {
    /// Per-payload key: HKDF over the content key with the image name.
    public static func aead(suite: Suite, contentKey: ContentKey, imageName: String) throws(OTAError) -> AEAD {
        var key = try contentKey.withUnsafeBytes { (raw) throws(OTAError) in
            try HKDF.derive(
                suite.hash, secret: raw, salt: [], info: Array("ota payload key v1:\(imageName)".utf8), length: 32)
        }
        defer { key.cleanse() }
        return try AEAD(suite.cipher, key: key)
    }

    public static func associatedData(bundleID: String, imageName: String) -> [UInt8] {
        Array("ota payload v1".utf8) + [0] + Array(bundleID.utf8) + [0] + Array(imageName.utf8)
    }
}
