public import Foundation
internal import GRDB
public import OTACore
import OTARecorder

/// The fleet record store in one SQLite file, through GRDB.
public final class SQLiteRecordStore: RecordStore {
    /// Whether opening may create the store.
    public enum Mode: Sendable {
        /// Create the file and its tables when missing (ingest).
        case create
        /// The store must exist (queries, exports, purges): a mistyped path is an error, never
        /// a new empty store.
        case existing
    }

    private let queue: DatabaseQueue
    public let path: String
    public var identity: String { "sqlite:" + path }

    /// Opens the store at `path`.
    public init(path: String, mode: Mode = .existing) throws(OTAError) {
        self.path = path
        if mode == .existing {
            guard FileSystem.exists(path) else {
                throw OTAError(.recordsStoreMissing, "\(path): no fleet record store here (ingest creates one)")
            }
        }
        do {
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            queue = try DatabaseQueue(path: path, configuration: configuration)
            var migrator = DatabaseMigrator()
            // A rowid table: rows of ~1 KB would spill into mostly empty overflow pages in a
            // WITHOUT ROWID table (4 KB per entry measured).
            migrator.registerMigration("ota-records-2") { db in
                if try db.tableExists("entry") {
                    throw OTAError(
                        .recordsStore,
                        "\(path): a store of an earlier record format (ota-records/1); ingest the logs into a new store"
                    )
                }
                try db.execute(
                    sql: """
                        CREATE TABLE vehicle (
                            vin TEXT PRIMARY KEY NOT NULL, hashAlgorithm TEXT NOT NULL, genesis TEXT NOT NULL, keyId TEXT NOT NULL,
                            headSeq INTEGER NOT NULL, headHash TEXT NOT NULL);
                        CREATE TABLE vehicleKey (
                            vin TEXT NOT NULL, keyId TEXT NOT NULL, publicKey BLOB NOT NULL, certificate TEXT, fromSeq INTEGER NOT NULL,
                            PRIMARY KEY (vin, keyId));
                        CREATE TABLE entry (
                            vin TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, prev TEXT NOT NULL, kind TEXT NOT NULL,
                            time TEXT NOT NULL, attempt TEXT, campaign TEXT, bundle TEXT, ecus TEXT, step TEXT, outcome TEXT,
                            body TEXT NOT NULL);
                        CREATE UNIQUE INDEX entryChain ON entry (vin, seq);
                        CREATE INDEX entryCampaign ON entry (campaign, vin, seq);
                        CREATE INDEX entryTime ON entry (time);
                        CREATE TABLE software (
                            vin TEXT NOT NULL, ecu TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, attempt TEXT, bundle TEXT,
                            campaign TEXT, hardwarePart TEXT, versionBefore TEXT, versionAfter TEXT, securityVersionAfter TEXT,
                            swinBefore TEXT, swinAfter TEXT, rxswinBefore TEXT, rxswinAfter TEXT, imageHashAfter TEXT,
                            PRIMARY KEY (vin, ecu, seq));
                        CREATE TABLE currentSoftware (
                            vin TEXT NOT NULL, ecu TEXT NOT NULL, seq INTEGER NOT NULL, swin TEXT, rxswin TEXT, PRIMARY KEY (vin, ecu));
                        CREATE INDEX currentSwin ON currentSoftware (swin);
                        CREATE INDEX currentRxswin ON currentSoftware (rxswin);
                        CREATE TABLE purge (id INTEGER PRIMARY KEY AUTOINCREMENT, tombstone TEXT NOT NULL);
                        CREATE TABLE activity (id INTEGER PRIMARY KEY CHECK (id = 1), latest TEXT NOT NULL);
                        """)
            }
            if mode == .existing, try queue.read({ db in try !db.tableExists("vehicle") }) {
                throw OTAError(.recordsStore, "\(path): not a fleet record store")
            }
            try migrator.migrate(queue)
        } catch let error as OTAError {
            throw error
        } catch {
            throw OTAError(.recordsStore, "\(path): cannot open the record store", cause: String(describing: error))
        }
    }

