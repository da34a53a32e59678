public import Foundation
public import OTACore
internal import GRDB
internal import OTARecorder

/// The fleet record store in one SQLite file, through GRDB.
public final class SQLiteRecordStore: RecordStore {
    private let queue: DatabaseQueue
    public let path: String

    /// Opens (creating and migrating when needed) the store at `path`.
    public init(path: String) throws(OTAError) {
        self.path = path
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
            migrator.registerMigration("v1") { db in
                try db.execute(sql: """
                    CREATE TABLE vehicle (
                        vin TEXT PRIMARY KEY NOT NULL, keyId TEXT NOT NULL, hashAlgorithm TEXT NOT NULL,
                        headSeq INTEGER NOT NULL, headHash TEXT NOT NULL);
                    CREATE TABLE entry (
                        vin TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, prev TEXT NOT NULL,
                        kind TEXT NOT NULL, time TEXT, campaign TEXT, bundle TEXT, ecu TEXT, step TEXT,
                        result TEXT, body TEXT NOT NULL);
                    CREATE UNIQUE INDEX entry_chain ON entry (vin, seq);
                    CREATE INDEX entry_campaign ON entry (campaign, vin, seq);
                    CREATE INDEX entry_time ON entry (time);
                    """)
            }
            try migrator.migrate(queue)
        } catch {
            throw OTAError(.recordsStore, "\(path): cannot open the record store", cause: String(describing: error))
        }
    }

    public func head(of vin: String) throws(OTAError) -> ChainHead? {
        try run {
            try queue.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM vehicle WHERE vin = ?", arguments: [vin]).map { row in
                    ChainHead(vin: row["vin"], seq: UInt64(row["headSeq"] as Int64), hash: row["headHash"],
                              keyID: row["keyId"], hashAlgorithm: row["hashAlgorithm"])
                }
            }
        }
    }

    public func hash(of vin: String, seq: UInt64) throws(OTAError) -> String? {
        try run {
            try queue.read { db in
                try String.fetchOne(db, sql: "SELECT hash FROM entry WHERE vin = ? AND seq = ?", arguments: [vin, Int64(seq)])
            }
        }
    }

    public func transaction(_ body: (any RecordStoreWriter) throws(OTAError) -> Void) throws(OTAError) {
        var failure: OTAError? = nil
        do {
            try queue.inTransaction { db in
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

        func insert(_ entry: StoredEntry) throws(OTAError) {
            do {
                let statement = try db.cachedStatement(sql: """
                    INSERT INTO entry (vin, seq, hash, prev, kind, time, campaign, bundle, ecu, step, result, body)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                try statement.execute(arguments: [
                    entry.vin, Int64(entry.seq), entry.hash, entry.prev, entry.kind, entry.time, entry.campaign,
                    entry.bundle, entry.ecu, entry.step, entry.result, entry.body,
                ])
            } catch {
                throw OTAError(.recordsStore, "cannot store entry \(entry.seq) of \(entry.vin)", cause: String(describing: error))
            }
        }

        func hash(of vin: String, seq: UInt64) throws(OTAError) -> String? {
            do {
                return try String.fetchOne(db, sql: "SELECT hash FROM entry WHERE vin = ? AND seq = ?", arguments: [vin, Int64(seq)])
            } catch {
                throw OTAError(.recordsStore, "cannot read entry \(seq) of \(vin)", cause: String(describing: error))
            }
        }

        func setHead(_ head: ChainHead) throws(OTAError) {
            do {
                try db.execute(sql: """
                    INSERT INTO vehicle (vin, keyId, hashAlgorithm, headSeq, headHash) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (vin) DO UPDATE SET keyId = excluded.keyId, hashAlgorithm = excluded.hashAlgorithm,
                        headSeq = excluded.headSeq, headHash = excluded.headHash
                    """, arguments: [head.vin, head.keyID, head.hashAlgorithm, Int64(head.seq), head.hash])
            } catch {
                throw OTAError(.recordsStore, "cannot store the head of \(head.vin)", cause: String(describing: error))
            }
        }
    }

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
        add("ecu = ?", filter.ecu)
        add("result = ?", filter.result)
        add("time >= ?", filter.from)
        add("time < ?", filter.to)
        if !filter.kinds.isEmpty {
            conditions.append("kind IN (" + filter.kinds.map { _ in "?" }.joined(separator: ", ") + ")")
            _ = arguments.append(contentsOf: StatementArguments(filter.kinds))
        }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    public func entries(matching filter: RecordFilter, _ body: (StoredEntry) throws(OTAError) -> Void) throws(OTAError) {
        let (clause, arguments) = whereClause(filter)
        var failure: OTAError? = nil
        do {
            try queue.read { db in
                let rows = try Row.fetchCursor(db, sql: "SELECT * FROM entry\(clause) ORDER BY vin, seq", arguments: arguments)
                while let row = try rows.next() {
                    let entry = StoredEntry(
                        vin: row["vin"], seq: UInt64(row["seq"] as Int64), hash: row["hash"], prev: row["prev"], kind: row["kind"],
                        time: row["time"], campaign: row["campaign"], bundle: row["bundle"], ecu: row["ecu"], step: row["step"],
                        result: row["result"], body: row["body"])
                    do { try body(entry) } catch let error as OTAError { failure = error; return }
                }
            }
        } catch {
            throw OTAError(.recordsStore, "\(path): query failed", cause: String(describing: error))
        }
        if let failure { throw failure }
    }

    public func count(matching filter: RecordFilter) throws(OTAError) -> Int {
        let (clause, arguments) = whereClause(filter)
        return try run { try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry\(clause)", arguments: arguments) ?? 0 } }
    }

    public func purge(before cutoff: Date, now: Date, minimumYears: Int = 10) throws(OTAError) -> Int {
        try checkPurge(before: cutoff, now: now, minimumYears: minimumYears)
        return try run {
            try queue.write { db in
                try db.execute(sql: "DELETE FROM entry WHERE time < ?", arguments: [RecordTime.format(cutoff)])
                return db.changesCount
            }
        }
    }

    private func run<T>(_ body: () throws -> T) throws(OTAError) -> T {
        do { return try body() } catch {
            throw OTAError(.recordsStore, "\(path): database error", cause: String(describing: error))
        }
    }
}
