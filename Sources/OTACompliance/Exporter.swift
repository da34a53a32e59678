public import Foundation
public import OTACore
import OTARecorder

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
        guard !formats.isEmpty else { throw OTAError(.recordsExportFormat, "choose at least one format") }
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
            var body: [String: JSONValue]
            do throws(OTAErrorBox) { body = try JSONValue.parse(Array(entry.body.utf8)).objectValue ?? [:] } catch {
                throw OTAError(.recordsMalformed, "stored entry \(entry.seq) of \(entry.vin): \(error.message)")
            }
            if body["vin"] != nil { body["vin"] = .string(currentToken) }
            if let csv { try csv.write(CSV.row(entry: entry, body: body, vin: currentToken) + "\r\n") }
            if let jsonl {
                var line: [String: JSONValue] = [
                    "vin": .string(currentToken), "seq": .integer(Int64(entry.seq)), "hash": .string(entry.hash),
                    "prev": .string(entry.prev), "kind": .string(entry.kind), "entry": .object(body),
                ]
                if let time = entry.time { line["time"] = .string(time) }
                try jsonl.write(bytes: JSONValue.object(line).bytes + [0x0a])
            }
            if let html { try html.write(HTMLReport.item(entry: entry, body: body, token: currentToken, labels: labels)) }
        }
        if currentVIN != nil, let html { try html.write(HTMLReport.vehicleEnd) }
        if let html { try html.write(HTMLReport.epilogue(entries: entries, vehicles: vehicles, labels: labels)) }

        var listed: [JSONValue] = []
        for (_, file) in files {
            let digest = try file.finish()
            listed.append(.object(["name": .string(file.name), "bytes": .integer(file.size), "digest": .string(digest.hex)]))
        }
        let manifest = ExportManifest.json(
            created: RecordTime.format(now), hash: hash, filter: shownFilter, language: language,
            pseudonymisation: pseudonymiser.mode, entries: entries, vehicles: vehicles, files: listed)
        let manifestBytes = manifest.bytes + [0x0a]
        let signature = try signer.signature(for: manifestBytes)
        let signatureFile = JSONValue.object([
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
