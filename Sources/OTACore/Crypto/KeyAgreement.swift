internal import COpenSSL
public import OTABase

extension PrivateKey {
    /// ECDH / X25519 shared secret with `peer` (`EVP_PKEY_derive`, peer validated).
    public func sharedSecret(with peer: PublicKey) throws(OTAError) -> [UInt8] {
        guard type == peer.type, type == .p256 || type == .x25519 else {
            throw OTAError(
                .keyAgreementMismatch,
                "key agreement needs two P-256 or two X25519 keys (have \(type.rawValue) and \(peer.type.rawValue))")
        }
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a derive context", function: "EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try ensure(EVP_PKEY_derive_init(context), "EVP_PKEY_derive_init")
        try ensure(
            EVP_PKEY_derive_set_peer_ex(context, peer.key.pointer, 1), "EVP_PKEY_derive_set_peer_ex",
            code: .keyAgreementPeer,
            message: "the peer public key is not valid for key agreement")
        var length = 0
        try ensure(EVP_PKEY_derive(context, nil, &length), "EVP_PKEY_derive")
        var secret = [UInt8](repeating: 0, count: length)
        try ensure(
            EVP_PKEY_derive(context, &secret, &length), "EVP_PKEY_derive", code: .keyAgreementPeer,
            message: "key agreement failed (low-order or invalid peer key)")
        return Array(secret.prefix(length))
    }
}

extension PublicKey {
    /// SM2 public-key encryption (GB/T 32918.4; OpenSSL's DER C1‖C3‖C2 encoding).
    public func sm2Encrypt(_ plaintext: [UInt8]) throws(OTAError) -> [UInt8] {
        guard type == .sm2 else {
            throw OTAError(.keyUnsupported, "SM2 encryption needs an SM2 key, got \(type.rawValue)")
        }
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate an encrypt context", function: "EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try ensure(EVP_PKEY_encrypt_init(context), "EVP_PKEY_encrypt_init")
        var length = 0
        try ensure(EVP_PKEY_encrypt(context, nil, &length, plaintext, plaintext.count), "EVP_PKEY_encrypt")
        var output = [UInt8](repeating: 0, count: length)
        try ensure(EVP_PKEY_encrypt(context, &output, &length, plaintext, plaintext.count), "EVP_PKEY_encrypt")
        return Array(output.prefix(length))
    }
}

extension PrivateKey {
    /// SM2 decryption; throws `crypto.authentication` for altered ciphertext.
    public func sm2Decrypt(_ ciphertext: [UInt8]) throws(OTAError) -> [UInt8] {
        guard type == .sm2 else {
            throw OTAError(.keyUnsupported, "SM2 decryption needs an SM2 key, got \(type.rawValue)")
        }
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a decrypt context", function: "EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try ensure(EVP_PKEY_decrypt_init(context), "EVP_PKEY_decrypt_init")
        var length = 0
        guard EVP_PKEY_decrypt(context, nil, &length, ciphertext, ciphertext.count) == 1 else {
            throw OpenSSLErrorQueue.error(
                .cryptoAuthentication, "SM2 ciphertext is malformed", function: "EVP_PKEY_decrypt")
        }
        var output = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_decrypt(context, &output, &length, ciphertext, ciphertext.count) == 1 else {
            throw OpenSSLErrorQueue.error(
                .cryptoAuthentication, "SM2 ciphertext does not decrypt (altered or for another key)",
                function: "EVP_PKEY_decrypt")
        }
        return Array(output.prefix(length))
    }
}
