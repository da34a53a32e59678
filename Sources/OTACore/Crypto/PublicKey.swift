internal import COpenSSL
internal import Foundation
public import OTABase

/// A public key: a signer's (from its certificate) or a recipient's.
public struct PublicKey: Sendable, Equatable {
    let key: PKey

    init(key: PKey) { self.key = key }

    public var type: KeyType { key.type }

    /// Decodes a DER SubjectPublicKeyInfo.
    public init(der: [UInt8], source: String = "public key") throws(OTAError) {
        OpenSSLErrorQueue.clear()
        let decoded = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY_ex(nil, &pointer, buffer.count, nil, nil)
        }
        guard let decoded else {
            throw OpenSSLErrorQueue.error(
                .keyMalformed, "\(source): not a DER SubjectPublicKeyInfo", function: "d2i_PUBKEY_ex")
        }
        key = try PKey(taking: decoded, source: source)
    }

    /// Decodes a PEM `PUBLIC KEY` block.
    public init(pem: String, source: String = "public key") throws(OTAError) {
        OpenSSLErrorQueue.clear()
        let bytes = Array(pem.utf8)
        var decoded: OpaquePointer? = nil
        guard let decoder = OSSL_DECODER_CTX_new_for_pkey(&decoded, nil, nil, nil, COpenSSL_SELECT_PUBLIC, nil, nil)
        else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot set up a key decoder", function: "OSSL_DECODER_CTX_new_for_pkey")
        }
        defer { OSSL_DECODER_CTX_free(decoder) }
        let ok = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            var data: UnsafePointer<UInt8>? = buffer.baseAddress
            var length = buffer.count
            return OSSL_DECODER_from_data(decoder, &data, &length)
        }
        guard ok == 1, let decoded else {
            throw OpenSSLErrorQueue.error(
                .keyMalformed, "\(source): not a PEM public key", function: "OSSL_DECODER_from_data")
        }
        key = try PKey(taking: decoded, source: source)
    }

    /// Builds an X25519 or Ed25519 public key from its 32 raw bytes.
    public static func raw(_ bytes: [UInt8], type: KeyType) throws(OTAError) -> PublicKey {
        guard type == .x25519 || type == .ed25519 else {
            throw OTAError(.keyUnsupported, "raw keys are X25519 or Ed25519 only")
        }
        OpenSSLErrorQueue.clear()
        guard let key = EVP_PKEY_new_raw_public_key_ex(nil, type.openSSLName, nil, bytes, bytes.count) else {
            throw OpenSSLErrorQueue.error(
                .keyMalformed, "raw \(type.rawValue) public key rejected", function: "EVP_PKEY_new_raw_public_key_ex")
        }
        return PublicKey(key: try PKey(taking: key, source: "raw key"))
    }

    /// DER SubjectPublicKeyInfo.
    public func der() throws(OTAError) -> [UInt8] { try key.publicKeyDER() }

    /// PEM `PUBLIC KEY`.
    public func pem() throws(OTAError) -> String {
        OpenSSLErrorQueue.clear()
        return try MemoryBIO.withNew { bio throws(OTAError) in
            try ensure(PEM_write_bio_PUBKEY_ex(bio, key.pointer, nil, nil), "PEM_write_bio_PUBKEY_ex")
            return MemoryBIO.string(bio)
        }
    }

    /// Stable identifier: the suite hash of the SubjectPublicKeyInfo DER. Two signatures with the
    /// same key id count as one signer.
    public func keyID(_ algorithm: HashAlgorithm = .sha256) throws(OTAError) -> Digest {
        try Hasher.hash(algorithm, try der())
    }

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        EVP_PKEY_eq(lhs.key.pointer, rhs.key.pointer) == 1
    }
}
