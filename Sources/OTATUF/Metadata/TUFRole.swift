public import OTACore

/// The top-level role names.
public enum TUFRoleName {
    public static let root = "root"
    public static let timestamp = "timestamp"
    public static let snapshot = "snapshot"
    public static let targets = "targets"
    public static let topLevel = [root, timestamp, snapshot, targets]

    package static func isTopLevel(_ name: String) -> Bool { topLevel.contains { $0.utf8.elementsEqual(name.utf8) } }
}

/// The keys and threshold a role needs (`roles` in root, a delegated role in targets).
public struct TUFRoleKeys: Sendable {
    public let keyIDs: [String]
    public let threshold: Int64

    init(_ fields: TUFFields) throws(OTAError) {
        keyIDs = try fields.uniqueStrings("keyids")
        threshold = try fields.integer("threshold", in: 1...Int64.max)
    }

    public init(keyIDs: [String], threshold: Int64) {
        self.keyIDs = keyIDs
        self.threshold = threshold
    }
}

/// A signature on a metadata document.
public struct TUFSignature: Sendable {
    public let keyID: String
    public let bytes: [UInt8]
}

/// A metadata document as fetched: its signatures, its `signed` object (every field, known or
/// not, kept so the canonical bytes the signers signed can be rebuilt) and the common fields.
public struct SignedMetadata: Sendable {
    public let type: String
    public let version: Int64
    /// Seconds since 1970.
    public let expires: Int64
    public let specVersion: String
    public let signed: JSONObject
    public let signatures: [TUFSignature]
    /// The exact bytes that were parsed.
    public let bytes: [UInt8]

    /// Parses an envelope whose `_type` must be `expectedType`.
    public init(bytes: [UInt8], expectedType: String, source: String, limit: Int) throws(OTAError) {
        let document = try TUFJSONParser.parse(bytes, source: source, limit: limit)
        let envelope = try TUFFields(document, path: source)
        let signed = try envelope.object("signed")
        var signatures: [TUFSignature] = []
        for (index, item) in try envelope.array("signatures").enumerated() {
            let fields = try TUFFields(item, path: "\(source).signatures[\(index)]")
            let keyID = try fields.string("keyid")
            // §4.2.1: a key id is unique in "signatures"; a document repeating one is refused
            // outright, whatever the threshold (verify also counts a key once).
            guard !signatures.contains(where: { $0.keyID.utf8.elementsEqual(keyID.utf8) }) else {
                throw OTAError(
                    .tufMetadata,
                    "\(source).signatures[\(index)].keyid: '\(keyID)' signs twice; a key id must be unique in signatures"
                )
            }
            let hex = try fields.string("sig")
            // A signature that is not hex cannot verify; it is kept and simply never counts.
            signatures.append(TUFSignature(keyID: keyID, bytes: Hex.decode(hex) ?? []))
        }
        let type = try signed.string("_type")
        guard type.utf8.elementsEqual(expectedType.utf8) else {
            throw OTAError(.tufMetadata, "\(source): _type is '\(type)', expected '\(expectedType)'")
        }
        specVersion = try signed.string("spec_version")
        let parts = specVersion.split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count),
            parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }), parts[0] == "1"
        else {
            throw OTAError(
                .tufMetadata, "\(source).signed.spec_version: '\(specVersion)' is not a 1.x specification version")
        }
        let expiresText = try signed.string("expires")
        guard let expires = TUFTime.parse(expiresText) else {
            throw OTAError(.tufMetadata, "\(source).signed.expires: '\(expiresText)' is not YYYY-MM-DDTHH:MM:SSZ")
        }
        self.type = type
        self.version = try signed.integer("version", in: 1...Int64.max)
        self.expires = expires
        self.signed = signed.object
        self.signatures = signatures
        self.bytes = bytes
    }

    /// The canonical bytes of `signed`: what every signature covers.
    public var canonicalSigned: [UInt8] { OLPCCanonicalJSON.encode(.object(signed)) }

    /// Counts the distinct keys of `role` whose signature verifies (a key id listed or signing
    /// twice counts once, and so does one key listed under two ids); throws
    /// `tuf.signature-threshold` below the role's threshold.
    public func verify(role: String, keys: TUFRoleKeys, keyTable: NamedList<TUFKey>) throws(OTAError) {
        let message = canonicalSigned
        var counted = Set<String>()
        var identities = Set<String>()
        for keyID in keys.keyIDs {
            guard let key = keyTable[keyID], !counted.contains(keyID) else { continue }
            let good = signatures.contains {
                $0.keyID.utf8.elementsEqual(keyID.utf8) && key.verifies($0.bytes, over: message)
            }
            guard good, identities.insert(key.identity).inserted else { continue }
            counted.insert(keyID)
        }
        guard counted.count >= keys.threshold else {
            throw OTAError(
                .tufSignatureThreshold,
                "\(role) version \(version): \(counted.count) valid signature(s) from its keys; the threshold is \(keys.threshold)"
            )
        }
    }

    /// Throws `tuf.expired` when `expires` is not after `now` (seconds since 1970).
    public func requireUnexpired(_ role: String, now: Int64) throws(OTAError) {
        guard now < expires else {
            throw OTAError(
                .tufExpired,
                "\(role) version \(version) expired at \(TUFTime.format(expires)) (now \(TUFTime.format(now)))")
        }
    }
}

