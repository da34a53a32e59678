internal import COpenSSL
public import OTABase

/// The result of checking a signature: OpenSSL's three outcomes kept apart.
public enum SignatureCheck: Sendable, Equatable {
    case valid
    /// The signature does not verify (wrong key, wrong message, malformed signature bytes).
    case invalid
}

extension PrivateKey {
    /// Signs `message` with the algorithm that fits this key (`EVP_DigestSign`).
    ///
    /// SM2 signatures use `sm2ID` as the distinguishing ID.
    public func signature(for message: [UInt8], sm2ID: [UInt8] = defaultSM2DistinguishingID) throws(OTAError) -> [UInt8]
    {
        let algorithm = try SignatureAlgorithm.forKey(type)
        return try DigestSignContext.withContext(key: key, algorithm: algorithm, signing: true, sm2ID: sm2ID) {
            context throws(OTAError) in
            var length = 0
            try ensure(
                EVP_DigestSign(context, nil, &length, message, message.count), "EVP_DigestSign", code: .signatureFailed)
            var output = [UInt8](repeating: 0, count: length)
            try ensure(
                EVP_DigestSign(context, &output, &length, message, message.count), "EVP_DigestSign",
                code: .signatureFailed)
            return Array(output.prefix(length))
        }
    }
}

extension PublicKey {
    /// Checks `signature` over `message` under `algorithm`, which must match the key type.
    ///
    /// Returns `.invalid` for a signature that does not verify; throws only when the check could
    /// not be run (algorithm and key disagree, OpenSSL internal failure).
    public func check(
        _ signature: [UInt8], for message: [UInt8], algorithm: SignatureAlgorithm,
        sm2ID: [UInt8] = defaultSM2DistinguishingID
    ) throws(OTAError) -> SignatureCheck {
        guard algorithm.keyType == type else {
            throw OTAError(
                .signatureAlgorithmMismatch,
                "signature algorithm \(algorithm.rawValue) does not fit a \(type.rawValue) key")
        }
        return try DigestSignContext.withContext(key: key, algorithm: algorithm, signing: false, sm2ID: sm2ID) {
            context throws(OTAError) in
            let rc = EVP_DigestVerify(context, signature, signature.count, message, message.count)
            // 1: valid; 0: does not verify; < 0: malformed input (e.g. bad DER), also a failure.
            OpenSSLErrorQueue.clear()
            return rc == 1 ? .valid : .invalid
        }
    }
}

/// Sets up `EVP_DigestSignInit_ex` / `EVP_DigestVerifyInit_ex` for one algorithm.
enum DigestSignContext {
    static func withContext<T>(
        key: PKey, algorithm: SignatureAlgorithm, signing: Bool, sm2ID: [UInt8],
        _ body: (OpaquePointer) throws(OTAError) -> T
    ) throws(OTAError) -> T {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a signing context", function: "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        try configure(context, key: key, algorithm: algorithm, signing: signing, sm2ID: sm2ID)
        return try body(context)
    }

    /// Initialises `context` (an `EVP_MD_CTX`) for signing or verifying with `key`.
    static func configure(
        _ context: OpaquePointer, key: PKey, algorithm: SignatureAlgorithm, signing: Bool, sm2ID: [UInt8]
    ) throws(OTAError) {
        var keyContext: OpaquePointer? = nil
        let rc: Int32
        if signing {
            rc = EVP_DigestSignInit_ex(context, &keyContext, algorithm.digestName, nil, nil, key.pointer, nil)
        } else {
            rc = EVP_DigestVerifyInit_ex(context, &keyContext, algorithm.digestName, nil, nil, key.pointer, nil)
        }
        try ensure(
            rc, signing ? "EVP_DigestSignInit_ex" : "EVP_DigestVerifyInit_ex", code: .signatureFailed,
            message: "cannot use a \(key.type.rawValue) key for \(algorithm.rawValue)")
        if algorithm == .sm2SM3, let keyContext {
            let idRC = sm2ID.withUnsafeBytes { EVP_PKEY_CTX_set1_id(keyContext, $0.baseAddress, Int32($0.count)) }
            guard idRC > 0 else {
                throw OpenSSLErrorQueue.error(
                    .cryptoInternal, "cannot set the SM2 distinguishing ID", function: "EVP_PKEY_CTX_set1_id")
            }
        }
    }
}
