package import Foundation
package import OTACore
package import OTARecorder

/// Writes inside one store transaction: all of them are kept, or none.
package protocol RecordStoreWriter {
    /// Locks `vin`'s chain until the transaction ends (another writer, in this process or
    /// another one sharing the store, waits) and returns its head as stored now: an ingest
    /// compares it with the head it verified against, so two writers cannot both extend it.
    func lockVehicle(_ vin: String) throws(OTAError) -> ChainHead?
    /// Stores an entry; `body` is its JSON already read (the columns queries use come from it).
    func insert(_ entry: StoredEntry, body: EntryBody) throws(OTAError)
    /// Creates or moves on a vehicle's chain head and keys.
    func setVehicle(_ vehicle: StoredVehicle) throws(OTAError)
    /// Adds a register change and makes it the ECU's current software.
    func addSoftwareChange(_ change: SoftwareChange) throws(OTAError)
    /// Deletes entries older than `cutoff` (RFC 3339 UTC); returns how many.
    func deleteEntries(before cutoff: String) throws(OTAError) -> Int
    func addPurge(_ tombstone: PurgeTombstone) throws(OTAError)
    /// Moves the store's own clock (the latest wall time it ingested or purged at) forward.
    func recordActivity(_ time: Date) throws(OTAError)
}

/// A vehicle's stored chain head: the last entry the store holds for it.
public struct ChainHead: Sendable, Equatable {
    public var seq: UInt64
    public var hash: String

    public init(seq: UInt64, hash: String) {
        self.seq = seq
        self.hash = hash
    }
}

/// The fleet record store. SQLite through GRDB here (`SQLiteRecordStore`); a PostgreSQL store
/// implements the same calls (synchronous, typed errors: a server runs them on a thread pool).
/// The chain logic (verification, continuity, the register, retention) lives in `FleetIngest`,
/// `FleetPurge` and `Exporter`, not in the store.
package protocol RecordStore: AnyObject {
    /// Names the store in acknowledgements and tombstones (`sqlite:/var/lib/ota/fleet.db`).
    var identity: String { get }
    /// The vehicle's chain head and keys, or nil for a vehicle never ingested.
    func vehicle(_ vin: String) throws(OTAError) -> StoredVehicle?
    /// Runs `body` in one transaction: all of its writes are kept, or (when it throws) none.
    func transaction(_ body: (any RecordStoreWriter) throws(OTAError) -> Void) throws(OTAError)
    /// Calls `body` for each matching entry in (VIN, seq) order, streamed.
    func entries(matching filter: RecordFilter, _ body: (StoredEntry) throws(OTAError) -> Void) throws(OTAError)
    /// How many entries match.
    func count(matching filter: RecordFilter) throws(OTAError) -> Int
    /// Every entry of `vin` numbered `from...through`, all kinds, in order (chain evidence).
    func chain(of vin: String, from: UInt64, through: UInt64, _ body: (StoredEntry) throws(OTAError) -> Void)
        throws(OTAError)
    /// The number of the nearest stored checkpoint at or before `seq`.
    func checkpoint(of vin: String, atOrBefore seq: UInt64) throws(OTAError) -> UInt64?
    /// The number of the nearest stored checkpoint at or after `seq`.
    func checkpoint(of vin: String, atOrAfter seq: UInt64) throws(OTAError) -> UInt64?
    /// The vehicle's software identification history (the register), oldest first.
    func softwareHistory(of vin: String) throws(OTAError) -> [SoftwareChange]
    /// The vehicles whose ECU runs this SWIN or RXSWIN now (an indexed lookup).
    func vehicles(runningSWIN swin: String?, rxswin: String?) throws(OTAError) -> [SoftwareChange]
    /// Every purge made, oldest first.
    func purges() throws(OTAError) -> [PurgeTombstone]
    /// The latest wall time the store ingested or purged at.
    func lastActivity() throws(OTAError) -> Date?
    /// How many entries are older than `cutoff` and the newest time among them.
    func entriesBefore(_ cutoff: String) throws(OTAError) -> (count: Int, newest: String?)
}

extension RecordStore {
    /// The fleet store keeps upgrade records at least this long (UNECE R156 §7.1.2, GB 44496).
    package static var minimumRetentionYears: Int { 10 }
}
