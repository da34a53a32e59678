internal import COpenSSL
package import OTABase

/// Authenticated encryption algorithms of the two suites.
public enum AEADAlgorithm: String, Sendable, Codable, CaseIterable {
    /// AES-256-GCM, 96-bit nonce, 128-bit tag.
    case aes256GCM = "aes-256-gcm"
    /// SM4-CTR encrypt-then-MAC with HMAC-SM3 (OpenSSL 3.0 has no SM4-GCM); 96-bit nonce,
    /// 256-bit tag; the 32-byte key is split by HKDF-SM3 into an SM4 key and a MAC key.
    case sm4CTRHMACSM3 = "sm4-ctr-hmac-sm3"

    public var keyLength: Int { 32 }
    public var nonceLength: Int { 12 }
    public var tagLength: Int { self == .aes256GCM ? 16 : 32 }
}

/// An AEAD keyed once and used for many messages (each with its own nonce).
///
/// `seal` returns ciphertext followed by the tag; `open` checks the tag before returning any
/// plaintext and throws `crypto.authentication` on any mismatch.
package final class AEAD: @unchecked Sendable {
    // @unchecked: the key material is immutable after init; every call builds its own context.
    public let algorithm: AEADAlgorithm
    private var cipherKey: [UInt8]
    private var macKey: [UInt8]

    public init(_ algorithm: AEADAlgorithm, key: [UInt8]) throws(OTAError) {
        guard key.count == algorithm.keyLength else {
            throw OTAError(
                .cryptoKeyLength, "\(algorithm.rawValue) needs a \(algorithm.keyLength)-byte key, got \(key.count)")
        }
        self.algorithm = algorithm
        switch algorithm {
        case .aes256GCM:
            cipherKey = key
            macKey = []
        case .sm4CTRHMACSM3:
            cipherKey = try HKDF.derive(.sm3, secret: key, salt: [], info: Array("ota sm4-ctr key".utf8), length: 16)
            macKey = try HKDF.derive(.sm3, secret: key, salt: [], info: Array("ota hmac-sm3 key".utf8), length: 32)
        }
    }

    deinit {
        cipherKey.withUnsafeMutableBytes { COpenSSL_cleanse($0.baseAddress, $0.count) }
        macKey.withUnsafeMutableBytes { COpenSSL_cleanse($0.baseAddress, $0.count) }
    }

    /// Encrypts and authenticates `plaintext` with `associatedData`; returns ciphertext ‖ tag.
    public func seal(_ plaintext: some Collection<UInt8>, nonce: [UInt8], associatedData: [UInt8] = []) throws(OTAError)
        -> [UInt8]
    {
        try checkNonce(nonce)
        switch algorithm {
        case .aes256GCM:
            return try gcm(encrypt: true, Array(plaintext), nonce: nonce, associatedData: associatedData, tag: nil)
        case .sm4CTRHMACSM3:
            let ciphertext = try SymmetricStream.sm4CTR(key: cipherKey, iv: nonce + [0, 0, 0, 0], Array(plaintext))
            return ciphertext + (try sm4Tag(nonce: nonce, associatedData: associatedData, ciphertext: ciphertext))
        }
    }

    /// Checks the tag and decrypts; throws `crypto.authentication` if anything was altered.
    public func open(_ sealed: some Collection<UInt8>, nonce: [UInt8], associatedData: [UInt8] = []) throws(OTAError)
        -> [UInt8]
    {
        try checkNonce(nonce)
        let sealed = Array(sealed)
        guard sealed.count >= algorithm.tagLength else {
            throw OTAError(.cryptoAuthentication, "sealed data shorter than its tag")
        }
        let ciphertext = Array(sealed.dropLast(algorithm.tagLength))
        let tag = Array(sealed.suffix(algorithm.tagLength))
        switch algorithm {
        case .aes256GCM:
            return try gcm(encrypt: false, ciphertext, nonce: nonce, associatedData: associatedData, tag: tag)
        case .sm4CTRHMACSM3:
            let expected = try sm4Tag(nonce: nonce, associatedData: associatedData, ciphertext: ciphertext)
            guard ConstantTime.equals(expected, tag) else {
                throw OTAError(.cryptoAuthentication, "authentication tag does not match")
            }
            return try SymmetricStream.sm4CTR(key: cipherKey, iv: nonce + [0, 0, 0, 0], ciphertext)
        }
    }

    private func checkNonce(_ nonce: [UInt8]) throws(OTAError) {
        guard nonce.count == algorithm.nonceLength else {
            throw OTAError(.cryptoNonceLength, "\(algorithm.rawValue) needs a \(algorithm.nonceLength)-byte nonce")
        }
    }

    /// HMAC-SM3 over nonce ‖ AD ‖ ciphertext ‖ len(AD) ‖ len(ciphertext), lengths as 64-bit big-endian.
    private func sm4Tag(nonce: [UInt8], associatedData: [UInt8], ciphertext: [UInt8]) throws(OTAError) -> [UInt8] {
        try HMAC.mac(
            .sm3, key: macKey,
            [
                nonce, associatedData, ciphertext,
                BigEndian.bytes(UInt64(associatedData.count)), BigEndian.bytes(UInt64(ciphertext.count)),
            ])
    }

    private func gcm(encrypt: Bool, _ input: [UInt8], nonce: [UInt8], associatedData: [UInt8], tag: [UInt8]?)
        throws(OTAError) -> [UInt8]
    {
        OpenSSLErrorQueue.clear()
        guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            throw OpenSSLErrorQueue.error(.cryptoUnavailable, "AES-256-GCM unavailable", function: "EVP_CIPHER_fetch")
        }
        defer { EVP_CIPHER_free(cipher) }
        guard let context = EVP_CIPHER_CTX_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a cipher context", function: "EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }
        try ensure(EVP_CipherInit_ex2(context, cipher, cipherKey, nonce, encrypt ? 1 : 0, nil), "EVP_CipherInit_ex2")
        var length: Int32 = 0
        if !associatedData.isEmpty {
            try ensure(
                EVP_CipherUpdate(context, nil, &length, associatedData, Int32(associatedData.count)), "EVP_CipherUpdate"
            )
        }
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var total = 0
        if !input.isEmpty {
            try ensure(EVP_CipherUpdate(context, &output, &length, input, Int32(input.count)), "EVP_CipherUpdate")
            total = Int(length)
        }
        if var tag {
            try ensure(
                EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tag.count), &tag), "EVP_CIPHER_CTX_ctrl")
        }
        let finalRC = output.withUnsafeMutableBufferPointer { buffer in
            EVP_CipherFinal_ex(context, buffer.baseAddress! + total, &length)
        }
        guard finalRC == 1 else {
            OpenSSLErrorQueue.clear()
            if encrypt { throw OTAError(.cryptoInternal, "AES-GCM encryption failed") }
            throw OTAError(.cryptoAuthentication, "authentication tag does not match")
        }
        total += Int(length)
        output.removeLast(output.count - total)
        if encrypt {
            var tagOut = [UInt8](repeating: 0, count: 16)
            try ensure(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, &tagOut), "EVP_CIPHER_CTX_ctrl")
            output += tagOut
        }
        return output
    }
}

