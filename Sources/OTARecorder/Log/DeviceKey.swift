public import OTACore

/// Loads the device public key a log is checked against: a PEM public key or a certificate.
public enum DeviceKey {
    public static func load(_ path: String) throws(OTAError) -> PublicKey {
        let bytes = try FileSystem.read(path, limit: 1 << 20)
        let text = String(decoding: bytes, as: UTF8.self)
        if text.contains("BEGIN CERTIFICATE") {
            guard let certificate = try Certificate.load(contentsOf: path).first else {
                throw OTAError(.keyMalformed, "\(path): no certificate")
            }
            return try certificate.publicKey
        }
        if text.contains("PRIVATE KEY") {
            return try PrivateKey(encoded: bytes, source: path).publicKey
        }
        return try PublicKey(pem: text, source: path)
    }
}
