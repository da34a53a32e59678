import ArgumentParser
import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// `ota records ...`: the vehicle's tamper-evident record log, the fleet store and exports.
struct RecordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "Append, verify, ingest and export tamper-evident update records.",
        subcommands: [
            RecordsVerify.self, RecordsAppend.self, RecordsAck.self, RecordsPrune.self, RecordsIngest.self,
            RecordsQuery.self, RecordsExport.self, RecordsVerifyExport.self, RecordsPurge.self,
            RecordsStressAppend.self, RecordsSimulate.self,
        ]
    )
}

/// Shared parsing helpers for the records commands.
enum RecordsSupport {
    static func loadPrivateKey(_ path: String) throws(OTAError) -> PrivateKey {
        try PrivateKey(reference: path)
    }

    static func time(_ text: String?, option: String) throws(OTAError) -> Date? {
        guard let text else { return nil }
        guard let date = RecordTime.parse(text) else {
            throw OTAError(.usageInvalid, "\(option): expected RFC 3339 UTC time such as 2026-01-31T00:00:00Z")
        }
        return date
    }

    /// The filter options as a store filter (times normalised to the stored form).
    static func filter(vin: String?, campaign: String?, bundle: String?, ecu: String?, result: String?, from: String?, to: String?) throws(OTAError) -> RecordFilter {
        RecordFilter(vin: vin, campaign: campaign, bundle: bundle, ecu: ecu, result: result,
                     from: try time(from, option: "--from").map(RecordTime.format), to: try time(to, option: "--to").map(RecordTime.format))
    }

    static func fail(_ report: VerificationReport, log: String) -> OTAError {
        let first = report.issues[0]
        return OTAError(first.kind.code, "\(log): \(report.issues.count) problem(s); first: \(first)",
                         cause: report.issues.prefix(20).map(\.description).joined(separator: "; "))
    }
}

struct FilterOptions: ParsableArguments {
    @Option(help: "Only this VIN.") var vin: String?
    @Option(help: "Only this campaign.") var campaign: String?
    @Option(help: "Only this bundle id.") var bundle: String?
    @Option(help: "Only this ECU.") var ecu: String?
    @Option(help: "Only this result (success, failure, ...).") var result: String?
    @Option(help: "From this time (inclusive), RFC 3339 UTC.") var from: String?
    @Option(help: "Up to this time (exclusive), RFC 3339 UTC.") var to: String?

    func filter() throws(OTAError) -> RecordFilter {
        try RecordsSupport.filter(vin: vin, campaign: campaign, bundle: bundle, ecu: ecu, result: result, from: from, to: to)
    }
}

struct RecordsVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a vehicle record log: chain, checkpoint signatures, truncation against HEAD.",
        discussion: "Exit 2 and a dotted code (records.changed, records.deleted, records.inserted, records.reordered, records.truncated, records.torn-tail, records.checkpoint-signature) when anything is wrong.")

    @Argument(help: "Log directories.") var logs: [String]
    @Option(help: "The vehicle's device public key (PEM) or certificate.") var key: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let publicKey = try DeviceKey.load(key)
        var reports: [VerificationReport] = []
        var records = 0
        var entries = 0
        for log in logs {
            let report = try LogVerifier(directory: log, publicKey: publicKey).verify()
            guard report.intact else { throw RecordsSupport.fail(report, log: log) }
            records += report.records
            entries += report.entries
            if reports.count < 100 { reports.append(report) }
        }
        guard logs.count == 1, let report = reports.first else {
            struct Result: Encodable { let logs: Int; let records: Int; let entries: Int }
            Output.succeed(Result(logs: logs.count, records: records, entries: entries),
                           human: "\(logs.count) logs intact: \(records) records, \(entries) entries", json: output.json)
            return
        }
        Output.succeed(report, human: "\(logs[0]): intact: \(report.records) records, \(report.entries) entries (\(report.firstSeq ?? 0)...\(report.lastSeq ?? 0)), signed through entry \(report.headSeq.map(String.init) ?? "none")\(report.anchoredAt.map { ", anchored at checkpoint \($0) after pruning" } ?? "")", json: output.json)
    }
}