/// A `meta` entry in timestamp or snapshot: the version, and optionally length and hashes.
public struct TUFMetaFile: Sendable {
    public let version: Int64
    public let length: Int64?
    public let hashes: NamedList<String>?

    init(_ value: TUFJSON, path: String) throws(OTAError) {
        let fields = try TUFFields(value, path: path)
        version = try fields.integer("version", in: 1...Int64.max)
        length = fields.has("length") ? try fields.integer("length", in: 0...Int64.max) : nil
        hashes = fields.has("hashes") ? try TUFHashes.read(fields.object("hashes")) : nil
    }
}

/// Hash lists (`{"sha256": "hex", ...}`) and their check.
public enum TUFHashes {
    static func read(_ fields: TUFFields) throws(OTAError) -> NamedList<String> {
        guard fields.object.count > 0 else { throw OTAError(.tufMetadata, "\(fields.path): no hashes") }
        var entries: [NamedList<String>.Entry] = []
        for member in fields.object.members {
            guard let hex = member.value.string else {
                throw OTAError(.tufMetadata, "\(fields.path).\(member.name): expected a hex string")
            }
            // The value names files and list lines on the vehicle (`<sha256>.part`): only the
            // digest's own spelling is taken, lower-case hex of its length, for every algorithm.
            let digits = digestLengths[member.name].map { $0 * 2 }
            guard !hex.isEmpty, hex.utf8.count % 2 == 0, hex.utf8.count <= 256,
                digits.map({ hex.utf8.count == $0 }) ?? true,
                hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            else {
                throw OTAError(
                    .tufMetadata,
                    "\(fields.path).\(member.name): expected \(digits.map { "\($0)" } ?? "an even number of") lower-case hex digits"
                )
            }
            entries.append(.init(name: member.name, value: hex))
        }
        return NamedList(entries)
    }

    /// Digest sizes in bytes of the algorithms the client knows.
    static let digestLengths = ["sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32]

    /// The hash names the client can check, with their OpenSSL fetch names: sha256 and sm3 (what
    /// `ota` repositories list), and sha384 and sha512, which other TUF repositories use.
    static let openSSLNames = ["sha256": "SHA2-256", "sha384": "SHA2-384", "sha512": "SHA2-512", "sm3": "SM3"]

    /// Whether the client can check a hash of this name.
    static func isKnown(_ name: String) -> Bool { openSSLNames[name] != nil }

    /// Checks `bytes` against every hash whose algorithm is known; at least one must be.
    public static func check(_ bytes: [UInt8], against hashes: NamedList<String>, what: String) throws(OTAError) {
        var checked = 0
        for entry in hashes.entries {
            guard let openSSLName = openSSLNames[entry.name] else { continue }
            let digest = try Hasher.digest(openSSLName: openSSLName, bytes)
            guard let expected = Hex.decode(entry.value), ConstantTime.equals(digest, expected) else {
                throw OTAError(.tufHashMismatch, "\(what): \(entry.name) does not match the signed hash")
            }
            checked += 1
        }
        guard checked > 0 else {
            throw OTAError(
                .tufHashUnsupported,
                "\(what): none of the hash algorithms \(hashes.names.joined(separator: ", ")) is supported (sha256, sha384, sha512, sm3)"
            )
        }
    }
}
