public import Foundation
import NIOCore
public import OTACompliance
public import OTACore
import OTARecorder
import PostgresNIO
import Synchronization

/// The fleet record store on PostgreSQL (postgres-nio), for a fleet one SQLite file outgrows.
///
/// The same `RecordStore` calls as `SQLiteRecordStore`, and the same rules (the chain logic stays
/// in `FleetIngest`, `FleetPurge` and `Exporter`). What differs:
/// - entries live in a table partitioned by month of their time (`entry_pYYYYMM`, created when a
///   month first appears); a retention purge drops whole months (`DROP TABLE`, recorded in
///   `partition_drop`) and deletes rows only in the month the cutoff falls in;
/// - queries are indexed by VIN, campaign, bundle, ECU (GIN over the ECU array), time, and the
///   register by current SWIN and RXSWIN;
/// - `vehicle_month` lists the months each vehicle has entries in (written in the transaction
///   that stores the entries, a month cleared by the purge that drops it): a read by VIN first reads
///   that list and names those months' time ranges, so PostgreSQL plans and scans only their
///   partitions (a VIN names no time; unbounded, it visits every month, 120 after ten years);
/// - connections come from a bounded pool; entries stream through a server-side cursor in pages
///   of 500 rows (one vehicle's chain in pages by entry number), so memory does not grow with
///   the result; every round trip counts (a thread hop each way and PostgreSQL's process), so a
///   vehicle is read in one statement and a short page ends a read.
public final class PostgresRecordStore: RecordStore, Sendable {
    public let location: PostgresLocation
    public var identity: String { location.redacted }
    private let pool: PostgresPool
    /// Months whose partition is known to exist (`YYYYMM`).
    private let months = Mutex<Set<Int>>([])

    /// A dropped month, as recorded in `partition_drop`.
    public struct PartitionDrop: Sendable, Equatable, Encodable {
        public var partition: String
        public var from: String
        public var to: String
        public var rows: Int64
        public var droppedAt: String
    }

    /// Connects (at most `connections` at once) and creates or checks the schema.
    public init(location: PostgresLocation, connections: Int = 8) throws(OTAError) {
        self.location = location
        pool = PostgresPool(location: location, size: connections)
        try migrate()
        try refreshMonths()
    }

    public convenience init(url: String, connections: Int = 8) throws(OTAError) {
        try self.init(location: PostgresLocation(url: url), connections: connections)
    }

    /// Closes the pool's connections.
    public func close() { pool.close() }

    /// 2 added `vehicle_month` (a store of schema 1 is migrated when opened).
    static let schemaVersion = 2
    /// Rows per multi-row INSERT: 13 binds an entry, well under PostgreSQL's 65,535 per statement.
    static let batchRows = 1000
    /// The first key of the per-vehicle advisory locks (the second is the VIN's hash), apart
    /// from the schema lock (727001).
    static let vehicleLockClass: Int32 = 727_002

    private func migrate() throws(OTAError) {
        try pool.withConnection { connection throws(OTAError) in
            try Self.run(connection, "SELECT pg_advisory_lock(727001)", what: "lock the schema")
            defer { _ = try? Self.run(connection, "SELECT pg_advisory_unlock(727001)", what: "unlock the schema") }
            try Self.run(
                connection, "CREATE TABLE IF NOT EXISTS ota_schema (version integer NOT NULL)",
                what: "create the schema table")
            let rows = try Self.run(connection, "SELECT version FROM ota_schema", what: "read the schema version")
            var version: Int? = nil
            for row in rows { version = try Self.decode(row, "version", Int.self) }
            if version == 1 {
                try Self.script(
                    connection,
                    "BEGIN;\n" + Self.vehicleMonthSchema + Self.vehicleMonthFill
                        + "UPDATE ota_schema SET version = \(Self.schemaVersion);\nCOMMIT;\n",
                    what: "migrate the schema to version \(Self.schemaVersion)")
                return
            }
            if let version {
                guard version == Self.schemaVersion else {
                    throw OTAError(
                        .recordsStore,
                        "\(identity): a fleet store of schema \(version); this ota reads schema \(Self.schemaVersion)")
                }
                return
            }
            try Self.script(
                connection,
                """
                BEGIN;
                CREATE TABLE vehicle (
                    vin text PRIMARY KEY, hash_algorithm text NOT NULL, genesis text NOT NULL, key_id text NOT NULL,
                    head_seq bigint NOT NULL, head_hash text NOT NULL);
                CREATE TABLE vehicle_key (
                    vin text NOT NULL, key_id text NOT NULL, public_key bytea NOT NULL, certificate text, from_seq bigint NOT NULL,
                    PRIMARY KEY (vin, key_id));
                CREATE TABLE entry (
                    vin text NOT NULL, seq bigint NOT NULL, hash text NOT NULL, prev text NOT NULL, kind text NOT NULL,
                    time text COLLATE "C" NOT NULL, attempt text, campaign text, bundle text, ecus text[], step text, outcome text,
                    body text NOT NULL
                ) PARTITION BY RANGE (time);
                CREATE UNIQUE INDEX entry_chain ON entry (vin, seq, time);
                CREATE INDEX entry_campaign ON entry (campaign, vin, seq);
                CREATE INDEX entry_bundle ON entry (bundle);
                CREATE INDEX entry_time ON entry (time);
                CREATE INDEX entry_ecus ON entry USING gin (ecus);
                CREATE TABLE software (
                    vin text NOT NULL, ecu text NOT NULL, seq bigint NOT NULL, time text NOT NULL, attempt text, bundle text,
                    campaign text, hardware_part text, version_before text, version_after text, security_version_after text,
                    swin_before text, swin_after text, rxswin_before text, rxswin_after text, image_hash_after text,
                    PRIMARY KEY (vin, ecu, seq));
                CREATE TABLE current_software (
                    vin text NOT NULL, ecu text NOT NULL, seq bigint NOT NULL, swin text, rxswin text, PRIMARY KEY (vin, ecu));
                CREATE INDEX current_swin ON current_software (swin);
                CREATE INDEX current_rxswin ON current_software (rxswin);
                CREATE TABLE purge (id bigserial PRIMARY KEY, tombstone text NOT NULL);
                CREATE TABLE activity (id integer PRIMARY KEY CHECK (id = 1), latest text COLLATE "C" NOT NULL);
                CREATE TABLE partition_drop (
                    id bigserial PRIMARY KEY, partition text NOT NULL, range_from text NOT NULL, range_to text NOT NULL,
                    row_count bigint NOT NULL, dropped_at text NOT NULL);

                """ + Self.vehicleMonthSchema + """
                    INSERT INTO ota_schema (version) VALUES (\(Self.schemaVersion));
                    COMMIT;

                    """, what: "create the schema")
        }
    }