struct RecordsAppend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append one upgrade record to a log (creating the log with --vin), then checkpoint.")

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The vehicle's device private key (PEM).") var key: String
    @Option(help: "The record as JSON, or @FILE.") var record: String
    @Option(help: "Create the log for this VIN if it does not exist.") var vin: String?
    @Option(help: "Suite of a new log: intl (SHA-256) or gm (SM3).") var suite: String = "intl"
    @OptionGroup var output: OutputOptions

    func run() throws {
        let signer = try RecordsSupport.loadPrivateKey(key)
        let text: [UInt8] = record.hasPrefix("@") ? try FileSystem.read(String(record.dropFirst()), limit: 1 << 20) : Array(record.utf8)
        let parsed = try UpgradeRecord(jsonText: text, source: "--record")
        let clock = SystemClock(source: parsed.timeSource)
        let recorder: Recorder
        if FileSystem.exists(log + "/log.json") {
            recorder = try Recorder.open(at: log, signer: signer, clock: clock)
        } else {
            guard let vin else { throw OTAError(.usageInvalid, "\(log): no log here; give --vin to create one") }
            recorder = try Recorder.create(at: log, vin: vin, signer: signer, clock: clock,
                                           configuration: .init(hash: try Suite.parse(suite).hash))
        }
        let appended = try recorder.append(parsed)
        try recorder.close()
        struct Result: Encodable { let seq: UInt64; let hash: String; let segment: String; let tornTails: [UInt64] }
        Output.succeed(Result(seq: appended.seq, hash: appended.hash, segment: appended.segment, tornTails: recorder.tornTails.map(\.seq)),
                       human: "appended entry \(appended.seq) \(appended.hash)" + (recorder.tornTails.isEmpty ? "" : " (torn tail recorded as entry \(recorder.tornTails.map { String($0.seq) }.joined(separator: ", ")))"), json: output.json)
    }
}

struct RecordsAck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ack", abstract: "Record that the fleet store holds a log up to an entry.")

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The vehicle's device private key (PEM).") var key: String
    @Option(help: "The entry number the store holds.") var through: UInt64
    @Option(help: "That entry's hash.") var hash: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let recorder = try Recorder.open(at: log, signer: try RecordsSupport.loadPrivateKey(key), clock: SystemClock())
        try recorder.acknowledge(through: through, hash: hash)
        struct Result: Encodable { let through: UInt64 }
        Output.succeed(Result(through: through), human: "acknowledged through entry \(through)", json: output.json)
    }
}

struct RecordsPrune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove whole old segments: older than the retention (6 months at least) and acknowledged by the fleet store.")

    @Argument(help: "The log directory.") var log: String
    @Option(help: "The vehicle's device private key (PEM).") var key: String
    @Option(help: "Keep this many months (at least 6).") var months: Int?
    @Option(help: "The current time (RFC 3339 UTC); default now.") var now: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let date = try RecordsSupport.time(now, option: "--now") ?? Date()
        let recorder = try Recorder.open(at: log, signer: try RecordsSupport.loadPrivateKey(key), clock: SystemClock())
        if let months, months < Recorder.minimumRetentionMonths {
            throw OTAError(.recordsRetentionMinimum, "--months \(months) is below the legal minimum of \(Recorder.minimumRetentionMonths)")
        }
        let report = try recorder.prune(now: date, months: months)
        if report.removed.isEmpty {
            throw OTAError(.recordsRetention, "\(log): nothing pruned: \(report.kept ?? "") \(report.reason ?? "")")
        }
        Output.succeed(report, human: "pruned \(report.removed.count) segment(s), entries up to \(report.through ?? 0)", json: output.json)
    }
}

