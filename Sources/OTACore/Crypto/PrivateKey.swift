internal import COpenSSL
internal import Foundation
public import OTABase

/// A private key (P-256, Ed25519, X25519 or SM2), loaded from PEM or DER, optionally
/// passphrase-protected, or freshly generated.
public struct PrivateKey: Sendable {
    let key: PKey

    init(key: PKey) { self.key = key }

    public var type: KeyType { key.type }

    /// Generates a new key with OpenSSL's CSPRNG.
    public static func generate(_ type: KeyType) throws(OTAError) -> PrivateKey {
        PrivateKey(key: try PKey.generate(type))
    }

    /// Decodes a PEM or DER private key (PKCS#8, SEC1 or traditional; encrypted PKCS#8 with
    /// `passphrase`). `source` names the file in errors.
    public init(encoded bytes: [UInt8], passphrase: [UInt8]? = nil, source: String = "private key") throws(OTAError) {
        let isEncrypted = String(decoding: bytes.prefix(200), as: UTF8.self).contains("ENCRYPTED")
        if isEncrypted && passphrase == nil {
            throw OTAError(
                .keyPassphraseRequired,
                "\(source): the private key is encrypted; give its passphrase from a file or an environment variable")
        }
        OpenSSLErrorQueue.clear()
        var decoded: OpaquePointer? = nil
        guard let decoder = OSSL_DECODER_CTX_new_for_pkey(&decoded, nil, nil, nil, COpenSSL_SELECT_KEYPAIR, nil, nil)
        else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "\(source): cannot set up a key decoder", function: "OSSL_DECODER_CTX_new_for_pkey")
        }
        defer { OSSL_DECODER_CTX_free(decoder) }
        if let passphrase {
            _ = passphrase.withUnsafeBufferPointer {
                OSSL_DECODER_CTX_set_passphrase(decoder, $0.baseAddress, $0.count)
            }
        } else {
            _ = COpenSSL_decoder_refuse_passphrase(decoder)
        }
        let ok = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            var data: UnsafePointer<UInt8>? = buffer.baseAddress
            var length = buffer.count
            return OSSL_DECODER_from_data(decoder, &data, &length)
        }
        guard ok == 1, let decoded else {
            if isEncrypted {
                throw OpenSSLErrorQueue.error(
                    .keyPassphrase, "\(source): wrong passphrase or damaged encrypted key",
                    function: "OSSL_DECODER_from_data")
            }
            throw OpenSSLErrorQueue.error(
                .keyMalformed, "\(source): not a PEM or DER private key", function: "OSSL_DECODER_from_data")
        }
        self.key = try PKey(taking: decoded, source: source)
    }

    /// Loads a signing key by reference: a key file path (PEM or DER), the passphrase from
    /// `passphrase` when the file is encrypted; or a PKCS#11 URI (`pkcs11:token=...;object=...`,
    /// RFC 7512), the token PIN from the URI's `pin-value` or `pin-source`, else from `passphrase`.
    public init(reference: String, passphrase: PassphraseSource? = nil) throws(OTAError) {
        if PKCS11URI.isPKCS11(reference) {
            try self.init(token: try PKCS11URI(reference), pin: passphrase)
        } else {
            try self.init(contentsOf: reference, passphrase: passphrase)
        }
    }

    /// A key that stays in a PKCS#11 token; every signature is made by the token.
    public init(token uri: PKCS11URI, pin: PassphraseSource? = nil) throws(OTAError) {
        var secret: [UInt8]
        if let value = uri.pinValue {
            secret = value
        } else if let file = uri.pinSource {
            secret = try PassphraseSource.file(file).read()
        } else if let pin {
            secret = try pin.read()
        } else {
            throw OTAError(
                .keyPKCS11Pin,
                "\(uri.description): no token PIN; give pin-source=FILE in the URI, or --passphrase-file/--passphrase-env"
            )
        }
        defer { _ = secret.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        self.key = try PKCS11Engine.loadPrivateKey(uri, pin: secret)
        isTokenKey = true
    }

    /// Whether every signature is made by a PKCS#11 token.
    public private(set) var isTokenKey = false

    /// Loads a private key file; the passphrase, if any, comes from `passphrase`.
    public init(contentsOf path: String, passphrase: PassphraseSource? = nil) throws(OTAError) {
        let bytes = try FileSystem.read(path, limit: 1 << 20)
        try self.init(encoded: bytes, passphrase: try passphrase?.read(), source: path)
    }

    /// Builds a P-256 key from its 32-byte big-endian scalar (used by test vectors).
    public static func p256(scalar: [UInt8]) throws(OTAError) -> PrivateKey {
        var trimmed = Array(scalar.drop { $0 == 0 })
        while trimmed.count < 32 { trimmed.insert(0, at: 0) }
        guard trimmed.count == 32 else { throw OTAError(.keyMalformed, "P-256 scalar longer than 32 bytes") }
        OpenSSLErrorQueue.clear()
        guard let number = BN_bin2bn(trimmed, Int32(trimmed.count), nil) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot read scalar", function: "BN_bin2bn")
        }
        defer { BN_clear_free(number) }
        guard let builder = OSSL_PARAM_BLD_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "OSSL_PARAM_BLD_new failed", function: "OSSL_PARAM_BLD_new")
        }
        defer { OSSL_PARAM_BLD_free(builder) }
        try ensure(COpenSSL_bld_push_p256_private(builder, number), "OSSL_PARAM_BLD_push")
        guard let params = OSSL_PARAM_BLD_to_param(builder) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "OSSL_PARAM_BLD_to_param failed", function: "OSSL_PARAM_BLD_to_param")
        }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "EC unavailable", function: "EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try ensure(EVP_PKEY_fromdata_init(context), "EVP_PKEY_fromdata_init")
        var key: OpaquePointer? = nil
        try ensure(
            EVP_PKEY_fromdata(context, &key, COpenSSL_SELECT_KEYPAIR, params), "EVP_PKEY_fromdata", code: .keyMalformed)
        guard let key else { throw OTAError(.keyMalformed, "P-256 scalar rejected") }
        return PrivateKey(key: try PKey(taking: key, source: "P-256 scalar"))
    }

    /// Builds an X25519 or Ed25519 key from its 32 raw bytes.
    public static func raw(_ bytes: [UInt8], type: KeyType) throws(OTAError) -> PrivateKey {
        guard type == .x25519 || type == .ed25519 else {
            throw OTAError(.keyUnsupported, "raw keys are X25519 or Ed25519 only")
        }
        OpenSSLErrorQueue.clear()
        guard let key = EVP_PKEY_new_raw_private_key_ex(nil, type.openSSLName, nil, bytes, bytes.count) else {
            throw OpenSSLErrorQueue.error(
                .keyMalformed, "raw \(type.rawValue) private key rejected", function: "EVP_PKEY_new_raw_private_key_ex")
        }
        return PrivateKey(key: try PKey(taking: key, source: "raw key"))
    }

    /// The matching public key.
    public var publicKey: PublicKey {
        get throws(OTAError) { try PublicKey(der: try key.publicKeyDER(), source: "public half") }
    }

    /// PKCS#8 PEM; encrypted with AES-256-CBC under `passphrase` when one is given.
    public func pem(passphrase: [UInt8]? = nil) throws(OTAError) -> String {
        guard !isTokenKey else { throw OTAError(.keyPKCS11, "a key in a PKCS#11 token cannot be exported") }
        OpenSSLErrorQueue.clear()
        return try MemoryBIO.withNew { bio throws(OTAError) in
            if let passphrase {
                guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-CBC", nil) else {
                    throw OpenSSLErrorQueue.error(
                        .cryptoUnavailable, "AES-256-CBC unavailable", function: "EVP_CIPHER_fetch")
                }
                defer { EVP_CIPHER_free(cipher) }
                let rc = passphrase.withUnsafeBufferPointer { pass in
                    PEM_write_bio_PKCS8PrivateKey(
                        bio, key.pointer, cipher,
                        pass.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                        Int32(pass.count), nil, nil)
                }
                try ensure(rc, "PEM_write_bio_PKCS8PrivateKey")
            } else {
                try ensure(
                    PEM_write_bio_PrivateKey_ex(bio, key.pointer, nil, nil, 0, nil, nil, nil, nil),
                    "PEM_write_bio_PrivateKey_ex")
            }
            return MemoryBIO.string(bio)
        }
    }
}
