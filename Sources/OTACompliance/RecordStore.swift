public import Foundation
public import OTACore
public import OTARecorder

/// An entry as the fleet store keeps it: the chain fields, the columns queries use, and the
/// canonical JSON body exactly as the vehicle wrote it.
public struct StoredEntry: Sendable, Equatable {
    public var vin: String
    public var seq: UInt64
    public var hash: String
    public var prev: String
    public var kind: String
    public var time: String?
    public var campaign: String?
    public var bundle: String?
    public var ecu: String?
    public var step: String?
    public var result: String?
    public var body: String

    public init(vin: String, entry: LogEntry) throws(OTAError) {
        let json = try entry.json()
        self.vin = vin
        seq = entry.seq
        hash = entry.hash
        prev = entry.prev
        kind = entry.kind.rawValue
        time = json["time"]?.stringValue
        campaign = json["campaign"]?.stringValue
        bundle = json["bundle"]?.stringValue
        ecu = json["ecu"]?.stringValue
        step = json["step"]?.stringValue
        result = json["result"]?.stringValue
        body = String(decoding: entry.body, as: UTF8.self)
    }

    public init(vin: String, seq: UInt64, hash: String, prev: String, kind: String, time: String?, campaign: String?,
                bundle: String?, ecu: String?, step: String?, result: String?, body: String) {
        self.vin = vin
        self.seq = seq
        self.hash = hash
        self.prev = prev
        self.kind = kind
        self.time = time
        self.campaign = campaign
        self.bundle = bundle
        self.ecu = ecu
        self.step = step
        self.result = result
        self.body = body
    }
}

/// The last signed checkpoint the store holds for a vehicle: a new log must continue from it.
public struct ChainHead: Sendable, Equatable, Encodable {
    public var vin: String
    public var seq: UInt64
    public var hash: String
    public var keyID: String
    public var hashAlgorithm: String
}

/// Which entries a query or export wants; nil fields do not filter. Times are RFC 3339 UTC,
/// `from` inclusive, `to` exclusive.
public struct RecordFilter: Sendable, Equatable {
    public var vin: String?
    public var campaign: String?
    public var bundle: String?
    public var ecu: String?
    public var result: String?
    public var from: String?
    public var to: String?
    /// Entry kinds; records, torn tails and prunes by default (checkpoints carry no facts).
    public var kinds: [String]

    public init(vin: String? = nil, campaign: String? = nil, bundle: String? = nil, ecu: String? = nil,
                result: String? = nil, from: String? = nil, to: String? = nil,
                kinds: [String] = ["record", "torn-tail", "prune"]) {
        self.vin = vin
        self.campaign = campaign
        self.bundle = bundle
        self.ecu = ecu
        self.result = result
        self.from = from
        self.to = to
        self.kinds = kinds
    }

    /// The filter as canonical JSON, for the export manifest.
    public var json: CanonicalJSON {
        var members: [String: CanonicalJSON] = ["kinds": .array(kinds.map { .string($0) })]
        for (key, value) in [("vin", vin), ("campaign", campaign), ("bundle", bundle), ("ecu", ecu), ("result", result), ("from", from), ("to", to)] {
            if let value { members[key] = .string(value) }
        }
        return .object(members)
    }
}

/// Writes inside one store transaction.
public protocol RecordStoreWriter {
    func insert(_ entry: StoredEntry) throws(OTAError)
    func setHead(_ head: ChainHead) throws(OTAError)
    /// The stored hash of entry `seq` of `vin`, read inside the transaction.
    func hash(of vin: String, seq: UInt64) throws(OTAError) -> String?
}

/// The fleet record store: SQLite through GRDB here (`SQLiteRecordStore`); a PostgreSQL store
/// implements the same few calls. The chain logic (verification, continuity) lives in
/// `FleetIngest`, not in the store.
public protocol RecordStore: AnyObject {
    /// The vehicle's stored head, or nil for a vehicle never ingested.
    func head(of vin: String) throws(OTAError) -> ChainHead?
    /// The stored hash of entry `seq` of `vin`, if stored.
    func hash(of vin: String, seq: UInt64) throws(OTAError) -> String?
    /// Runs `body` in one transaction: all of its writes are kept, or (when it throws) none.
    func transaction(_ body: (any RecordStoreWriter) throws(OTAError) -> Void) throws(OTAError)
    /// Calls `body` for each matching entry in (VIN, seq) order, streamed.
    func entries(matching filter: RecordFilter, _ body: (StoredEntry) throws(OTAError) -> Void) throws(OTAError)
    /// How many entries match.
    func count(matching filter: RecordFilter) throws(OTAError) -> Int
    /// Deletes entries older than `cutoff`; refuses when that would reach records younger than
    /// the retention period (at least 10 years before `now`).
    func purge(before cutoff: Date, now: Date, minimumYears: Int) throws(OTAError) -> Int
}

extension RecordStore {
    /// The fleet store keeps upgrade records at least this long (UNECE R156 §7.1.2, GB 44496).
    public static var minimumRetentionYears: Int { 10 }

    /// Checks a purge against the retention rule before any store runs it.
    public func checkPurge(before cutoff: Date, now: Date, minimumYears: Int) throws(OTAError) {
        let years = max(minimumYears, Self.minimumRetentionYears)
        let limit = RecordTime.adding(years: -years, to: now)
        guard cutoff <= limit else {
            throw .rejected("records.retention", "the fleet store keeps upgrade records \(years) years: deleting before \(RecordTime.format(cutoff)) would reach records younger than \(RecordTime.format(limit))")
        }
    }
}
