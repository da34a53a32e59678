public import Foundation
public import OTACore
import OTARecorder

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
            throw OTAError(.recordsRetention, "the fleet store keeps upgrade records \(years) years: deleting before \(RecordTime.format(cutoff)) would reach records younger than \(RecordTime.format(limit))")
        }
    }
}
