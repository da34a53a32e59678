public import OTACore

/// A public key as TUF metadata lists it: `keytype`, `scheme` and `keyval.public`, other fields
/// kept as they came. Supported pairs (see docs/FORMAT.md):
///
/// | keytype | scheme | keyval.public | sig |
/// |---|---|---|---|
/// | `ed25519` | `ed25519` | 64 hex digits (raw key) | 128 hex digits |
/// | `ecdsa`, `ecdsa-sha2-nistp256` | `ecdsa-sha2-nistp256` | PEM SubjectPublicKeyInfo (P-256) | hex DER `(r, s)` |
/// | `sm2` (ours) | `sm2-sm3` | PEM SubjectPublicKeyInfo (SM2) | hex DER `(r, s)`, ID `1234567812345678` |
/// | `rsa` | `rsassa-pss-sha256`, `rsa-pkcs1v15-sha256` | PEM SubjectPublicKeyInfo, ≥ 2048 bits | hex |
public struct TUFKey: Sendable {
    public let keyType: String
    public let scheme: String
    public let publicValue: String
    /// The key object as it appeared (unknown fields included).
    public let json: JSONObject

    enum Verifier: Sendable {
        case standard(PublicKey, SignatureAlgorithm)
        case rsa(RSAPublicKey, RSAPublicKey.Padding)
    }

    let verifier: Verifier?
    /// What identifies the key material, so one key listed under two ids counts once.
    let identity: String
    /// Why the key cannot verify (unknown type, malformed key), when `verifier` is nil.
    let unusableReason: String?

    /// Reads a key object. A key of an unknown type or scheme is kept (metadata may list keys
    /// this client cannot use) but never verifies anything.
    public init(_ value: TUFJSON, path: String) throws(OTAError) {
        let fields = try TUFFields(value, path: path)
        keyType = try fields.string("keytype")
        scheme = try fields.string("scheme")
        publicValue = try fields.object("keyval").string("public")
        json = fields.object
        var made: (Verifier, String)?
        var reason: String?
        do throws(OTAError) {
            let verifier = try Self.makeVerifier(keyType: keyType, scheme: scheme, publicValue: publicValue, path: path)
            made = (verifier, try Self.identity(of: verifier))
        } catch {
            reason = error.message
        }
        verifier = made?.0
        identity = made?.1 ?? "unusable\u{0}\(keyType)\u{0}\(scheme)\u{0}\(publicValue)"
        unusableReason = reason
    }

    /// The key material in one encoding (the DER SubjectPublicKeyInfo, EC points uncompressed),
    /// so one key listed under two key ids (another PEM wrapping, a compressed point, upper-case
    /// hex, another key type name or scheme) is one signer.
    static func identity(of verifier: Verifier) throws(OTAError) -> String {
        switch verifier {
        case .standard(let key, _): "spki:" + Hex.encode(try key.der())
        case .rsa(let key, _): "spki:" + Hex.encode(try key.der())
        }
    }

    /// The key object for a key of ours (repository side).
    public static func object(for key: PublicKey) throws(OTAError) -> TUFJSON {
        let (type, scheme): (String, String)
        let value: String
        switch key.type {
        case .ed25519:
            (type, scheme) = ("ed25519", "ed25519")
            // The raw key is the last 32 bytes of the SubjectPublicKeyInfo.
            value = Hex.encode(try key.der().suffix(32))
        case .p256:
            (type, scheme) = ("ecdsa", "ecdsa-sha2-nistp256")
            value = try key.pem()
        case .sm2:
            (type, scheme) = ("sm2", "sm2-sm3")
            value = try key.pem()
        case .x25519:
            throw OTAError(.keyCannotSign, "an X25519 key cannot sign TUF metadata")
        }
        return .object(
            try JSONObject([
                ("keytype", .string(type)), ("scheme", .string(scheme)),
                ("keyval", .object(try JSONObject([("public", .string(value))]))),
            ]))
    }

    /// The key id TUF defines: SHA-256 of the canonical key object, in hex.
    public static func keyID(of object: TUFJSON) throws(OTAError) -> String {
        try Hasher.hash(.sha256, OLPCCanonicalJSON.encode(object)).hex
    }

    static func makeVerifier(keyType: String, scheme: String, publicValue: String, path: String) throws(OTAError)
        -> Verifier
    {
        switch (keyType, scheme) {
        case ("ed25519", "ed25519"):
            guard let raw = Hex.decode(publicValue), raw.count == 32 else {
                throw OTAError(.tufKeyUnsupported, "\(path): an ed25519 key must be 64 hex digits")
            }
            return .standard(try PublicKey.raw(raw, type: .ed25519), .ed25519)
        case ("ecdsa", "ecdsa-sha2-nistp256"), ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"):
            let key = try PublicKey(pem: publicValue, source: path)
            guard key.type == .p256 else { throw OTAError(.tufKeyUnsupported, "\(path): not a P-256 key") }
            return .standard(key, .ecdsaP256SHA256)
        case ("sm2", "sm2-sm3"):
            let key = try PublicKey(pem: publicValue, source: path)
            guard key.type == .sm2 else { throw OTAError(.tufKeyUnsupported, "\(path): not an SM2 key") }
            return .standard(key, .sm2SM3)
        case ("rsa", "rsassa-pss-sha256"):
            return .rsa(try RSAPublicKey(pem: publicValue, source: path), .pss)
        case ("rsa", "rsa-pkcs1v15-sha256"):
            return .rsa(try RSAPublicKey(pem: publicValue, source: path), .pkcs1v15)
        default:
            throw OTAError(.tufKeyUnsupported, "\(path): key type \(keyType) with scheme \(scheme) is not supported")
        }
    }

    /// Whether `signature` (raw bytes) verifies over `message` under this key; false for an
    /// unusable key or a malformed signature.
    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        guard let verifier else { return false }
        do throws(OTAError) {
            switch verifier {
            case .standard(let key, let algorithm):
                if algorithm == .ed25519, signature.count != 64 { return false }
                return try key.check(signature, for: message, algorithm: algorithm) == .valid
            case .rsa(let key, let padding):
                return try key.check(signature, for: message, padding: padding) == .valid
            }
        } catch {
            return false
        }
    }
}
