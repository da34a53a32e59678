public import Foundation
public import OTACore
import OTARecorder

/// Export formats for compliance staff.
public enum ExportFormat: String, Sendable, CaseIterable, Encodable {
    /// UTF-8 with a byte-order mark (so spreadsheet programs show Chinese), RFC 4180 quoting.
    case csv
    /// One JSON object per line.
    case jsonl
    /// A self-contained HTML report: a timeline per vehicle, readable on screen and on paper.
    case html

    public var fileName: String {
        switch self {
        case .csv: "records.csv"
        case .jsonl: "records.jsonl"
        case .html: "report.html"
        }
    }
}

/// Header language of CSV and HTML exports.
public enum ExportLanguage: String, Sendable, CaseIterable {
    case en
    case zhCN = "zh-CN"
}

/// Streams store entries into export files, then writes and signs their manifest.
///
/// Memory does not grow with the number of records: entries come from a database cursor in
/// (VIN, seq) order and go straight through fixed-size buffers into the files.
public struct Exporter {
    public var filter: RecordFilter
    public var formats: [ExportFormat]
    public var language: ExportLanguage
    public var pseudonymiser: VINPseudonymiser
    public var signer: PrivateKey
    public var now: Date

    public init(filter: RecordFilter, formats: [ExportFormat], language: ExportLanguage, pseudonymiser: VINPseudonymiser,
                signer: PrivateKey, now: Date) {
        self.filter = filter
        self.formats = formats
        self.language = language
        self.pseudonymiser = pseudonymiser
        self.signer = signer
        self.now = now
    }

    public struct Summary: Sendable, Encodable {
        public var directory: String
        public var entries: Int
        public var vehicles: Int
        public var files: [String]
    }

    /// Writes the export into `directory` (created; existing export files are replaced only
    /// when the whole export succeeds).
    public func export(from store: any RecordStore, to directory: String) throws(OTAError) -> Summary {
        guard !formats.isEmpty else { throw .usage("records.export-format", "choose at least one format") }
        try FileSystem.createDirectory(directory)
        let algorithm = try SignatureAlgorithm.forKey(signer.type)
        let hash = algorithm.suite.hash
        var files: [(format: ExportFormat, file: ExportFile)] = []
        for format in formats {
            files.append((format, try ExportFile(directory: directory, name: format.fileName, hash: hash)))
        }
        let csv = files.first { $0.format == .csv }?.file
        let jsonl = files.first { $0.format == .jsonl }?.file
        let html = files.first { $0.format == .html }?.file
        let labels = ExportLabels(language)
        // What the export says it covers, with the VIN tokenised like the rows.
        var shownFilter = filter
        shownFilter.vin = try filter.vin.map { (vin: String) throws(OTAError) -> String in try pseudonymiser.token(for: vin) }
        if let csv {
            try csv.write(bytes: [0xEF, 0xBB, 0xBF])
            try csv.write(labels.columns.map(CSV.field).joined(separator: ",") + "\r\n")
        }
        if let html { try html.write(HTMLReport.prologue(labels: labels, filter: shownFilter, generated: RecordTime.format(now), pseudonymisation: pseudonymiser.mode)) }

        var entries = 0
        var vehicles = 0
        var currentVIN: String? = nil
        var currentToken = ""
        try store.entries(matching: filter) { entry throws(OTAError) in
            if entry.vin != currentVIN {
                if currentVIN != nil, let html { try html.write(HTMLReport.vehicleEnd) }
                currentVIN = entry.vin
                currentToken = try pseudonymiser.token(for: entry.vin)
                vehicles += 1
                if let html { try html.write(HTMLReport.vehicleStart(token: currentToken, labels: labels)) }
            }
            entries += 1
            var body: [String: CanonicalJSON]
            do throws(OTAErrorBox) { body = try CanonicalJSON.parse(Array(entry.body.utf8)).objectValue ?? [:] } catch {
                throw .rejected("records.malformed", "stored entry \(entry.seq) of \(entry.vin): \(error.message)")
            }
            if body["vin"] != nil { body["vin"] = .string(currentToken) }
            if let csv { try csv.write(CSV.row(entry: entry, body: body, vin: currentToken) + "\r\n") }
            if let jsonl {
                var line: [String: CanonicalJSON] = [
                    "vin": .string(currentToken), "seq": .integer(Int64(entry.seq)), "hash": .string(entry.hash),
                    "prev": .string(entry.prev), "kind": .string(entry.kind), "entry": .object(body),
                ]
                if let time = entry.time { line["time"] = .string(time) }
                try jsonl.write(bytes: CanonicalJSON.object(line).bytes + [0x0a])
            }
            if let html { try html.write(HTMLReport.item(entry: entry, body: body, labels: labels)) }
        }
        if currentVIN != nil, let html { try html.write(HTMLReport.vehicleEnd) }
        if let html { try html.write(HTMLReport.epilogue(entries: entries, vehicles: vehicles, labels: labels)) }

        var listed: [CanonicalJSON] = []
        for (_, file) in files {
            let digest = try file.finish()
            listed.append(.object(["name": .string(file.name), "bytes": .integer(file.size), "digest": .string(digest.hex)]))
        }
        let manifest = ExportManifest.json(
            created: RecordTime.format(now), hash: hash, filter: shownFilter, language: language,
            pseudonymisation: pseudonymiser.mode, entries: entries, vehicles: vehicles, files: listed)
        let manifestBytes = manifest.bytes + [0x0a]
        let signature = try signer.signature(for: manifestBytes)
        let signatureFile = CanonicalJSON.object([
            "alg": .string(algorithm.rawValue), "key": .string(try signer.publicKey.keyID(.sha256).hex),
            "sig": .string(Hex.encode(signature)),
        ]).bytes + [0x0a]
        let manifestWriter = try AtomicFileWriter(path: directory + "/" + ExportManifest.manifestName)
        try manifestWriter.write(manifestBytes)
        let signatureWriter = try AtomicFileWriter(path: directory + "/" + ExportManifest.signatureName)
        try signatureWriter.write(signatureFile)
        for (_, file) in files { try file.commit() }
        try manifestWriter.commit()
        try signatureWriter.commit()
        return Summary(directory: directory, entries: entries, vehicles: vehicles,
                       files: files.map(\.file.name) + [ExportManifest.manifestName, ExportManifest.signatureName])
    }
}

