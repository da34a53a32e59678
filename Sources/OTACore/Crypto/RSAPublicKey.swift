internal import COpenSSL
package import OTABase

/// An RSA public key, for verifying only: `ota` never signs with RSA, but TUF repositories made
/// by other tools often do (`rsassa-pss-sha256`, `rsa-pkcs1v15-sha256`), and the vehicle's TUF
/// client must read them. Keys below 2048 bits are refused.
package struct RSAPublicKey: Sendable {
    /// RSA signature paddings, both over SHA-256.
    public enum Padding: Sendable {
        /// RSASSA-PSS, MGF1 with SHA-256, any salt length (OpenSSL's auto detection).
        case pss
        /// RSASSA-PKCS1-v1_5.
        case pkcs1v15
    }

    /// The single owner of the `EVP_PKEY`. `@unchecked Sendable`: never mutated after decoding,
    /// and every verification uses its own context.
    final class Owner: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { EVP_PKEY_free(pointer) }
    }

    let owner: Owner

    /// Modulus size in bits.
    public let bits: Int

    /// Decodes a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding an RSA key.
    public init(pem: String, source: String = "RSA public key") throws(OTAError) {
        OpenSSLErrorQueue.clear()
        let bytes = Array(pem.utf8)
        var decoded: OpaquePointer? = nil
        guard let decoder = OSSL_DECODER_CTX_new_for_pkey(&decoded, nil, nil, "RSA", COpenSSL_SELECT_PUBLIC, nil, nil)
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
                .keyMalformed, "\(source): not a PEM RSA public key", function: "OSSL_DECODER_from_data")
        }
        let owner = Owner(decoded)
        guard EVP_PKEY_is_a(decoded, "RSA") == 1 else { throw OTAError(.keyUnsupported, "\(source): not an RSA key") }
        let bits = Int(EVP_PKEY_get_bits(decoded))
        guard bits >= 2048 else {
            throw OTAError(.keyUnsupported, "\(source): a \(bits)-bit RSA key; at least 2048 bits are required")
        }
        self.owner = owner
        self.bits = bits
    }

    /// The SubjectPublicKeyInfo in DER: one encoding per key, whatever PEM text it came in
    /// (so two listings of one key compare equal).
    public func der() throws(OTAError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(owner.pointer, &output)
        guard length > 0, let output else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot encode the RSA public key", function: "i2d_PUBKEY")
        }
        defer { COpenSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    /// Checks `signature` over `message` (SHA-256 with `padding`); `.invalid` when it does not
    /// verify, throws only when the check could not run.
    public func check(_ signature: [UInt8], for message: [UInt8], padding: Padding) throws(OTAError) -> SignatureCheck {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a verification context", function: "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer? = nil
        try ensure(
            EVP_DigestVerifyInit_ex(context, &keyContext, "SHA2-256", nil, nil, owner.pointer, nil),
            "EVP_DigestVerifyInit_ex")
        guard let keyContext else { throw OTAError(.cryptoInternal, "no key context for RSA verification") }
        switch padding {
        case .pss:
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, COpenSSL_RSA_PKCS1_PSS_PADDING) > 0,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, COpenSSL_RSA_PSS_SALTLEN_AUTO) > 0
            else {
                throw OpenSSLErrorQueue.error(
                    .cryptoInternal, "cannot select RSA-PSS", function: "EVP_PKEY_CTX_set_rsa_padding")
            }
        case .pkcs1v15:
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, COpenSSL_RSA_PKCS1_PADDING) > 0 else {
                throw OpenSSLErrorQueue.error(
                    .cryptoInternal, "cannot select PKCS#1 v1.5", function: "EVP_PKEY_CTX_set_rsa_padding")
            }
        }
        let rc = EVP_DigestVerify(context, signature, signature.count, message, message.count)
        OpenSSLErrorQueue.clear()
        return rc == 1 ? .valid : .invalid
    }
}