/// Unauthenticated stream transforms, used only inside authenticated constructions and tests.
enum SymmetricStream {
    /// SM4 in counter mode with a 16-byte initial counter block.
    static func sm4CTR(key: [UInt8], iv: [UInt8], _ input: [UInt8]) throws(OTAError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let cipher = EVP_CIPHER_fetch(nil, "SM4-CTR", nil) else {
            throw OpenSSLErrorQueue.error(.cryptoUnavailable, "SM4-CTR unavailable", function: "EVP_CIPHER_fetch")
        }
        defer { EVP_CIPHER_free(cipher) }
        guard let context = EVP_CIPHER_CTX_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a cipher context", function: "EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }
        try ensure(EVP_EncryptInit_ex2(context, cipher, key, iv, nil), "EVP_EncryptInit_ex2")
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var length: Int32 = 0
        var total = 0
        if !input.isEmpty {
            try ensure(EVP_EncryptUpdate(context, &output, &length, input, Int32(input.count)), "EVP_EncryptUpdate")
            total = Int(length)
        }
        let finalRC = output.withUnsafeMutableBufferPointer {
            EVP_EncryptFinal_ex(context, $0.baseAddress! + total, &length)
        }
        try ensure(finalRC, "EVP_EncryptFinal_ex")
        total += Int(length)
        return Array(output.prefix(total))
    }
}

/// Big-endian integer encoding.
package enum BigEndian {
    public static func bytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    public static func bytes(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
    }

    public static func uint64(_ bytes: some Collection<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
