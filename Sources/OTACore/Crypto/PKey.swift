internal import COpenSSL
internal import OTABase

/// The single owner of an OpenSSL `EVP_PKEY`, freed on deinit.
///
/// `@unchecked Sendable`: an `EVP_PKEY` is reference counted and OpenSSL 3 allows concurrent
/// use of one key from several threads for signing, verifying and deriving (each operation has
/// its own context); we never mutate the key after construction.
final class PKey: @unchecked Sendable {
    let pointer: OpaquePointer
    let type: KeyType

    /// Takes ownership of `pointer`, which nobody else may hold (it is normalised in place);
    /// fails for key types `ota` does not use and for non-canonical encodings.
    ///
    /// One key has one encoding in `ota`: an EC or SM2 point decoded from its compressed or
    /// hybrid form is switched to the uncompressed form, so its SubjectPublicKeyInfo, key id and
    /// comparisons are the same whichever form a certificate carried; an Ed25519 key whose
    /// encoding is not canonical (RFC 8032 §5.1.3: y ≥ p, or x = 0 with the sign bit set) is
    /// refused.
    init(taking pointer: OpaquePointer, source: String) throws(OTAError) {
        guard let type = PKey.detectType(pointer) else {
            EVP_PKEY_free(pointer)
            throw OTAError(.keyUnsupported, "\(source): unsupported key type (expected P-256, Ed25519, X25519 or SM2)")
        }
        do throws(OTAError) {
            try PKey.normalise(pointer, type: type, source: source)
        } catch {
            EVP_PKEY_free(pointer)
            throw error
        }
        self.pointer = pointer
        self.type = type
    }

    /// Takes ownership of a key that lives in a PKCS#11 token (an engine key): its type comes
    /// from its curve, and it is not normalised (it is used to sign, and its public half is
    /// re-read, and normalised, through `publicKeyDER()`).
    init(tokenKey pointer: OpaquePointer, source: String) throws(OTAError) {
        var type: KeyType?
        if EVP_PKEY_is_a(pointer, "ED25519") == 1 {
            type = .ed25519
        } else if EVP_PKEY_is_a(pointer, "EC") == 1 || EVP_PKEY_is_a(pointer, "SM2") == 1 {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            if EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 {
                switch String(decoding: name.prefix(length).map(UInt8.init(bitPattern:)), as: UTF8.self) {
                case "prime256v1", "P-256", "secp256r1": type = .p256
                case "SM2": type = .sm2
                default: type = nil
                }
            }
        }
        OpenSSLErrorQueue.clear()
        guard let type else {
            EVP_PKEY_free(pointer)
            throw OTAError(.keyUnsupported, "\(source): the token key is not P-256, Ed25519 or SM2")
        }
        self.pointer = pointer
        self.type = type
    }

    /// Takes a new reference to a key another object owns (a certificate's) as an exclusively
    /// owned copy, so normalising it never changes the shared object.
    convenience init(copying shared: OpaquePointer, source: String) throws(OTAError) {
        OpenSSLErrorQueue.clear()
        guard let copy = EVP_PKEY_dup(shared) else {
            throw OpenSSLErrorQueue.error(
                .keyMalformed, "\(source): cannot copy the public key", function: "EVP_PKEY_dup")
        }
        try self.init(taking: copy, source: source)
    }

    private static func normalise(_ pointer: OpaquePointer, type: KeyType, source: String) throws(OTAError) {
        switch type {
        case .p256, .sm2:
            // OpenSSL keeps the point form a key was decoded from and re-encodes in it.
            OpenSSLErrorQueue.clear()
            guard COpenSSL_ec_set_uncompressed(pointer) == 1 else {
                throw OpenSSLErrorQueue.error(
                    .keyMalformed, "\(source): cannot normalise the EC point encoding",
                    function: "EVP_PKEY_set_utf8_string_param")
            }
        case .ed25519:
            var raw = [UInt8](repeating: 0, count: 32)
            var length = raw.count
            guard EVP_PKEY_get_raw_public_key(pointer, &raw, &length) == 1, length == 32 else {
                OpenSSLErrorQueue.clear()
                throw OTAError(.keyMalformed, "\(source): Ed25519 public key is not 32 bytes")
            }
            guard Self.isCanonicalEd25519(raw) else {
                throw OTAError(.keyMalformed, "\(source): non-canonical Ed25519 public key encoding (RFC 8032 §5.1.3)")
            }
        case .x25519:
            break
        }
    }

