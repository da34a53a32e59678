public import OTACore

/// What `log.json` holds.
public struct LogMeta: Sendable, Equatable {
    public static let format = "ota-records/1"
    public var vin: String
    public var hash: HashAlgorithm
    /// Suite hash (SHA-256) of the device public key's SubjectPublicKeyInfo, hex.
    public var keyID: String
    public var retentionMonths: Int
    public var created: String

    public var json: JSONValue {
        .object([
            "format": .string(Self.format), "vin": .string(vin), "hash": .string(hash.rawValue),
            "key": .string(keyID), "retentionMonths": .integer(Int64(retentionMonths)), "created": .string(created),
        ])
    }

    public init(vin: String, hash: HashAlgorithm, keyID: String, retentionMonths: Int, created: String) {
        self.vin = vin
        self.hash = hash
        self.keyID = keyID
        self.retentionMonths = retentionMonths
        self.created = created
    }

    public static func load(_ layout: LogLayout) throws(OTAError) -> LogMeta {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(layout.metaPath, limit: 64 << 10) } catch {
            throw error.prefixed("\(layout.directory): not a record log (no log.json)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch {
            throw OTAError(.recordsMalformed, "\(layout.metaPath): \(error.message)")
        }
        guard json["format"]?.stringValue == format, let vin = json["vin"]?.stringValue,
              let hashName = json["hash"]?.stringValue, let hash = HashAlgorithm(rawValue: hashName),
              let keyID = json["key"]?.stringValue, let months = json["retentionMonths"]?.integerValue,
              let created = json["created"]?.stringValue
        else { throw OTAError(.recordsMalformed, "\(layout.metaPath): not an \(format) log description") }
        return LogMeta(vin: vin, hash: hash, keyID: keyID, retentionMonths: Int(months), created: created)
    }
}
