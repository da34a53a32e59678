internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes_ex`).
package enum SecureRandom {
    public static func bytes(_ count: Int) throws(OTAError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return output }
        OpenSSLErrorQueue.clear()
        try ensure(RAND_bytes_ex(nil, &output, count, 0), "RAND_bytes_ex", code: .cryptoRandom)
        return output
    }
}