struct RecordsIngest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Verify vehicle logs and load them into the fleet store (SQLite).",
        discussion: "Idempotent; a log that does not continue the stored chain is rejected, not merged.")

    @Option(help: "The fleet store (SQLite file).") var store: String
    @Option(help: "One device public key (PEM) or certificate for every log.") var key: String?
    @Option(help: "A directory of device keys named <VIN>.pem.") var keys: String?
    @Argument(help: "Log directories.") var logs: [String]
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (key == nil) != (keys == nil) else { throw ValidationError("give --key or --keys") }
    }

    func run() throws {
        let database = try SQLiteRecordStore(path: store)
        let shared = try key.map { (path: String) throws(OTAError) -> PublicKey in try DeviceKey.load(path) }
        var reports: [FleetIngest.Report] = []
        var added = 0
        var rejected: [OTAError] = []
        // Each log is its own transaction: one bad log does not hold back the others.
        for log in logs {
            let outcome = ingestOne(log, shared: shared, database: database)
            switch outcome {
            case .success(let report):
                added += report.added
                if reports.count < 1000 { reports.append(report) }
            case .failure(let error):
                if error.kind != .rejected || logs.count == 1 { throw error }
                rejected.append(error)
            }
        }
        if let first = rejected.first {
            throw OTAError(first.code, "\(rejected.count) of \(logs.count) logs rejected (the others were ingested, \(added) new entries); first: \(first.message)",
                           cause: rejected.prefix(20).map(\.description).joined(separator: "; "))
        }
        struct Result: Encodable { let logs: Int; let added: Int; let reports: [FleetIngest.Report] }
        Output.succeed(Result(logs: logs.count, added: added, reports: reports),
                       human: "ingested \(logs.count) log(s), \(added) new entries" + (logs.count == 1 ? reports.first.flatMap { r in r.head.map { "; head entry \($0.seq) \($0.hash)" } } ?? "" : ""),
                       json: output.json)
    }
}

extension RecordsIngest {
    private func ingestOne(_ log: String, shared: PublicKey?, database: SQLiteRecordStore) -> Result<FleetIngest.Report, OTAError> {
        do throws(OTAError) {
            let publicKey: PublicKey
            if let shared {
                publicKey = shared
            } else {
                let vin = try LogMeta.load(LogLayout(directory: log)).vin
                publicKey = try DeviceKey.load(keys! + "/" + vin + ".pem")
            }
            return .success(try FleetIngest.ingest(log: log, publicKey: publicKey, into: database))
        } catch {
            return .failure(error)
        }
    }
}

struct RecordsQuery: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query", abstract: "List stored entries as JSON lines (or count them).")

    @Option(help: "The fleet store (SQLite file).") var store: String
    @OptionGroup var filterOptions: FilterOptions
    @Flag(help: "Only print how many entries match.") var count = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let database = try SQLiteRecordStore(path: store)
        let filter = try filterOptions.filter()
        if count {
            let total = try database.count(matching: filter)
            struct Result: Encodable { let count: Int }
            Output.succeed(Result(count: total), human: String(total), json: output.json)
            return
        }
        try database.entries(matching: filter) { entry throws(OTAError) in
            print("{\"vin\":\"\(entry.vin)\",\"seq\":\(entry.seq),\"kind\":\"\(entry.kind)\",\"hash\":\"\(entry.hash)\",\"entry\":\(entry.body)}")
        }
    }
}

