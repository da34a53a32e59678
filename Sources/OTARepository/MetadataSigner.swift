public import OTACore
public import OTATUF

/// A repository signing key: the private key (from a file now; an HSM later through the same
/// `PrivateKey` type) with its TUF key object and key id.
public struct RepositoryKey: Sendable {
    public let privateKey: PrivateKey
    public let object: TUFJSON
    public let keyID: String

    public init(_ privateKey: PrivateKey) throws(OTAError) {
        self.privateKey = privateKey
        object = try TUFKey.object(for: try privateKey.publicKey)
        keyID = try TUFKey.keyID(of: object)
    }
}

/// Signs metadata: the canonical bytes of `signed`, once per key, in a TUF envelope.
public enum MetadataSigner {
    /// The envelope `{"signatures": [...], "signed": ...}` as file bytes.
    public static func sign(_ signed: JSONObject, keys: [RepositoryKey]) throws(OTAError) -> [UInt8] {
        let message = OLPCCanonicalJSON.encode(.object(signed))
        var signatures: [TUFJSON] = []
        for key in keys {
            let signature = try key.privateKey.signature(for: message)
            signatures.append(
                .object(try JSONObject([("keyid", .string(key.keyID)), ("sig", .string(Hex.encode(signature)))])))
        }
        return OLPCCanonicalJSON.encodeFile(
            .object(try JSONObject([("signatures", .array(signatures)), ("signed", .object(signed))])))
    }

    /// The common head of every role's `signed` object.
    public static func head(type: String, version: Int64, expires: Int64) throws(OTAError) -> JSONObject {
        try JSONObject([
            ("_type", .string(type)), ("spec_version", .string("1.0.34")), ("version", .integer(version)),
            ("expires", .string(TUFTime.format(expires))),
        ])
    }
}