    /// Whether 32 bytes are the canonical encoding of an Ed25519 point: the little-endian y
    /// (255 bits) below p = 2^255 − 19, and no sign bit on x = 0 (y = 1 or y = p − 1).
    static func isCanonicalEd25519(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 32 else { return false }
        let sign = bytes[31] & 0x80 != 0
        var y = bytes
        y[31] &= 0x7f
        let middleAllOnes = y[1...30].allSatisfy { $0 == 0xff }
        let topIsMax = y[31] == 0x7f
        // y ≥ p: 0x7f, 30 × 0xff, low byte ≥ 0xed.
        if topIsMax && middleAllOnes && y[0] >= 0xed { return false }
        if sign {
            let isOne = y[0] == 1 && y[1...31].allSatisfy { $0 == 0 }
            let isMinusOne = topIsMax && middleAllOnes && y[0] == 0xec
            if isOne || isMinusOne { return false }
        }
        return true
    }

    deinit { EVP_PKEY_free(pointer) }

    static func detectType(_ pointer: OpaquePointer) -> KeyType? {
        if EVP_PKEY_is_a(pointer, "SM2") == 1 { return .sm2 }
        if EVP_PKEY_is_a(pointer, "ED25519") == 1 { return .ed25519 }
        if EVP_PKEY_is_a(pointer, "X25519") == 1 { return .x25519 }
        if EVP_PKEY_is_a(pointer, "EC") == 1 {
            // Explicit curve parameters are an attack surface (Wycheproof: wrong cofactor); only named curves.
            guard COpenSSL_ec_uses_named_curve(pointer) == 1 else { return nil }
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 else { return nil }
            let group = String(decoding: name.prefix(length).map(UInt8.init(bitPattern:)), as: UTF8.self)
            switch group {
            case "prime256v1", "P-256", "secp256r1": return .p256
            default: return nil
            }
        }
        return nil
    }

    /// Generates a fresh key of `type` with OpenSSL's CSPRNG.
    static func generate(_ type: KeyType) throws(OTAError) -> PKey {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type.openSSLName, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoUnavailable, "key type \(type.rawValue) is not available", function: "EVP_PKEY_CTX_new_from_name"
            )
        }
        defer { EVP_PKEY_CTX_free(context) }
        try ensure(EVP_PKEY_keygen_init(context), "EVP_PKEY_keygen_init")
        if type == .p256 {
            try ensure(EVP_PKEY_CTX_set_group_name(context, "P-256"), "EVP_PKEY_CTX_set_group_name")
        }
        var key: OpaquePointer? = nil
        try ensure(EVP_PKEY_generate(context, &key), "EVP_PKEY_generate")
        guard let key else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "key generation returned nothing", function: "EVP_PKEY_generate")
        }
        return try PKey(taking: key, source: "generated key")
    }

    /// Whether the key holds private material.
    var hasPrivateKey: Bool {
        // A private key can be serialised as PKCS#8; a public-only key cannot.
        OpenSSLErrorQueue.clear()
        guard let bio = BIO_new(BIO_s_mem()) else { return false }
        defer { BIO_free(bio) }
        let ok = i2d_PKCS8PrivateKey_bio(bio, pointer, nil, nil, 0, nil, nil) == 1
        OpenSSLErrorQueue.clear()
        return ok
    }

    /// SubjectPublicKeyInfo DER of the public half.
    func publicKeyDER() throws(OTAError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(pointer, &output)
        guard length > 0, let output else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot encode public key", function: "i2d_PUBKEY")
        }
        defer { COpenSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}

/// Reads and drains a memory BIO.
enum MemoryBIO {
    static func withNew<T>(_ body: (OpaquePointer) throws(OTAError) -> T) throws(OTAError) -> T {
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot allocate a memory BIO", function: "BIO_new")
        }
        defer { BIO_free(bio) }
        return try body(bio)
    }

    static func contents(_ bio: OpaquePointer) -> [UInt8] {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        let length = COpenSSL_BIO_get_mem_data(bio, &pointer)
        guard length > 0, let pointer else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    static func string(_ bio: OpaquePointer) -> String {
        String(decoding: contents(bio), as: UTF8.self)
    }
}