struct RecordsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export stored records by vehicle, campaign or period, with a signed manifest.",
        discussion: "VINs are tokenised (HMAC-SHA256) unless --reveal-vin is given; with --pseudonym-key the tokens are stable across exports.")

    @Option(help: "The fleet store (SQLite file).") var store: String
    @Option(name: [.short, .customLong("out")], help: "Output directory.") var out: String
    @Option(help: "Formats, comma-separated: csv, jsonl, html.") var format: String = "csv,jsonl,html"
    @Option(help: "Header language: en or zh-CN.") var lang: String = "en"
    @Option(help: "The compliance private key that signs the manifest (PEM).") var key: String
    @Option(help: "A file holding the secret pseudonymisation key (16 bytes or more).") var pseudonymKey: String?
    @Flag(help: "Keep real VINs (internal use only).") var revealVin = false
    @Option(help: "The export time (RFC 3339 UTC); default now.") var now: String?
    @OptionGroup var filterOptions: FilterOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        var formats: [ExportFormat] = []
        for name in format.split(separator: ",") {
            guard let parsed = ExportFormat(rawValue: String(name)) else {
                throw OTAError(.usageInvalid, "--format: unknown format '\(name)' (csv, jsonl, html)")
            }
            formats.append(parsed)
        }
        guard let language = ExportLanguage(rawValue: lang) else { throw OTAError(.usageInvalid, "--lang: en or zh-CN") }
        let mode: VINPseudonymiser.Mode
        if revealVin {
            mode = .none
        } else if let pseudonymKey {
            mode = .keyed(try FileSystem.read(pseudonymKey, limit: 4096))
        } else {
            mode = .ephemeral
        }
        let exporter = Exporter(filter: try filterOptions.filter(), formats: formats, language: language,
                                pseudonymiser: try VINPseudonymiser(mode), signer: try RecordsSupport.loadPrivateKey(key),
                                now: try RecordsSupport.time(now, option: "--now") ?? Date())
        let summary = try exporter.export(from: try SQLiteRecordStore(path: store), to: out)
        Output.succeed(summary, human: "exported \(summary.entries) entries of \(summary.vehicles) vehicle(s) to \(out): \(summary.files.joined(separator: ", "))", json: output.json)
    }
}

struct RecordsVerifyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-export",
        abstract: "Check an export: manifest signature, every file's digest, nothing missing or extra.")

    @Argument(help: "The export directory.") var directory: String
    @Option(help: "The compliance public key (PEM) or certificate.") var key: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let result = try ExportManifest.verify(directory: directory, publicKey: try DeviceKey.load(key))
        guard result.intact else {
            throw OTAError(.recordsExportAltered, "\(directory): \(result.problems[0])", cause: result.problems.joined(separator: "; "))
        }
        Output.succeed(result, human: "\(directory): intact: \(result.files.joined(separator: ", ")); \(result.entries) entries, \(result.vehicles) vehicle(s)", json: output.json)
    }
}

struct RecordsPurge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete stored entries older than a date; refused for upgrade records younger than 10 years.")

    @Option(help: "The fleet store (SQLite file).") var store: String
    @Option(help: "Delete entries before this time (RFC 3339 UTC).") var before: String
    @Option(help: "Keep this many years (at least 10).") var years: Int = 10
    @Option(help: "The current time (RFC 3339 UTC); default now.") var now: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let cutoff = try RecordsSupport.time(before, option: "--before")!
        let deleted = try SQLiteRecordStore(path: store).purge(before: cutoff, now: try RecordsSupport.time(now, option: "--now") ?? Date(), minimumYears: years)
        struct Result: Encodable { let deleted: Int }
        Output.succeed(Result(deleted: deleted), human: "deleted \(deleted) entries", json: output.json)
    }
}

