internal import COpenSSL
package import OTABase

/// HKDF (RFC 5869) with SHA-256 or SM3, through `EVP_KDF`.
package enum HKDF {
    /// Extract-then-expand `length` bytes from `secret`.
    public static func derive(_ hash: HashAlgorithm, secret: [UInt8], salt: [UInt8], info: [UInt8], length: Int)
        throws(OTAError) -> [UInt8]
    {
        try secret.withBytes { (raw) throws(OTAError) in
            try derive(hash, secret: raw, salt: salt, info: info, length: length)
        }
    }

    /// Extract-then-expand `length` bytes from `secret`, read in place (no copy of the secret).
    public static func derive(
        _ hash: HashAlgorithm, secret: UnsafeRawBufferPointer, salt: [UInt8], info: [UInt8], length: Int
    ) throws(OTAError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else {
            throw OpenSSLErrorQueue.error(.cryptoUnavailable, "HKDF unavailable", function: "EVP_KDF_fetch")
        }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot allocate a KDF context", function: "EVP_KDF_CTX_new")
        }
        defer { EVP_KDF_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: length)
        var digestName = Array(hash.openSSLName.utf8CString)
        var salt = salt, info = info
        // An empty buffer still needs a valid pointer for OSSL_PARAM (OpenSSL only reads it).
        if salt.isEmpty { salt.reserveCapacity(1) }
        var placeholder: UInt8 = 0
        let rc = digestName.withUnsafeMutableBufferPointer { name in
            withUnsafeMutablePointer(to: &placeholder) { empty in
                salt.withUnsafeMutableBytes { saltBytes in
                    info.withUnsafeMutableBytes { infoBytes in
                        var params = [
                            COpenSSL_param_digest(name.baseAddress),
                            COpenSSL_param_kdf_key(
                                secret.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                                    ?? UnsafeMutableRawPointer(empty),
                                secret.count),
                            COpenSSL_param_kdf_salt(saltBytes.baseAddress, saltBytes.count),
                            COpenSSL_param_kdf_info(infoBytes.baseAddress, infoBytes.count),
                            COpenSSL_param_end(),
                        ]
                        return EVP_KDF_derive(context, &output, output.count, &params)
                    }
                }
            }
        }
        try ensure(rc, "EVP_KDF_derive")
        return output
    }
}

/// HMAC with SHA-256 or SM3, through `EVP_MAC`.
package enum HMAC {
    public static func mac(_ hash: HashAlgorithm, key: [UInt8], _ parts: [[UInt8]]) throws(OTAError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else {
            throw OpenSSLErrorQueue.error(.cryptoUnavailable, "HMAC unavailable", function: "EVP_MAC_fetch")
        }
        defer { EVP_MAC_free(mac) }
        guard let context = EVP_MAC_CTX_new(mac) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot allocate a MAC context", function: "EVP_MAC_CTX_new")
        }
        defer { EVP_MAC_CTX_free(context) }
        var digestName = Array(hash.openSSLName.utf8CString)
        let initRC = digestName.withUnsafeMutableBufferPointer { name in
            var params = [
                COpenSSL_param_digest(name.baseAddress),
                COpenSSL_param_end(),
            ]
            return EVP_MAC_init(context, key, key.count, &params)
        }
        try ensure(initRC, "EVP_MAC_init")
        for part in parts where !part.isEmpty {
            try ensure(EVP_MAC_update(context, part, part.count), "EVP_MAC_update")
        }
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        try ensure(EVP_MAC_final(context, &output, &length, output.count), "EVP_MAC_final")
        return Array(output.prefix(length))
    }
}