    // MARK: Vehicles

    public func vehicle(_ vin: String) throws(OTAError) -> StoredVehicle? {
        try run {
            try queue.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM vehicle WHERE vin = ?", arguments: [vin])
                else { return nil }
                let keys = try Row.fetchAll(
                    db, sql: "SELECT * FROM vehicleKey WHERE vin = ? ORDER BY fromSeq", arguments: [vin]
                ).map { key in
                    StoredVehicle.Key(
                        keyID: key["keyId"], publicKey: [UInt8]((key["publicKey"] as Data)),
                        certificate: key["certificate"],
                        fromSeq: try Self.unsigned(key["fromSeq"]))
                }
                guard let hash = HashAlgorithm(rawValue: row["hashAlgorithm"]) else {
                    throw OTAError(.recordsStore, "vehicle \(vin): unknown hash")
                }
                return StoredVehicle(
                    vin: vin, hashAlgorithm: hash, genesis: row["genesis"], headSeq: try Self.unsigned(row["headSeq"]),
                    headHash: row["headHash"], keyID: row["keyId"], keys: keys)
            }
        }
    }

    /// A stored sequence number back to `UInt64` (never negative: the columns are written from
    /// numbers the log format bounds).
    private static func unsigned(_ value: Int64) throws(OTAError) -> UInt64 {
        guard value >= 0 else { throw OTAError(.recordsStore, "a stored entry number is negative (\(value))") }
        return UInt64(value)
    }

    private static func signed(_ value: UInt64) throws(OTAError) -> Int64 {
        guard value <= UInt64(Int64.max) else {
            throw OTAError(.recordsFieldRange, "entry number \(value) does not fit the store")
        }
        return Int64(value)
    }

    // MARK: Writing

    package func transaction(_ body: (any RecordStoreWriter) throws(OTAError) -> Void) throws(OTAError) {
        var failure: OTAError? = nil
        do {
            try queue.inTransaction(.immediate) { db in
                do {
                    try body(Writer(db: db))
                    return .commit
                } catch let error as OTAError {
                    failure = error
                    return .rollback
                }
            }
        } catch {
            throw OTAError(.recordsStore, "\(path): transaction failed", cause: String(describing: error))
        }
        if let failure { throw failure }
    }

    private struct Writer: RecordStoreWriter {
        let db: Database

        /// The transaction is IMMEDIATE: it holds the database's write lock from its start, so
        /// the head read here cannot move before it commits.
        func lockVehicle(_ vin: String) throws(OTAError) -> ChainHead? {
            do {
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT headSeq, headHash FROM vehicle WHERE vin = ?", arguments: [vin])
                else {
                    return nil
                }
                return ChainHead(seq: try SQLiteRecordStore.unsigned(row["headSeq"]), hash: row["headHash"])
            } catch let error as OTAError {
                throw error
            } catch {
                throw OTAError(.recordsStore, "cannot read the head of \(vin)", cause: String(describing: error))
            }
        }

        func insert(_ entry: StoredEntry, body: EntryBody) throws(OTAError) {
            var attempt: String? = nil, campaign: String? = nil, bundle: String? = nil, ecus: String? = nil
            var step: String? = nil, outcome: String? = nil
            if case .record(let record) = body {
                attempt = record.attempt
                campaign = record.update?.campaign
                bundle = record.update?.bundle
                ecus = record.ecus.isEmpty ? nil : "," + record.ecus.map(\.ecu).joined(separator: ",") + ","
                step = record.step.rawValue
                outcome = record.outcome.rawValue
            }
            let seq = try SQLiteRecordStore.signed(entry.seq)
            do {
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT INTO entry (vin, seq, hash, prev, kind, time, attempt, campaign, bundle, ecus, step, outcome, body)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                try statement.execute(arguments: [
                    entry.vin, seq, entry.hash, entry.prev, entry.kind.rawValue, entry.time, attempt, campaign, bundle,
                    ecus, step,
                    outcome, entry.body,
                ])
            } catch {
                throw OTAError(
                    .recordsStore, "cannot store entry \(entry.seq) of \(entry.vin)", cause: String(describing: error))
            }
        }

        func setVehicle(_ vehicle: StoredVehicle) throws(OTAError) {
            let head = try SQLiteRecordStore.signed(vehicle.headSeq)
            var keys: [(StoredVehicle.Key, Int64)] = []
            for key in vehicle.keys { keys.append((key, try SQLiteRecordStore.signed(key.fromSeq))) }
            do {
                try db.execute(
                    sql: """
                        INSERT INTO vehicle (vin, hashAlgorithm, genesis, keyId, headSeq, headHash) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (vin) DO UPDATE SET keyId = excluded.keyId, headSeq = excluded.headSeq, headHash = excluded.headHash
                        """,
                    arguments: [
                        vehicle.vin, vehicle.hashAlgorithm.rawValue, vehicle.genesis, vehicle.keyID, head,
                        vehicle.headHash,
                    ])
                for (key, from) in keys {
                    try db.execute(
                        sql: """
                            INSERT INTO vehicleKey (vin, keyId, publicKey, certificate, fromSeq) VALUES (?, ?, ?, ?, ?)
                            ON CONFLICT (vin, keyId) DO UPDATE SET certificate = COALESCE(vehicleKey.certificate, excluded.certificate)
                            """, arguments: [vehicle.vin, key.keyID, Data(key.publicKey), key.certificate, from])
                }
            } catch {
                throw OTAError(
                    .recordsStore, "cannot store the head of \(vehicle.vin)", cause: String(describing: error))
            }
        }

        func addSoftwareChange(_ change: SoftwareChange) throws(OTAError) {
            let seq = try SQLiteRecordStore.signed(change.seq)
            do {
                try db.execute(
                    sql: """
                        INSERT INTO software (vin, ecu, seq, time, attempt, bundle, campaign, hardwarePart, versionBefore, versionAfter,
                            securityVersionAfter, swinBefore, swinAfter, rxswinBefore, rxswinAfter, imageHashAfter)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        change.vin, change.ecu, seq, change.time, change.attempt, change.bundle, change.campaign,
                        change.hardwarePart,
                        change.versionBefore, change.versionAfter, change.securityVersionAfter, change.swinBefore,
                        change.swinAfter,
                        change.rxswinBefore, change.rxswinAfter, change.imageHashAfter,
                    ])
                try db.execute(
                    sql: """
                        INSERT INTO currentSoftware (vin, ecu, seq, swin, rxswin) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (vin, ecu) DO UPDATE SET seq = excluded.seq, swin = COALESCE(excluded.swin, currentSoftware.swin),
                            rxswin = COALESCE(excluded.rxswin, currentSoftware.rxswin)
                        """, arguments: [change.vin, change.ecu, seq, change.swinAfter, change.rxswinAfter])
            } catch {
                throw OTAError(
                    .recordsStore, "cannot store the register entry of \(change.vin) \(change.ecu)",
                    cause: String(describing: error))
            }
        }

        func deleteEntries(before cutoff: String) throws(OTAError) -> Int {
            do {
                try db.execute(sql: "DELETE FROM entry WHERE time < ?", arguments: [cutoff])
                return db.changesCount
            } catch {
                throw OTAError(.recordsStore, "cannot delete entries", cause: String(describing: error))
            }
        }

        func addPurge(_ tombstone: PurgeTombstone) throws(OTAError) {
            do {
                try db.execute(
                    sql: "INSERT INTO purge (tombstone) VALUES (?)",
                    arguments: [String(decoding: tombstone.signedJSON.bytes, as: UTF8.self)])
            } catch {
                throw OTAError(.recordsStore, "cannot store a purge tombstone", cause: String(describing: error))
            }
        }

        func recordActivity(_ time: Date) throws(OTAError) {
            do {
                try db.execute(
                    sql: """
                        INSERT INTO activity (id, latest) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET latest = MAX(latest, excluded.latest)
                        """, arguments: [RecordTime.format(time)])
            } catch {
                throw OTAError(.recordsStore, "cannot record the store's activity", cause: String(describing: error))
            }
        }
    }

    // MARK: Reading

    private func whereClause(_ filter: RecordFilter) -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        func add(_ sql: String, _ value: String?) {
            guard let value else { return }
            conditions.append(sql)
            _ = arguments.append(contentsOf: [value])
        }
        add("vin = ?", filter.vin)
        add("campaign = ?", filter.campaign)
        add("bundle = ?", filter.bundle)
        add("instr(ecus, ?) > 0", filter.ecu.map { "," + $0 + "," })
        add("step = ?", filter.step?.rawValue)
        add("outcome = ?", filter.outcome?.rawValue)
        add("attempt = ?", filter.attempt)
        add("time >= ?", filter.from)
        add("time < ?", filter.to)
        if !filter.kinds.isEmpty {
            conditions.append("kind IN (" + filter.kinds.map { _ in "?" }.joined(separator: ", ") + ")")
            _ = arguments.append(contentsOf: StatementArguments(filter.kinds.map(\.rawValue)))
        }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    private static func entry(_ row: Row) throws(OTAError) -> StoredEntry {
        let kindName: String = row["kind"]
        guard let kind = LogEntry.Kind(rawValue: kindName) else {
            throw OTAError(.recordsStore, "a stored entry has kind \(kindName)")
        }
        return StoredEntry(
            vin: row["vin"], seq: try unsigned(row["seq"]), hash: row["hash"], prev: row["prev"], kind: kind,
            time: row["time"],
            body: row["body"])
    }

    /// Entries matching `clause` (`" WHERE …"` or empty) in (vin, seq) order, read a page at a
    /// time: `body` runs outside the database's queue. Holding the read open while `body`
    /// waited on a slow client (a streamed `/v1/records`) held every upload, head request and
    /// export of the service behind it. Entries are only appended or purged, so the pages read
    /// what a single read would, less what a purge removed meanwhile.
    private func stream(
        _ clause: String, _ arguments: StatementArguments, _ body: (StoredEntry) throws(OTAError) -> Void
    )
        throws(OTAError)
    {
        var after: (vin: String, seq: Int64)? = nil
        while true {
            var sql = "SELECT * FROM entry" + clause
            var pageArguments = arguments
            if let after {
                sql += (clause.isEmpty ? " WHERE " : " AND ") + "(vin > ? OR (vin = ? AND seq > ?))"
                _ = pageArguments.append(contentsOf: [after.vin, after.vin, after.seq])
            }
            sql += " ORDER BY vin, seq LIMIT \(Self.streamPage)"
            let page: [StoredEntry] = try run {
                try queue.read { db in
                    try Row.fetchAll(db, sql: sql, arguments: pageArguments).map { (row) throws(OTAError) in
                        try Self.entry(row)
                    }
                }
            }
            for entry in page { try body(entry) }
            guard page.count == Self.streamPage, let last = page.last else { return }
            after = (last.vin, try Self.signed(last.seq))
        }
    }

    /// Entries read at a time by `stream` (about 1 KB each).
    package static let streamPage = 1000

    public func entries(matching filter: RecordFilter, _ body: (StoredEntry) throws(OTAError) -> Void) throws(OTAError)
    {
        let (clause, arguments) = whereClause(filter)
        try stream(clause, arguments, body)
    }

    public func count(matching filter: RecordFilter) throws(OTAError) -> Int {
        let (clause, arguments) = whereClause(filter)
        return try run {
            try queue.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry\(clause)", arguments: arguments) ?? 0
            }
        }
    }

    public func chain(of vin: String, from: UInt64, through: UInt64, _ body: (StoredEntry) throws(OTAError) -> Void)
        throws(OTAError)
    {
        try stream(
            " WHERE vin = ? AND seq >= ? AND seq <= ?", [vin, try Self.signed(from), try Self.signed(through)], body)
    }

    public func checkpoint(of vin: String, atOrBefore seq: UInt64) throws(OTAError) -> UInt64? {
        let bound = try Self.signed(seq)
        let found: Int64? = try run {
            try queue.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT MAX(seq) FROM entry WHERE vin = ? AND kind = 'checkpoint' AND seq <= ?",
                    arguments: [vin, bound])
            }
        }
        return try found.map { (value: Int64) throws(OTAError) -> UInt64 in try Self.unsigned(value) }
    }

    public func checkpoint(of vin: String, atOrAfter seq: UInt64) throws(OTAError) -> UInt64? {
        let bound = try Self.signed(seq)
        let found: Int64? = try run {
            try queue.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT MIN(seq) FROM entry WHERE vin = ? AND kind = 'checkpoint' AND seq >= ?",
                    arguments: [vin, bound])
            }
        }
        return try found.map { (value: Int64) throws(OTAError) -> UInt64 in try Self.unsigned(value) }
    }

    private static func change(_ row: Row) throws(OTAError) -> SoftwareChange {
        SoftwareChange(
            vin: row["vin"], ecu: row["ecu"], seq: try unsigned(row["seq"]), time: row["time"], attempt: row["attempt"],
            bundle: row["bundle"],
            campaign: row["campaign"], hardwarePart: row["hardwarePart"], versionBefore: row["versionBefore"],
            versionAfter: row["versionAfter"],
            securityVersionAfter: row["securityVersionAfter"], swinBefore: row["swinBefore"],
            swinAfter: row["swinAfter"],
            rxswinBefore: row["rxswinBefore"], rxswinAfter: row["rxswinAfter"], imageHashAfter: row["imageHashAfter"])
    }

    public func softwareHistory(of vin: String) throws(OTAError) -> [SoftwareChange] {
        let rows = try run {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM software WHERE vin = ? ORDER BY seq, ecu", arguments: [vin])
            }
        }
        var changes: [SoftwareChange] = []
        for row in rows { changes.append(try Self.change(row)) }
        return changes
    }

    public func vehicles(runningSWIN swin: String?, rxswin: String?) throws(OTAError) -> [SoftwareChange] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let swin { conditions.append("c.swin = ?"); _ = arguments.append(contentsOf: [swin]) }
        if let rxswin { conditions.append("c.rxswin = ?"); _ = arguments.append(contentsOf: [rxswin]) }
        guard !conditions.isEmpty else { return [] }
        let sql = """
            SELECT s.* FROM currentSoftware c JOIN software s ON s.vin = c.vin AND s.ecu = c.ecu AND s.seq = c.seq
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY c.vin, c.ecu
            """
        let rows = try run { try queue.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) } }
        var changes: [SoftwareChange] = []
        for row in rows { changes.append(try Self.change(row)) }
        return changes
    }

    public func purges() throws(OTAError) -> [PurgeTombstone] {
        let texts = try run {
            try queue.read { db in try String.fetchAll(db, sql: "SELECT tombstone FROM purge ORDER BY id") }
        }
        var tombstones: [PurgeTombstone] = []
        for text in texts {
            let json: JSONValue
            do { json = try JSONValue.parse(Array(text.utf8)) } catch {
                throw OTAError(.recordsStore, "a stored purge tombstone: \(error.message)")
            }
            tombstones.append(try PurgeTombstone(signedJSON: json, source: "purge"))
        }
        return tombstones
    }

    public func lastActivity() throws(OTAError) -> Date? {
        let text = try run {
            try queue.read { db in try String.fetchOne(db, sql: "SELECT latest FROM activity WHERE id = 1") }
        }
        return text.flatMap(RecordTime.parse)
    }

    public func entriesBefore(_ cutoff: String) throws(OTAError) -> (count: Int, newest: String?) {
        try run {
            try queue.read { db in
                let row = try Row.fetchOne(
                    db, sql: "SELECT COUNT(*) AS n, MAX(time) AS newest FROM entry WHERE time < ?", arguments: [cutoff])
                return (row?["n"] ?? 0, row?["newest"])
            }
        }
    }

    private func run<T>(_ body: () throws -> T) throws(OTAError) -> T {
        do { return try body() } catch let error as OTAError { throw error } catch {
            throw OTAError(.recordsStore, "\(path): database error", cause: String(describing: error))
        }
    }
}
