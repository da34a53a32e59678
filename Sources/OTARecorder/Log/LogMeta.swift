public import OTACore

/// What `log.json` holds: the log's identity (VIN, hash, genesis) and its current device key.
public struct LogMeta: Sendable, Equatable {
    public static let format = "ota-records/2"
    /// The longest retention a log may state (100 years): beyond it is a typing error.
    public static let maximumRetentionMonths = 1200

    public var vin: String
    public var hash: HashAlgorithm
    /// The current device key's id: hex SHA-256 of its SubjectPublicKeyInfo (moves on rotation).
    public var keyID: String
    public var retentionMonths: Int
    public var created: String
    /// The hash of entry 0, which every checkpoint signature names.
    public var genesis: String

    package var json: JSONValue {
        .object([
            "format": .string(Self.format), "vin": .string(vin), "hash": .string(hash.rawValue), "key": .string(keyID),
            "retentionMonths": .integer(Int64(retentionMonths)), "created": .string(created),
            "genesis": .string(genesis),
        ])
    }

    public init(vin: String, hash: HashAlgorithm, keyID: String, retentionMonths: Int, created: String, genesis: String)
    {
        self.vin = vin
        self.hash = hash
        self.keyID = keyID
        self.retentionMonths = retentionMonths
        self.created = created
        self.genesis = genesis
    }

    /// A VIN as logs hold it: 1 to 64 printable ASCII characters without spaces.
    static func checkedVIN(_ vin: String, path: String) throws(OTAError) -> String {
        guard !vin.isEmpty, vin.utf8.count <= 64, vin.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw OTAError(.recordsVin, "\(path): a VIN is 1 to 64 printable ASCII characters without spaces")
        }
        return vin
    }

    /// Reads `log.json` strictly: unknown members, wrong types and a retention outside
    /// 6...1200 months are refused (`records.meta`), naming the field.
    package static func load(_ layout: LogLayout) throws(OTAError) -> LogMeta {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(layout.metaPath, limit: 64 << 10) } catch {
            throw error.prefixed("\(layout.directory): not a record log (no log.json)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch {
            throw OTAError(.recordsMeta, "\(layout.metaPath): \(error.message)")
        }
        do throws(OTAError) {
            let object = try JSONObjectReader(
                json, path: "log.json",
                allowed: ["created", "format", "genesis", "hash", "key", "retentionMonths", "vin"])
            let format = try object.string("format", maximumBytes: 32)
            guard format == Self.format else {
                throw OTAError(.recordsMeta, "log.json.format: \(format) is not \(Self.format)")
            }
            let hashName = try object.string("hash", maximumBytes: 16)
            guard let hash = HashAlgorithm(rawValue: hashName) else {
                throw OTAError(.recordsMeta, "log.json.hash: sha256 or sm3, not \(hashName)")
            }
            let months = try object.integer("retentionMonths", in: Int64.min...Int64.max)
            guard months >= Int64(Recorder.minimumRetentionMonths), months <= Int64(maximumRetentionMonths) else {
                throw OTAError(
                    .recordsMeta,
                    "log.json.retentionMonths: \(months) is outside \(Recorder.minimumRetentionMonths)...\(maximumRetentionMonths) (the vehicle keeps records at least 6 months)"
                )
            }
            guard let created = try object.optionalInstant("created") else {
                throw OTAError(.recordsMeta, "log.json.created: required")
            }
            return LogMeta(
                vin: try checkedVIN(try object.string("vin", maximumBytes: 64), path: "log.json.vin"), hash: hash,
                keyID: try object.digest("key"),
                retentionMonths: Int(months), created: created, genesis: try object.digest("genesis"))
        } catch {
            throw OTAError(.recordsMeta, "\(layout.metaPath): \(error.message)")
        }
    }
}
