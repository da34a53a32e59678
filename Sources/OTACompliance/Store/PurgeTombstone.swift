public import OTACore
package import OTARecorder

/// The signed trace a fleet-store purge leaves (what range, why, by whom, on which clock, with
/// which override), kept in the store for good and listed in every export.
public struct PurgeTombstone: Sendable, Equatable {
    public static let format = "ota-records-purge/1"

    /// Entries older than this (RFC 3339 UTC) were deleted.
    public var before: String
    public var deleted: Int64
    /// The newest entry time among those deleted.
    public var newestDeleted: String?
    /// The time the purge was judged against, and the store's own wall clock then.
    public var now: String
    public var systemTime: String
    /// The store's latest earlier activity the clock was checked against.
    public var lastActivity: String?
    public var years: Int64
    public var reason: String
    /// Who purged: the compliance signer's certificate subject and key id.
    public var by: String
    public var keyID: String
    /// Set when the clock check was overridden, with the reason given.
    public var clockOverride: String?
    public var store: String
    /// The compliance key's signature over `json.bytes`, and its algorithm.
    public var algorithm: SignatureAlgorithm
    public var signature: [UInt8]
    /// The signer's certificate (PEM), when the purge was signed with one.
    public var certificate: String?

    /// The signed part.
    package var json: JSONValue {
        var out = JSONObjectWriter()
        out.set("format", Self.format)
        out.set("before", before)
        out.set("deleted", deleted)
        out.set("newestDeleted", newestDeleted)
        out.set("now", now)
        out.set("systemTime", systemTime)
        out.set("lastActivity", lastActivity)
        out.set("years", years)
        out.set("reason", reason)
        out.set("by", by)
        out.set("keyId", keyID)
        out.set("clockOverride", clockOverride)
        out.set("store", store)
        return out.value
    }

    /// The tombstone with its signature and certificate, as stored and exported.
    package var signedJSON: JSONValue {
        var out = JSONObjectWriter()
        out.set("tombstone", json: json)
        out.set("alg", algorithm.rawValue)
        out.set("sig", Hex.encode(signature))
        out.set("certificate", certificate)
        return out.value
    }

    public init(
        before: String, deleted: Int64, newestDeleted: String?, now: String, systemTime: String, lastActivity: String?,
        years: Int64,
        reason: String, by: String, keyID: String, clockOverride: String?, store: String, algorithm: SignatureAlgorithm,
        signature: [UInt8], certificate: String?
    ) {
        self.before = before
        self.deleted = deleted
        self.newestDeleted = newestDeleted
        self.now = now
        self.systemTime = systemTime
        self.lastActivity = lastActivity
        self.years = years
        self.reason = reason
        self.by = by
        self.keyID = keyID
        self.clockOverride = clockOverride
        self.store = store
        self.algorithm = algorithm
        self.signature = signature
        self.certificate = certificate
    }

    /// Reads a stored or exported tombstone strictly.
    package init(signedJSON value: JSONValue, source: String) throws(OTAError) {
        let outer = try JSONObjectReader(value, path: source, allowed: ["alg", "certificate", "sig", "tombstone"])
        guard
            let inner = try outer.optionalObject(
                "tombstone",
                allowed: [
                    "before", "by", "clockOverride", "deleted", "format", "keyId", "lastActivity", "newestDeleted",
                    "now", "reason", "store",
                    "systemTime", "years",
                ])
        else { throw OTAError(.recordsFieldMissing, "\(source).tombstone: required") }
        guard try inner.string("format") == Self.format else {
            throw OTAError(.recordsFieldType, "\(source).tombstone.format: \(Self.format)")
        }
        func instant(_ key: String) throws(OTAError) -> String {
            guard let text = try inner.optionalInstant(key) else {
                throw OTAError(.recordsFieldMissing, "\(source).tombstone.\(key): required")
            }
            return text
        }
        before = try instant("before")
        deleted = try inner.integer("deleted", in: 0...Int64.max)
        newestDeleted = try inner.optionalInstant("newestDeleted")
        now = try instant("now")
        systemTime = try instant("systemTime")
        lastActivity = try inner.optionalInstant("lastActivity")
        years = try inner.integer("years", in: 10...1000)
        reason = try inner.string("reason", maximumBytes: 1024)
        by = try inner.string("by", maximumBytes: 1024)
        keyID = try inner.digest("keyId")
        clockOverride = try inner.optionalString("clockOverride", maximumBytes: 1024)
        store = try inner.string("store", maximumBytes: 1024)
        guard let algorithm = SignatureAlgorithm(rawValue: try outer.string("alg", maximumBytes: 32)) else {
            throw OTAError(.recordsFieldType, "\(source).alg: a signature algorithm")
        }
        self.algorithm = algorithm
        guard let signature = Hex.decode(try outer.string("sig", maximumBytes: 1024)) else {
            throw OTAError(.recordsFieldType, "\(source).sig: hex")
        }
        self.signature = signature
        certificate = try outer.optionalString("certificate", maximumBytes: 65536)
    }
}