/// Column names and report words in the export language.
struct ExportLabels {
    let language: ExportLanguage
    let columns: [String]
    let title: String
    let vehicle: String
    let summary: (Int, Int) -> String

    init(_ language: ExportLanguage) {
        self.language = language
        switch language {
        case .en:
            columns = ["Time", "Time source", "VIN", "Bundle", "Campaign", "ECU", "Hardware part", "Step", "Result",
                       "Error code", "Version before", "Version after", "Image hash before", "Image hash after",
                       "RXSWIN/SWIN before", "RXSWIN/SWIN after", "Change categories", "Regulatory references",
                       "Precondition readings", "Notice digest", "Notice language", "Confirmed by", "Confirmation channel",
                       "Confirmation answer", "Confirmation time", "Started", "Finished", "Duration (ms)", "Entry kind",
                       "Entry number", "Entry hash"]
            title = "Software update records"
            vehicle = "Vehicle"
            summary = { "\($0) entries, \($1) vehicles" }
        case .zhCN:
            columns = ["时间", "时间来源", "车辆识别代号", "升级包", "升级活动", "控制器", "硬件零件号", "步骤", "结果",
                       "错误码", "升级前版本", "升级后版本", "升级前镜像哈希", "升级后镜像哈希",
                       "升级前软件识别码", "升级后软件识别码", "变更类别", "法规依据",
                       "前置条件读数", "告知内容摘要", "告知语言", "确认人", "确认渠道",
                       "确认答复", "确认时间", "开始时间", "结束时间", "耗时(毫秒)", "条目类型",
                       "条目序号", "条目哈希"]
            title = "软件升级记录"
            vehicle = "车辆"
            summary = { "共 \($0) 条记录，\($1) 辆车" }
        }
    }
}

/// CSV rows (RFC 4180; cells that a spreadsheet would run as a formula get a leading `'`).
enum CSV {
    static func field(_ text: String) -> String {
        var value = text
        if let first = value.unicodeScalars.first, "=+@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }

    static func row(entry: StoredEntry, body: [String: CanonicalJSON], vin: String) -> String {
        func s(_ key: String) -> String { body[key]?.stringValue ?? "" }
        let notice = body["notice"]
        let confirmation = body["confirmation"]
        let categories = (body["categories"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ";")
        let references = (body["regulatory"]?.arrayValue ?? []).map { item in
            "\(item["kind"]?.stringValue ?? ""):\(item["number"]?.stringValue ?? "")" + (item["authority"]?.stringValue.map { "@" + $0 } ?? "")
        }.joined(separator: ";")
        let readings = (body["preconditions"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ";")
        let duration = body["durationMs"]?.integerValue.map(String.init) ?? ""
        var step = s("step")
        if entry.kind == "torn-tail" { step = "torn tail: \(body["bytes"]?.integerValue ?? 0) bytes quarantined (\(s("file")))" }
        if entry.kind == "prune" { step = "pruned on vehicle through entry \(body["through"]?.integerValue ?? 0)" }
        let cells = [
            entry.time ?? "", s("timeSource"), vin, s("bundle"), s("campaign"), s("ecu"), s("hardwarePart"), step, s("result"),
            s("errorCode"), s("versionBefore"), s("versionAfter"), s("imageHashBefore"), s("imageHashAfter"),
            s("swinBefore"), s("swinAfter"), categories, references, readings, notice?["digest"]?.stringValue ?? "",
            notice?["language"]?.stringValue ?? "", confirmation?["actor"]?.stringValue ?? "",
            confirmation?["channel"]?.stringValue ?? "", confirmation?["answer"]?.stringValue ?? "",
            confirmation?["at"]?.stringValue ?? "", s("started"), s("finished"), duration, entry.kind, String(entry.seq), entry.hash,
        ]
        return cells.map(field).joined(separator: ",")
    }
}