/// Hidden: appends generated records one by one, printing `appended SEQ` after each `append`
/// returned. The crash tests SIGKILL it and check that every printed entry survived.
struct RecordsStressAppend: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stress-append", shouldDisplay: false)

    @Argument var log: String
    @Option var key: String
    @Option var vin: String = "LSVAU2180N2000001"
    @Option var count: Int = 1000
    @Option var segmentBytes: Int64 = 4 << 20
    @Option var checkpointInterval: Int = 16

    func run() throws {
        let signer = try RecordsSupport.loadPrivateKey(key)
        let clock = SystemClock(source: "rtc")
        let configuration = Recorder.Configuration(segmentBytes: segmentBytes, checkpointInterval: checkpointInterval, durability: .fsync)
        let recorder = FileSystem.exists(log + "/log.json")
            ? try Recorder.open(at: log, signer: signer, clock: clock, configuration: configuration)
            : try Recorder.create(at: log, vin: vin, signer: signer, clock: clock, configuration: configuration)
        for tail in recorder.tornTails { FileHandle.standardOutput.write(Data("torn \(tail.seq)\n".utf8)) }
        for index in 0..<count {
            let record = Simulation.record(vin: vin, index: index, time: Date())
            let appended = try recorder.append(record)
            // Unbuffered: the line is out before the next append starts.
            FileHandle.standardOutput.write(Data("appended \(appended.seq)\n".utf8))
        }
        try recorder.close()
    }
}

/// Hidden: writes logs for many simulated vehicles (bulk durability) for benchmarks and demos.
struct RecordsSimulate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", shouldDisplay: false)

    @Argument(help: "Directory to hold one log per vehicle.") var directory: String
    @Option var key: String
    @Option var vehicles: Int = 10
    @Option var records: Int = 100
    @Option var durability: String = "none"
    @Option var start: String = "2026-01-01T00:00:00Z"

    func run() throws {
        let signer = try RecordsSupport.loadPrivateKey(key)
        let begin = try RecordsSupport.time(start, option: "--start")!
        try FileSystem.createDirectory(directory)
        for vehicle in 0..<vehicles {
            let vin = Simulation.vin(vehicle)
            let clock = ManualClock(begin.addingTimeInterval(Double(vehicle)))
            let recorder = try Recorder.create(at: directory + "/" + vin, vin: vin, signer: signer, clock: clock,
                                               configuration: .init(durability: durability == "fsync" ? .fsync : .none))
            for index in 0..<records {
                clock.advance(seconds: 3600)
                try recorder.append(Simulation.record(vin: vin, index: index, time: clock.now().date))
            }
            try recorder.close()
        }
        print("simulated \(vehicles) vehicle(s) x \(records) record(s) in \(directory)")
    }
}

/// Plausible records for simulations: an update walks through the installer's steps.
enum Simulation {
    static func vin(_ index: Int) -> String {
        let digits = String(index)
        return "LSVSIM" + String(repeating: "0", count: max(0, 11 - digits.count)) + digits
    }

    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        let steps = ["verify", "policy", "consent", "apply", "switch", "boot", "confirm"]
        let step = steps[index % steps.count]
        let update = index / steps.count
        let stamp = RecordTime.format(time)
        let failed = index % 53 == 52
        return UpgradeRecord(
            time: stamp, timeSource: "gnss", vin: vin, bundle: "bundle-2026.\(update)", campaign: "CAMP-2026-\(update % 4)",
            ecu: ["adas", "bms", "ivi", "gateway"][update % 4], hardwarePart: "HW-\(update % 4)-A2",
            step: step, result: failed ? "failure" : "success", errorCode: failed ? "apply.hash-mismatch" : nil,
            versionBefore: "3.\(update)", versionAfter: "3.\(update + 1)",
            imageHashBefore: String(repeating: "a1", count: 32), imageHashAfter: String(repeating: "b2", count: 32),
            swinBefore: "SWIN-\(update)", swinAfter: "SWIN-\(update + 1)", categories: update % 4 == 0 ? ["driving-assistance", "safety"] : ["security-fix"],
            regulatory: [.init(kind: "filing", number: "OTA-2026-\(1000 + update % 4)", authority: "MIIT")],
            preconditions: ["battery": "81", "gear": "P", "parked": "true"],
            notice: .init(digest: String(repeating: "3c", count: 32), language: "zh-CN"),
            confirmation: step == "consent" ? .init(actor: .owner, channel: "hmi", answer: "accepted", at: stamp) : nil,
            started: stamp, finished: RecordTime.format(time.addingTimeInterval(42)), durationMs: 42_000)
    }
}