    /// The months (`YYYYMM`) each vehicle has entries in; by month too, for the purge.
    static let vehicleMonthSchema = """
        CREATE TABLE vehicle_month (vin text NOT NULL, month integer NOT NULL, PRIMARY KEY (vin, month));
        CREATE INDEX vehicle_month_month ON vehicle_month (month);

        """
    /// Fills `vehicle_month` from the stored entries (migrating a store of schema 1).
    static let vehicleMonthFill = """
        INSERT INTO vehicle_month (vin, month)
        SELECT DISTINCT vin, (substr(time, 1, 4) || substr(time, 6, 2))::integer FROM entry;

        """

    // MARK: Months and partitions

    /// `YYYYMM` of an RFC 3339 time (the store's times are `YYYY-MM-DDTHH:MM:SS.sssZ`).
    static func month(of time: String) throws(OTAError) -> Int {
        let bytes = Array(time.utf8)
        guard bytes.count >= 7, bytes[4] == UInt8(ascii: "-"),
            let year = Int(String(decoding: bytes[0..<4], as: UTF8.self)),
            let month = Int(String(decoding: bytes[5..<7], as: UTF8.self)),
            (1...12).contains(month)
        else { throw OTAError(.recordsStore, "entry time \(time) is not RFC 3339 (YYYY-MM-...)") }
        return year * 100 + month
    }

    static func bounds(of month: Int) -> (from: String, to: String) {
        let year = month / 100, number = month % 100
        let next = number == 12 ? (year + 1) * 100 + 1 : month + 1
        func text(_ value: Int) -> String {
            let y = String(value / 100), m = String(value % 100)
            return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count == 1 ? "0" + m : m)
                + "-01T00:00:00.000Z"
        }
        return (text(month), text(next))
    }

    static func partitionName(_ month: Int) -> String { "entry_p\(month)" }

    private func refreshMonths() throws(OTAError) {
        let names = try pool.withConnection { connection throws(OTAError) in
            try Self.run(
                connection,
                """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'entry'::regclass
                """, what: "list the partitions")
        }
        var found: Set<Int> = []
        for row in names {
            let name = try Self.decode(row, "relname", String.self)
            if name.hasPrefix("entry_p"), let month = Int(name.dropFirst(7)) { found.insert(month) }
        }
        months.withLock { $0 = found }
    }

    /// The months that have a partition, oldest first.
    public func partitions() throws(OTAError) -> [String] {
        try refreshMonths()
        return months.withLock { $0.sorted().map(Self.partitionName) }
    }

    /// Every partition drop a purge made, oldest first.
    public func partitionDrops() throws(OTAError) -> [PartitionDrop] {
        let rows = try pool.withConnection { connection throws(OTAError) in
            try Self.run(
                connection,
                "SELECT partition, range_from, range_to, row_count, dropped_at FROM partition_drop ORDER BY id",
                what: "read the partition drops")
        }
        var drops: [PartitionDrop] = []
        for row in rows {
            drops.append(
                PartitionDrop(
                    partition: try Self.decode(row, "partition", String.self),
                    from: try Self.decode(row, "range_from", String.self),
                    to: try Self.decode(row, "range_to", String.self),
                    rows: try Self.decode(row, "row_count", Int64.self),
                    droppedAt: try Self.decode(row, "dropped_at", String.self)))
        }
        return drops
    }

    // MARK: Vehicles

    public func vehicle(_ vin: String) throws(OTAError) -> StoredVehicle? {
        // The vehicle and its keys in one statement (one row per key; the key columns are NULL
        // for a vehicle without keys): an export reads this once per vehicle, an upload once.
        let rows = try pool.withConnection { connection throws(OTAError) in
            try Self.run(
                connection,
                """
                SELECT v.hash_algorithm, v.genesis, v.key_id, v.head_seq, v.head_hash, k.key_id AS stored_key_id,
                    k.public_key, k.certificate, k.from_seq
                FROM vehicle v LEFT JOIN vehicle_key k ON k.vin = v.vin WHERE v.vin = \(vin) ORDER BY k.from_seq
                """, what: "read vehicle \(vin)")
        }
        guard let row = rows.first else { return nil }
        var keys: [StoredVehicle.Key] = []
        for key in rows {
            guard let keyID = try Self.decode(key, "stored_key_id", String?.self) else { continue }
            var buffer = try Self.decode(key, "public_key", ByteBuffer.self)
            keys.append(
                StoredVehicle.Key(
                    keyID: keyID, publicKey: buffer.readBytes(length: buffer.readableBytes) ?? [],
                    certificate: try Self.decode(key, "certificate", String?.self),
                    fromSeq: try Self.unsigned(try Self.decode(key, "from_seq", Int64.self))))
        }
        let hashName = try Self.decode(row, "hash_algorithm", String.self)
        guard let hash = HashAlgorithm(rawValue: hashName) else {
            throw OTAError(.recordsStore, "vehicle \(vin): unknown hash \(hashName)")
        }
        return StoredVehicle(
            vin: vin, hashAlgorithm: hash, genesis: try Self.decode(row, "genesis", String.self),
            headSeq: try Self.unsigned(try Self.decode(row, "head_seq", Int64.self)),
            headHash: try Self.decode(row, "head_hash", String.self),
            keyID: try Self.decode(row, "key_id", String.self), keys: keys)
    }

    // MARK: Writing

    package func transaction(_ body: (any RecordStoreWriter) throws(OTAError) -> Void) throws(OTAError) {
        try pool.withConnection { connection throws(OTAError) in
            try Self.run(connection, "BEGIN", what: "begin a transaction")
            let writer = Writer(store: self, connection: connection)
            do throws(OTAError) {
                try body(writer)
                try writer.flush()
                try Self.run(connection, "COMMIT", what: "commit")
            } catch {
                _ = try? Self.run(connection, "ROLLBACK", what: "roll back")
                throw error
            }
            months.withLock { known in
                known.formUnion(writer.created.withLock { $0 })
                known.subtract(writer.dropped.withLock { $0 })
            }
        }
    }

    private final class Writer: RecordStoreWriter, Sendable {
        let store: PostgresRecordStore
        let connection: PostgresConnection
        /// Partitions this transaction created or dropped: the store's list follows at commit.
        let created = Mutex<Set<Int>>([])
        let dropped = Mutex<Set<Int>>([])

        init(store: PostgresRecordStore, connection: PostgresConnection) {
            self.store = store
            self.connection = connection
        }

        private func ensurePartition(_ month: Int) throws(OTAError) {
            if store.months.withLock({ $0.contains(month) }) || created.withLock({ $0.contains(month) }) { return }
            let (from, to) = PostgresRecordStore.bounds(of: month)
            // Another upload may be creating the same month: its CREATE commits first and ours
            // then fails as a duplicate, which only the savepoint undoes (the table is there).
            try PostgresRecordStore.run(connection, "SAVEPOINT ota_partition", what: "mark a savepoint")
            do {
                _ = try connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(PostgresRecordStore.partitionName(month)) PARTITION OF entry FOR VALUES FROM ('\(from)') TO ('\(to)')
                            """), logger: connection.logger
                ).wait()
                try PostgresRecordStore.run(connection, "RELEASE SAVEPOINT ota_partition", what: "release a savepoint")
            } catch let error as OTAError {
                throw error
            } catch {
                guard let state = PostgresPool.sqlState(error), state == "42P07" || state == "23505" else {
                    throw OTAError(
                        .recordsStore, "PostgreSQL: cannot create the partition of \(from)",
                        cause: PostgresPool.describe(error))
                }
                try PostgresRecordStore.run(
                    connection, "ROLLBACK TO SAVEPOINT ota_partition", what: "roll back to a savepoint")
            }
            created.withLock { _ = $0.insert(month) }
        }

        struct VehicleMonth: Hashable, Sendable {
            var vin: String
            var month: Int
        }
        /// The vehicles' months this transaction has written to `vehicle_month`.
        let written = Mutex<Set<VehicleMonth>>([])

        /// Entries waiting for their multi-row INSERT (written at `batchRows`, and before commit).
        let pendingEntries = Mutex<[(StoredEntry, EntryBody)]>([])
        let pendingChanges = Mutex<[SoftwareChange]>([])

        /// Waits for the vehicle's advisory lock (held until this transaction ends, in whichever
        /// service process holds it), then reads its head.
        func lockVehicle(_ vin: String) throws(OTAError) -> ChainHead? {
            try PostgresRecordStore.run(
                connection, "SELECT pg_advisory_xact_lock(\(PostgresRecordStore.vehicleLockClass), hashtext(\(vin)))",
                what: "lock the chain of \(vin)")
            let rows = try PostgresRecordStore.run(
                connection, "SELECT head_seq, head_hash FROM vehicle WHERE vin = \(vin)",
                what: "read the head of \(vin)")
            guard let row = rows.first else { return nil }
            return ChainHead(
                seq: try PostgresRecordStore.unsigned(try PostgresRecordStore.decode(row, "head_seq", Int64.self)),
                hash: try PostgresRecordStore.decode(row, "head_hash", String.self))
        }

        func insert(_ entry: StoredEntry, body: EntryBody) throws(OTAError) {
            let count = pendingEntries.withLock { pending in
                pending.append((entry, body))
                return pending.count
            }
            if count >= PostgresRecordStore.batchRows { try flush() }
        }

        func addSoftwareChange(_ change: SoftwareChange) throws(OTAError) {
            let count = pendingChanges.withLock { pending in
                pending.append(change)
                return pending.count
            }
            if count >= PostgresRecordStore.batchRows { try flush() }
        }

        /// Writes what is pending: entries in one multi-row INSERT per batch, register changes
        /// in another, and each ECU's current software once per batch (its last change wins, a
        /// missing SWIN keeps the one before, as row by row).
        func flush() throws(OTAError) {
            let entries = pendingEntries.withLock { pending in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            if !entries.isEmpty {
                var months: Set<Int> = []
                var vehicleMonths: [VehicleMonth] = []
                for (entry, _) in entries {
                    let month = try PostgresRecordStore.month(of: entry.time)
                    months.insert(month)
                    let pair = VehicleMonth(vin: entry.vin, month: month)
                    if written.withLock({ $0.insert(pair).inserted }) { vehicleMonths.append(pair) }
                }
                for month in months.sorted() { try ensurePartition(month) }
                if !vehicleMonths.isEmpty {
                    // In this transaction, so that a reader that sees an entry sees its month.
                    var binds = PostgresBindings(capacity: vehicleMonths.count * 2)
                    var rows: [String] = []
                    for pair in vehicleMonths {
                        binds.append(pair.vin)
                        binds.append(Int32(pair.month))
                        rows.append("($\(binds.count - 1),$\(binds.count))")
                    }
                    try PostgresRecordStore.run(
                        connection,
                        PostgresQuery(
                            unsafeSQL: "INSERT INTO vehicle_month (vin, month) VALUES \(rows.joined(separator: ",")) "
                                + "ON CONFLICT DO NOTHING", binds: binds),
                        what: "store the months of \(vehicleMonths.count) vehicles' entries")
                }
                var binds = PostgresBindings(capacity: entries.count * 13)
                var rows: [String] = []
                rows.reserveCapacity(entries.count)
                for (entry, body) in entries {
                    var attempt: String? = nil, campaign: String? = nil, bundle: String? = nil, ecus: [String]? = nil
                    var step: String? = nil, outcome: String? = nil
                    if case .record(let record) = body {
                        attempt = record.attempt
                        campaign = record.update?.campaign
                        bundle = record.update?.bundle
                        ecus = record.ecus.isEmpty ? nil : record.ecus.map(\.ecu)
                        step = record.step.rawValue
                        outcome = record.outcome.rawValue
                    }
                    let first = binds.count + 1
                    binds.append(entry.vin)
                    binds.append(try PostgresRecordStore.signed(entry.seq))
                    binds.append(entry.hash)
                    binds.append(entry.prev)
                    binds.append(entry.kind.rawValue)
                    binds.append(entry.time)
                    binds.append(attempt)
                    binds.append(campaign)
                    binds.append(bundle)
                    binds.append(ecus)
                    binds.append(step)
                    binds.append(outcome)
                    binds.append(entry.body)
                    rows.append("(" + (first..<(first + 13)).map { "$\($0)" }.joined(separator: ",") + ")")
                }
                let last = entries[entries.count - 1].0
                try PostgresRecordStore.run(
                    connection,
                    PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO entry (vin, seq, hash, prev, kind, time, attempt, campaign, bundle, ecus, step, outcome, body) VALUES
                            \(rows.joined(separator: ","))
                            """, binds: binds),
                    what: "store \(entries.count) entries of \(last.vin) through \(last.seq)")
            }
            let changes = pendingChanges.withLock { pending in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            if changes.isEmpty { return }
            var binds = PostgresBindings(capacity: changes.count * 16)
            var rows: [String] = []
            var current: [String: (vin: String, ecu: String, seq: Int64, swin: String?, rxswin: String?)] = [:]
            for change in changes {
                let seq = try PostgresRecordStore.signed(change.seq)
                let first = binds.count + 1
                binds.append(change.vin)
                binds.append(change.ecu)
                binds.append(seq)
                binds.append(change.time)
                binds.append(change.attempt)
                binds.append(change.bundle)
                binds.append(change.campaign)
                binds.append(change.hardwarePart)
                binds.append(change.versionBefore)
                binds.append(change.versionAfter)
                binds.append(change.securityVersionAfter)
                binds.append(change.swinBefore)
                binds.append(change.swinAfter)
                binds.append(change.rxswinBefore)
                binds.append(change.rxswinAfter)
                binds.append(change.imageHashAfter)
                rows.append("(" + (first..<(first + 16)).map { "$\($0)" }.joined(separator: ",") + ")")
                let key = change.vin + "\u{0}" + change.ecu
                let before = current[key]
                current[key] = (
                    change.vin, change.ecu, seq, change.swinAfter ?? before?.swin, change.rxswinAfter ?? before?.rxswin
                )
            }
            try PostgresRecordStore.run(
                connection,
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO software (vin, ecu, seq, time, attempt, bundle, campaign, hardware_part, version_before, version_after,
                            security_version_after, swin_before, swin_after, rxswin_before, rxswin_after, image_hash_after) VALUES
                        \(rows.joined(separator: ","))
                        """, binds: binds), what: "store \(changes.count) register changes")
            var currentBinds = PostgresBindings(capacity: current.count * 5)
            var currentRows: [String] = []
            for (_, value) in current.sorted(by: { $0.key < $1.key }) {
                let first = currentBinds.count + 1
                currentBinds.append(value.vin)
                currentBinds.append(value.ecu)
                currentBinds.append(value.seq)
                currentBinds.append(value.swin)
                currentBinds.append(value.rxswin)
                currentRows.append("(" + (first..<(first + 5)).map { "$\($0)" }.joined(separator: ",") + ")")
            }
            try PostgresRecordStore.run(
                connection,
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO current_software (vin, ecu, seq, swin, rxswin) VALUES \(currentRows.joined(separator: ","))
                        ON CONFLICT (vin, ecu) DO UPDATE SET seq = excluded.seq, swin = COALESCE(excluded.swin, current_software.swin),
                            rxswin = COALESCE(excluded.rxswin, current_software.rxswin)
                        """, binds: currentBinds), what: "store the current software of \(current.count) ECUs")
        }

        func setVehicle(_ vehicle: StoredVehicle) throws(OTAError) {
            let head = try PostgresRecordStore.signed(vehicle.headSeq)
            try PostgresRecordStore.run(
                connection,
                """
                INSERT INTO vehicle (vin, hash_algorithm, genesis, key_id, head_seq, head_hash)
                VALUES (\(vehicle.vin), \(vehicle.hashAlgorithm.rawValue), \(vehicle.genesis), \(vehicle.keyID), \(head), \(vehicle.headHash))
                ON CONFLICT (vin) DO UPDATE SET key_id = excluded.key_id, head_seq = excluded.head_seq, head_hash = excluded.head_hash
                """, what: "store the head of \(vehicle.vin)")
            for key in vehicle.keys {
                let from = try PostgresRecordStore.signed(key.fromSeq)
                try PostgresRecordStore.run(
                    connection,
                    """
                    INSERT INTO vehicle_key (vin, key_id, public_key, certificate, from_seq)
                    VALUES (\(vehicle.vin), \(key.keyID), \(ByteBuffer(bytes: key.publicKey)), \(key.certificate), \(from))
                    ON CONFLICT (vin, key_id) DO UPDATE SET certificate = COALESCE(vehicle_key.certificate, excluded.certificate)
                    """, what: "store a key of \(vehicle.vin)")
            }
        }

        /// Drops every month that ends at or before `cutoff` (recording each drop), and deletes
        /// the older rows of the month the cutoff falls in.
        func deleteEntries(before cutoff: String) throws(OTAError) -> Int {
            try flush()
            let cutoffMonth = try PostgresRecordStore.month(of: cutoff)
            let known = store.months.withLock { $0 }.union(created.withLock { $0 })
            var deleted: Int64 = 0
            let now = RecordTime.format(Date())
            for month in known.sorted() where month < cutoffMonth {
                let name = PostgresRecordStore.partitionName(month)
                let (from, to) = PostgresRecordStore.bounds(of: month)
                let rows = try PostgresRecordStore.run(
                    connection, PostgresQuery(unsafeSQL: "SELECT COUNT(*) AS n FROM \(name)"), what: "count \(name)")
                let count =
                    try rows.first.map { row throws(OTAError) in try PostgresRecordStore.decode(row, "n", Int64.self) }
                    ?? 0
                try PostgresRecordStore.run(
                    connection, PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), what: "drop \(name)")
                try PostgresRecordStore.run(
                    connection,
                    """
                    INSERT INTO partition_drop (partition, range_from, range_to, row_count, dropped_at) VALUES (\(name), \(from), \(to), \(count), \(now))
                    """, what: "record the drop of \(name)")
                dropped.withLock { _ = $0.insert(month) }
                deleted += count
            }
            let rows = try PostgresRecordStore.run(
                connection,
                "WITH gone AS (DELETE FROM entry WHERE time < \(cutoff) RETURNING 1) SELECT COUNT(*) AS n FROM gone",
                what: "delete entries before \(cutoff)")
            deleted +=
                try rows.first.map { row throws(OTAError) in try PostgresRecordStore.decode(row, "n", Int64.self) } ?? 0
            // The vehicles' months follow the dropped months. The cutoff's month stays listed for
            // every vehicle that had entries in it, even one left with none there: a listed month
            // without entries costs a read one partition, a month missing from the list would
            // hide entries (an upload storing one there meanwhile, unseen by this statement,
            // would find its month still listed and add nothing); the next purge drops it.
            try PostgresRecordStore.run(
                connection, "DELETE FROM vehicle_month WHERE month < \(Int32(cutoffMonth))",
                what: "forget the purged months")
            written.withLock { $0 = $0.filter { $0.month >= cutoffMonth } }
            return Int(deleted)
        }

        func addPurge(_ tombstone: PurgeTombstone) throws(OTAError) {
            let text = String(decoding: tombstone.signedJSON.bytes, as: UTF8.self)
            try PostgresRecordStore.run(
                connection, "INSERT INTO purge (tombstone) VALUES (\(text))", what: "store a purge tombstone")
        }

        func recordActivity(_ time: Date) throws(OTAError) {
            let text = RecordTime.format(time)
            try PostgresRecordStore.run(
                connection,
                """
                INSERT INTO activity (id, latest) VALUES (1, \(text)) ON CONFLICT (id) DO UPDATE SET latest = GREATEST(activity.latest, excluded.latest)
                """, what: "record the store's activity")
        }
    }

    // MARK: Reading

    /// The vehicle's months as a condition on `time` for `query`, from `vehicle_month`: adjacent
    /// months make one range, and the bounds are literals (ours, made from numbers) so that
    /// PostgreSQL prunes the other months' partitions when it plans. Nil when the vehicle has no
    /// entries.
    private static func monthCondition(_ vin: String, _ connection: PostgresConnection) throws(OTAError) -> String? {
        let rows = try run(
            connection, "SELECT month FROM vehicle_month WHERE vin = \(vin) ORDER BY month",
            what: "read the months of \(vin)")
        var ranges: [(from: Int, to: Int)] = []
        for row in rows {
            let month = Int(try decode(row, "month", Int32.self))
            let (from, _) = bounds(of: month)
            if let last = ranges.last, bounds(of: last.to).from == from {
                ranges[ranges.count - 1].to = month
            } else {
                ranges.append((month, month))
            }
        }
        if ranges.isEmpty { return nil }
        return "("
            + ranges.map { range in
                "(time >= '\(bounds(of: range.from).from)' AND time < '\(bounds(of: range.to).to)')"
            }.joined(separator: " OR ") + ")"
    }

    /// The WHERE clause of `filter`; with a VIN, its months bound the time (nil: no entries).
    private static func whereClause(_ filter: RecordFilter, _ connection: PostgresConnection) throws(OTAError) -> (
        String, PostgresBindings
    )? {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func add(_ sql: String, _ value: String?) {
            guard let value else { return }
            binds.append(value)
            conditions.append(sql.replacingOccurrences(of: "?", with: "$\(binds.count)"))
        }
        if let vin = filter.vin {
            guard let months = try monthCondition(vin, connection) else { return nil }
            conditions.append(months)
        }
        add("vin = ?", filter.vin)
        add("campaign = ?", filter.campaign)
        add("bundle = ?", filter.bundle)
        add("ecus @> ARRAY[?]::text[]", filter.ecu)
        add("step = ?", filter.step?.rawValue)
        add("outcome = ?", filter.outcome?.rawValue)
        add("attempt = ?", filter.attempt)
        add("time >= ?", filter.from)
        add("time < ?", filter.to)
        if !filter.kinds.isEmpty {
            binds.append(filter.kinds.map(\.rawValue))
            conditions.append("kind = ANY($\(binds.count))")
        }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), binds)
    }

    /// An entry from a row of `vin, seq, hash, prev, kind, time, body` (in that order: decoded
    /// by position, the way the cursor's pages are read fastest).
    private static func entry(_ row: PostgresRow) throws(OTAError) -> StoredEntry {
        let columns: (String, Int64, String, String, String, String, String)
        do { columns = try row.decode((String, Int64, String, String, String, String, String).self) } catch {
            throw OTAError(
                .recordsStore, "PostgreSQL: a stored entry does not read as one", cause: String(reflecting: error))
        }
        guard let kind = LogEntry.Kind(rawValue: columns.4) else {
            throw OTAError(.recordsStore, "a stored entry has kind \(columns.4)")
        }
        return StoredEntry(
            vin: columns.0, seq: try unsigned(columns.1), hash: columns.2, prev: columns.3, kind: kind, time: columns.5,
            body: columns.6)
    }

    /// Rows a cursor hands over per round trip, and the most a chain read holds at once.
    static let pageRows = 500

    /// Rows of the query `make` returns (nil: none) through a cursor, `pageRows` at a time, each
    /// handed to `body` on this thread; `make` runs in the read's transaction.
    private func stream(
        _ make: (PostgresConnection) throws(OTAError) -> PostgresQuery?, _ body: (StoredEntry) throws(OTAError) -> Void
    ) throws(OTAError) {
        try pool.withConnection { connection throws(OTAError) in
            try Self.run(connection, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what: "begin a read")
            do throws(OTAError) {
                if let query = try make(connection) {
                    try Self.run(
                        connection,
                        PostgresQuery(
                            unsafeSQL: "DECLARE ota_rows NO SCROLL CURSOR FOR " + query.sql, binds: query.binds),
                        what: "open a cursor")
                    while true {
                        let rows = try Self.run(
                            connection, PostgresQuery(unsafeSQL: "FETCH \(Self.pageRows) FROM ota_rows"),
                            what: "read entries")
                        for row in rows { try body(try Self.entry(row)) }
                        // A short page is the last: no round trip to learn that the cursor is done.
                        if rows.count < Self.pageRows { break }
                    }
                }
                try Self.run(connection, "COMMIT", what: "end a read")
            } catch {
                _ = try? Self.run(connection, "ROLLBACK", what: "end a read")
                throw error
            }
        }
    }

    private static func entriesQuery(_ filter: RecordFilter, _ connection: PostgresConnection) throws(OTAError)
        -> PostgresQuery?
    {
        guard let (clause, binds) = try whereClause(filter, connection) else { return nil }
        return PostgresQuery(
            unsafeSQL: "SELECT vin, seq, hash, prev, kind, time, body FROM entry\(clause) ORDER BY vin, seq",
            binds: binds)
    }

    public func entries(matching filter: RecordFilter, _ body: (StoredEntry) throws(OTAError) -> Void) throws(OTAError)
    {
        try stream({ connection throws(OTAError) in try Self.entriesQuery(filter, connection) }, body)
    }

    private static func countQuery(_ filter: RecordFilter, _ connection: PostgresConnection) throws(OTAError)
        -> PostgresQuery?
    {
        guard let (clause, binds) = try whereClause(filter, connection) else { return nil }
        return PostgresQuery(unsafeSQL: "SELECT COUNT(*) AS n FROM entry\(clause)", binds: binds)
    }

    public func count(matching filter: RecordFilter) throws(OTAError) -> Int {
        try pool.withConnection { connection throws(OTAError) -> Int in
            guard let query = try Self.countQuery(filter, connection) else { return 0 }
            let rows = try Self.run(connection, query, what: "count entries")
            return Int(try rows.first.map { row throws(OTAError) in try Self.decode(row, "n", Int64.self) } ?? 0)
        }
    }

    private static func chainQuery(_ vin: String, months: String, low: Int64, high: Int64) -> PostgresQuery {
        var query = PostgresQuery(
            unsafeSQL: "SELECT vin, seq, hash, prev, kind, time, body FROM entry WHERE \(months) AND vin = $1 "
                + "AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT \(pageRows)")
        query.binds.append(vin)
        query.binds.append(low)
        query.binds.append(high)
        return query
    }

    public func chain(of vin: String, from: UInt64, through: UInt64, _ body: (StoredEntry) throws(OTAError) -> Void)
        throws(OTAError)
    {
        // Pages by entry number, each one statement (after the vehicle's months): no transaction
        // and cursor (4 more round trips) around a range that usually fits one page; an export
        // reads one per vehicle. Stored entries never change; a purge running meanwhile could
        // only remove old ones, which the caller's chain check would then miss (a gap, never a
        // wrong entry). The months are those of every entry committed before they are read, so
        // of every entry up to a head read before.
        var low = try Self.signed(from)
        let high = try Self.signed(through)
        guard low <= high,
            let months = try pool.withConnection({ connection throws(OTAError) in
                try Self.monthCondition(vin, connection)
            })
        else { return }
        while low <= high {
            let rows = try pool.withConnection { connection throws(OTAError) in
                try Self.run(
                    connection, Self.chainQuery(vin, months: months, low: low, high: high),
                    what: "read the chain of \(vin)")
            }
            var last = low
            for row in rows {
                let entry = try Self.entry(row)
                last = try Self.signed(entry.seq)
                try body(entry)
            }
            guard rows.count == Self.pageRows, last < high else { break }
            low = last + 1
        }
    }

    private static func checkpointQuery(_ vin: String, months: String, atOrBefore: Bool, bound: Int64)
        -> PostgresQuery
    {
        var query = PostgresQuery(
            unsafeSQL: "SELECT \(atOrBefore ? "MAX" : "MIN")(seq) AS seq FROM entry WHERE \(months) AND vin = $1 "
                + "AND kind = 'checkpoint' AND seq \(atOrBefore ? "<=" : ">=") $2")
        query.binds.append(vin)
        query.binds.append(bound)
        return query
    }

    private func checkpointSeq(of vin: String, atOrBefore: Bool, _ seq: UInt64) throws(OTAError) -> UInt64? {
        let bound = try Self.signed(seq)
        return try pool.withConnection { connection throws(OTAError) -> UInt64? in
            guard let months = try Self.monthCondition(vin, connection) else { return nil }
            let rows = try Self.run(
                connection, Self.checkpointQuery(vin, months: months, atOrBefore: atOrBefore, bound: bound),
                what: "find a checkpoint")
            guard let row = rows.first, let value = try Self.decode(row, "seq", Int64?.self) else { return nil }
            return try Self.unsigned(value)
        }
    }

    public func checkpoint(of vin: String, atOrBefore seq: UInt64) throws(OTAError) -> UInt64? {
        try checkpointSeq(of: vin, atOrBefore: true, seq)
    }

    public func checkpoint(of vin: String, atOrAfter seq: UInt64) throws(OTAError) -> UInt64? {
        try checkpointSeq(of: vin, atOrBefore: false, seq)
    }

    /// A per-vehicle read, for `plannedPartitions`.
    package enum VehicleRead: CaseIterable, Sendable { case entries, count, chain, checkpoint }

    /// The partitions of `entry` PostgreSQL's plan for `read` of `vin` scans (`EXPLAIN`), built
    /// the way the read builds its statement: what a test and the benchmark count.
    package func plannedPartitions(_ read: VehicleRead, vin: String) throws(OTAError) -> [String] {
        try pool.withConnection { connection throws(OTAError) -> [String] in
            let months = try Self.monthCondition(vin, connection) ?? "false"
            let query: PostgresQuery?
            switch read {
            case .entries: query = try Self.entriesQuery(RecordFilter(vin: vin, kinds: []), connection)
            case .count: query = try Self.countQuery(RecordFilter(vin: vin, kinds: []), connection)
            case .chain: query = Self.chainQuery(vin, months: months, low: 0, high: Int64.max)
            case .checkpoint: query = Self.checkpointQuery(vin, months: months, atOrBefore: false, bound: 0)
            }
            guard let query else { return [] }
            let rows = try Self.run(
                connection, PostgresQuery(unsafeSQL: "EXPLAIN (FORMAT JSON) " + query.sql, binds: query.binds),
                what: "explain a read of \(vin)")
            var plan = ""
            for row in rows { plan += try Self.decode(row, "QUERY PLAN", String.self) }
            // Each scanned partition is a "Relation Name" of the plan.
            var names: [String] = []
            for part in plan.components(separatedBy: "\"Relation Name\": \"").dropFirst() {
                if let end = part.firstIndex(of: "\""), part.hasPrefix("entry_p") { names.append(String(part[..<end])) }
            }
            return names.sorted()
        }
    }

    private static func change(_ row: PostgresRow) throws(OTAError) -> SoftwareChange {
        SoftwareChange(
            vin: try decode(row, "vin", String.self), ecu: try decode(row, "ecu", String.self),
            seq: try unsigned(try decode(row, "seq", Int64.self)),
            time: try decode(row, "time", String.self), attempt: try decode(row, "attempt", String?.self),
            bundle: try decode(row, "bundle", String?.self),
            campaign: try decode(row, "campaign", String?.self),
            hardwarePart: try decode(row, "hardware_part", String?.self),
            versionBefore: try decode(row, "version_before", String?.self),
            versionAfter: try decode(row, "version_after", String?.self),
            securityVersionAfter: try decode(row, "security_version_after", String?.self),
            swinBefore: try decode(row, "swin_before", String?.self),
            swinAfter: try decode(row, "swin_after", String?.self),
            rxswinBefore: try decode(row, "rxswin_before", String?.self),
            rxswinAfter: try decode(row, "rxswin_after", String?.self),
            imageHashAfter: try decode(row, "image_hash_after", String?.self))
    }

    private func changes(_ query: PostgresQuery) throws(OTAError) -> [SoftwareChange] {
        let rows = try pool.withConnection { connection throws(OTAError) in
            try Self.run(connection, query, what: "read the register")
        }
        var changes: [SoftwareChange] = []
        for row in rows { changes.append(try Self.change(row)) }
        return changes
    }

    public func softwareHistory(of vin: String) throws(OTAError) -> [SoftwareChange] {
        try changes("SELECT * FROM software WHERE vin = \(vin) ORDER BY seq, ecu")
    }

    public func vehicles(runningSWIN swin: String?, rxswin: String?) throws(OTAError) -> [SoftwareChange] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let swin { binds.append(swin); conditions.append("c.swin = $\(binds.count)") }
        if let rxswin { binds.append(rxswin); conditions.append("c.rxswin = $\(binds.count)") }
        guard !conditions.isEmpty else { return [] }
        return try changes(
            PostgresQuery(
                unsafeSQL: """
                    SELECT s.* FROM current_software c JOIN software s ON s.vin = c.vin AND s.ecu = c.ecu AND s.seq = c.seq
                    WHERE \(conditions.joined(separator: " AND ")) ORDER BY c.vin, c.ecu
                    """, binds: binds))
    }

    public func purges() throws(OTAError) -> [PurgeTombstone] {
        let rows = try pool.withConnection { connection throws(OTAError) in
            try Self.run(connection, "SELECT tombstone FROM purge ORDER BY id", what: "read the purges")
        }
        var tombstones: [PurgeTombstone] = []
        for row in rows {
            let text = try Self.decode(row, "tombstone", String.self)
            let json: JSONValue
            do { json = try JSONValue.parse(Array(text.utf8)) } catch {
                throw OTAError(.recordsStore, "a stored purge tombstone: \(error.message)")
            }
            tombstones.append(try PurgeTombstone(signedJSON: json, source: "purge"))
        }
        return tombstones
    }

    public func lastActivity() throws(OTAError) -> Date? {
        let rows = try pool.withConnection { connection throws(OTAError) in
            try Self.run(connection, "SELECT latest FROM activity WHERE id = 1", what: "read the activity")
        }
        guard let row = rows.first else { return nil }
        return RecordTime.parse(try Self.decode(row, "latest", String.self))
    }

    public func entriesBefore(_ cutoff: String) throws(OTAError) -> (count: Int, newest: String?) {
        try pool.withConnection { connection throws(OTAError) -> (count: Int, newest: String?) in
            let rows = try Self.run(
                connection, "SELECT COUNT(*) AS n, MAX(time) AS newest FROM entry WHERE time < \(cutoff)",
                what: "count old entries")
            guard let row = rows.first else { return (0, nil) }
            return (Int(try Self.decode(row, "n", Int64.self)), try Self.decode(row, "newest", String?.self))
        }
    }

    // MARK: Plumbing

    /// Several statements, one after another (each ends with `;` at the end of a line).
    static func script(_ connection: PostgresConnection, _ sql: String, what: String) throws(OTAError) {
        for statement in sql.components(separatedBy: ";\n") {
            let text = statement.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            try run(connection, PostgresQuery(unsafeSQL: text), what: what)
        }
    }

    @discardableResult
    static func run(_ connection: PostgresConnection, _ query: PostgresQuery, what: String) throws(OTAError)
        -> [PostgresRow]
    {
        do {
            return try connection.query(query, logger: connection.logger).wait().rows
        } catch {
            throw OTAError(.recordsStore, "PostgreSQL: cannot \(what)", cause: PostgresPool.describe(error))
        }
    }

    static func decode<T: PostgresDecodable>(_ row: PostgresRow, _ column: String, _ type: T.Type) throws(OTAError) -> T
    {
        do { return try row.makeRandomAccess()[column].decode(T.self) } catch {
            throw OTAError(
                .recordsStore, "PostgreSQL: column \(column) does not read as \(T.self)",
                cause: String(reflecting: error))
        }
    }

    static func unsigned(_ value: Int64) throws(OTAError) -> UInt64 {
        guard value >= 0 else { throw OTAError(.recordsStore, "a stored entry number is negative (\(value))") }
        return UInt64(value)
    }

    static func signed(_ value: UInt64) throws(OTAError) -> Int64 {
        guard value <= UInt64(Int64.max) else {
            throw OTAError(.recordsFieldRange, "entry number \(value) does not fit the store")
        }
        return Int64(value)
    }
}
