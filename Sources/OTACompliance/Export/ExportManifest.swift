public import Foundation
public import OTACore
import OTARecorder

#if canImport(Glibc)
    import Glibc
#endif

/// The signed list of an export's files (docs/FORMAT.md, Records): `manifest.json` holds the
/// files' names, sizes and digests; `manifest.sig` the compliance key's signature over the exact
/// bytes of `manifest.json`; `signer.pem` the compliance certificate and its chain.
public enum ExportManifest {
    public static let format = "ota-records-export/2"
    public static let manifestName = "manifest.json"
    public static let signatureName = "manifest.sig"
    public static let signerName = "signer.pem"

    static func json(
        created: String, hash: HashAlgorithm, filter: RecordFilter, language: ExportLanguage, pseudonymisation: String,
        entries: Int, vehicles: Int, highlighted: Int, evidence: Bool, purges: [PurgeTombstone], files: [JSONValue]
    ) -> JSONValue {
        .object([
            "format": .string(format), "created": .string(created), "hash": .string(hash.rawValue),
            "filter": filter.json, "language": .string(language.rawValue),
            "pseudonymisation": .string(pseudonymisation),
            "entries": .integer(Int64(entries)), "vehicles": .integer(Int64(vehicles)),
            "highlighted": .integer(Int64(highlighted)),
            "evidence": .bool(evidence), "purges": .array(purges.map(\.signedJSON)), "files": .array(files),
        ])
    }

    /// What `verify` found.
    public struct Verification: Sendable, Encodable {
        public var entries: Int
        public var vehicles: Int
        public var files: [String]
        public var signer: String
        /// Vehicles whose chain evidence verified, and the entries it covers.
        public var evidenceVehicles: Int = 0
        public var evidenceEntries: Int = 0
        /// The signature and the files (`records.export-altered`).
        public var problems: [String]
        /// The chain evidence and its match with the rows (`records.evidence`), checked only
        /// when the files are intact.
        public var evidenceProblems: [String] = []
        /// Whether the rows were checked against the vehicles' signed chains (the export carries
        /// chain evidence). Without it, the rows prove only that the compliance key signed them.
        public var evidenceChecked = false
        /// JSON Lines rows checked against their own entries, and the files generated again from
        /// them and found equal (`records.csv`, `report.html`).
        public var rowsChecked = 0
        public var regenerated: [String] = []
        public var intact: Bool { problems.isEmpty && evidenceProblems.isEmpty }
    }

    /// Checks an export directory: the signer's certificate chains to the `compliance` role of
    /// `trust` (else `export.signer-role`), the manifest's signature, every listed file's size
    /// and digest, that no file is missing or extra, each vehicle's chain evidence against
    /// device certificates of the `vehicle` role, that every JSON Lines row is an entry of
    /// that evidence (byte for byte), and that no entry the evidence covers and the filter
    /// selects was left out. With or without evidence, every row must be the exporter's line for
    /// its own entry (its hash, its time), and `records.csv` and `report.html` must be what the
    /// rows generate (`ExportRowCheck`). Throws for a refusal that stops the check (no signature,
    /// a signer without the role); returns every other problem; `evidenceChecked` says whether
    /// the rows were checked against the vehicles' signatures at all.
    public static func verify(directory: String, trust: TrustStore, at time: Date = Date()) throws(OTAError)
        -> Verification
    {
        let manifestPath = directory + "/" + manifestName
        let signaturePath = directory + "/" + signatureName
        guard FileSystem.isDirectory(directory) else {
            throw OTAError(.ioNotFound, "\(directory): no export directory here")
        }
        guard isRegularFile(manifestPath) else {
            throw OTAError(
                .recordsExportMalformed,
                "\(directory): no manifest.json (a regular file): not an export, or one cut short")
        }
        guard isRegularFile(signaturePath) else {
            throw OTAError(
                .recordsExportUnsigned, "\(directory): no manifest.sig: the export is unsigned and proves nothing")
        }
        let manifestBytes = try FileSystem.read(manifestPath, limit: 64 << 20)
        let signatureBytes = try FileSystem.read(signaturePath, limit: 64 << 10)
        let manifest: JSONValue
        let signature: JSONValue
        do {
            manifest = try JSONValue.parse(manifestBytes)
            signature = try JSONValue.parse(signatureBytes)
        } catch {
            throw OTAError(.recordsExportMalformed, "\(directory): manifest or signature is not JSON: \(error.message)")
        }
        guard manifest["format"]?.stringValue == format, let hashName = manifest["hash"]?.stringValue,
            let hash = HashAlgorithm(rawValue: hashName), let files = manifest["files"]?.arrayValue
        else { throw OTAError(.recordsExportMalformed, "\(manifestPath): not an \(format) manifest") }

        // The signer: a certificate of the compliance role, then its signature.
        let signerPath = directory + "/" + signerName
        guard isRegularFile(signerPath) else {
            throw OTAError(
                .exportSignerRole, "\(directory): no signer.pem: the signer cannot be shown to hold the compliance role"
            )
        }
        let certificates = try Certificate.load(try FileSystem.read(signerPath, limit: 1 << 20), source: signerPath)
        try ExportSigner.checkRole(certificates[0], chain: Array(certificates.dropFirst()), trust: trust, at: time)
        let publicKey = try certificates[0].publicKey
        var problems: [String] = []
        let algorithm = try SignatureAlgorithm.forKey(publicKey.type)
        if signature["alg"]?.stringValue != algorithm.rawValue {
            problems.append(
                "manifest.sig: algorithm \(signature["alg"]?.stringValue ?? "none") does not fit the signer's key")
        } else if let hex = signature["sig"]?.stringValue, let bytes = Hex.decode(hex),
            try publicKey.check(bytes, for: manifestBytes, algorithm: algorithm) == .valid
        {
        } else {
            problems.append(
                "manifest.sig: the signature over manifest.json does not verify under the signer's certificate \(certificates[0].subject)"
            )
        }

        // Every listed file, and nothing else.
        var names: Set<String> = [manifestName, signatureName]
        var digests: [String: String] = [:]
        var evidence: [(number: Int, name: String)] = []
        for file in files {
            guard let name = file["name"]?.stringValue, let size = file["bytes"]?.integerValue,
                let digest = file["digest"]?.stringValue,
                isSafeName(name)
            else { problems.append("manifest.json: a file entry is malformed"); continue }
            names.insert(name)
            digests[name] = digest
            if name.hasPrefix(ExportEvidence.directory + "/") {
                if let number = ExportEvidence.number(ofFile: name) {
                    if name.hasSuffix(".json") { evidence.append((number, name)) }
                } else {
                    problems.append(
                        "\(name): not a numbered evidence file (evidence/NNNN.log or evidence/NNNN.json, as the exporter names them)"
                    )
                }
            }
            let path = directory + "/" + name
            guard FileSystem.exists(path) else { problems.append("\(name): missing"); continue }
            guard isRegularFile(path) else { problems.append("\(name): not a regular file"); continue }
            let actualSize = try InputFile(path: path).size()
            if actualSize != size { problems.append("\(name): \(actualSize) bytes, the manifest says \(size)") }
            if try Hasher.hash(hash, fileAt: path).hex != digest {
                problems.append("\(name): contents changed (digest differs)")
            }
        }
        // A name that is not UTF-8 is never a manifest's: reported under its escaped spelling.
        let top = try FileSystem.listing(directory)
        var extras = top.names.filter { !names.contains($0) && $0 != ExportEvidence.directory } + top.namesNotUTF8
        if FileSystem.isDirectory(directory + "/" + ExportEvidence.directory) {
            let evidence = try FileSystem.listing(directory + "/" + ExportEvidence.directory)
            extras +=
                (evidence.names.filter { !names.contains(ExportEvidence.directory + "/" + $0) }
                + evidence.namesNotUTF8).map { ExportEvidence.directory + "/" + $0 }
        }
        problems += extras.map { "\($0): not listed in the manifest" }
        for (index, item) in (manifest["purges"]?.arrayValue ?? []).enumerated() {
            do throws(OTAError) {
                try FleetPurge.verify(
                    try PurgeTombstone(signedJSON: item, source: "manifest.json.purges[\(index)]"), trust: trust,
                    at: time)
            } catch {
                problems.append("manifest.json.purges[\(index)]: \(error.message)")
            }
        }
        var verification = Verification(
            entries: Int(manifest["entries"]?.integerValue ?? 0),
            vehicles: Int(manifest["vehicles"]?.integerValue ?? 0),
            files: files.compactMap { $0["name"]?.stringValue }, signer: certificates[0].subject, problems: problems)
        guard problems.isEmpty else { return verification }
        // Every row against its own entry, and the CSV and report generated again from the rows.
        let rows = try ExportRowCheck.check(directory: directory, manifest: manifest, hash: hash, listed: digests)
        verification.rowsChecked = rows.rows
        verification.regenerated = rows.regenerated
        verification.problems += rows.problems
        if manifest["evidence"] == .bool(true) || !evidence.isEmpty {
            verification.evidenceChecked = true
            try checkEvidence(
                directory: directory, names: evidence.sorted { $0.number < $1.number }.map(\.name), manifest: manifest,
                trust: trust, at: time, into: &verification)
        }
        return verification
    }

    /// Vehicle by vehicle (the evidence files `names`, in number order, and the JSON Lines rows
    /// come in the same order), so memory holds one vehicle's evidence at a time.
    private static func checkEvidence(
        directory: String, names evidenceNames: [String], manifest: JSONValue, trust: TrustStore, at time: Date,
        into verification: inout Verification
    ) throws(OTAError) {
        let filter = ExportFilter(manifest["filter"])
        let jsonlPath = directory + "/" + ExportFormat.jsonl.fileName
        let rows: RowReader? = FileSystem.exists(jsonlPath) ? try RowReader(path: jsonlPath) : nil
        for name in evidenceNames {
            let checked: ExportEvidence.Checked
            do throws(OTAError) {
                checked = try ExportEvidence.check(
                    json: directory + "/" + name, directory: directory, trust: trust, at: time, filter: filter)
            } catch {
                verification.evidenceProblems.append("\(name): \(error.message)")
                return
            }
            verification.evidenceVehicles += 1
            verification.evidenceEntries += checked.entries.count
            guard let rows else { continue }
            var exported: Set<UInt64> = []
            while let row = try rows.peek(), row.vin == checked.vin {
                _ = try rows.next()
                guard let proven = checked.entries[row.seq] else {
                    verification.evidenceProblems.append(
                        "records.jsonl line \(row.line): entry \(row.seq) of \(row.vin) is not in the vehicle's chain evidence"
                    )
                    continue
                }
                let computed = try Hasher.hash(checked.hash, row.content).hex
                if proven.hash != row.hash || computed != row.hash {
                    verification.evidenceProblems.append(
                        "records.jsonl line \(row.line): entry \(row.seq) of \(row.vin) differs from what the vehicle signed"
                    )
                }
                exported.insert(row.seq)
            }
            for (seq, entry) in checked.entries.sorted(by: { $0.key < $1.key })
            where !exported.contains(seq) && entry.selected {
                verification.evidenceProblems.append(
                    "entry \(seq) of \(checked.vin) is in the signed chain and matches the export's filter, but records.jsonl leaves it out"
                )
                if verification.evidenceProblems.count > 100 { return }
            }
        }
        if let rows, let row = try rows.peek() {
            verification.evidenceProblems.append(
                "records.jsonl line \(row.line): entry \(row.seq) of \(row.vin) has no chain evidence")
        }
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// A plain name, or `evidence/` and a plain name.
    static func isSafeName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || (parts.count == 2 && parts[0] == Substring(ExportEvidence.directory)) else {
            return false
        }
        guard let last = parts.last, !last.isEmpty, !last.hasPrefix("."), last.utf8.count <= 128 else { return false }
        return true
    }
}

/// The manifest's filter, applied again by a verifier to the entries the evidence covers.
struct ExportFilter {
    var kinds: Set<String> = []
    var fields: [String: String] = [:]

    init(_ json: JSONValue?) {
        kinds = Set((json?["kinds"]?.arrayValue ?? []).compactMap(\.stringValue))
        for key in ["vin", "campaign", "bundle", "ecu", "step", "outcome", "attempt", "from", "to"] {
            if let value = json?[key]?.stringValue { fields[key] = value }
        }
    }

    func selects(kind: LogEntry.Kind, body: EntryBody, vin: String) -> Bool {
        if !kinds.isEmpty, !kinds.contains(kind.rawValue) { return false }
        if let wanted = fields["vin"], wanted != vin { return false }
        let time = body.time.text
        if let from = fields["from"], time < from { return false }
        if let to = fields["to"], time >= to { return false }
        let record: UpgradeRecord?
        if case .record(let value) = body { record = value } else { record = nil }
        for (key, wanted) in fields where !["vin", "from", "to"].contains(key) {
            guard let record else { return false }
            let actual: [String] =
                switch key {
                case "campaign": [record.update?.campaign].compactMap { $0 }
                case "bundle": [record.update?.bundle].compactMap { $0 }
                case "ecu": record.ecus.map(\.ecu)
                case "step": [record.step.rawValue]
                case "outcome": [record.outcome.rawValue]
                case "attempt": [record.attempt].compactMap { $0 }
                default: []
                }
            if !actual.contains(wanted) { return false }
        }
        return true
    }
}

/// The JSON Lines rows of an export, read one at a time (memory does not grow with the file).
final class RowReader {
    struct Row {
        var line: Int
        var vin: String
        var seq: UInt64
        var hash: String
        var prev: String
        var kind: LogEntry.Kind
        /// The row's own `time` member (the exporter's copy of the entry's time).
        var time: String
        /// The entry's canonical JSON bytes.
        var entry: [UInt8]
        /// The bytes the entry's hash covers: `SEQ SP PREV SP KIND SP JSON`.
        var content: [UInt8]
        /// The line as it is in the file (without `LF`).
        var raw: [UInt8]
    }

    private let file: InputFile
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var pending: [UInt8] = []
    private var start = 0
    private var count = 0
    private var number = 0
    private var lookahead: Row?
    private var finished = false

    init(path: String) throws(OTAError) {
        file = try InputFile(path: path)
    }

    private func nextLine() throws(OTAError) -> [UInt8]? {
        while true {
            if let newline = buffer[start..<count].firstIndex(of: 0x0a) {
                let line = pending + buffer[start..<newline]
                pending.removeAll(keepingCapacity: true)
                start = newline + 1
                return line
            }
            pending.append(contentsOf: buffer[start..<count])
            guard pending.count <= 16 << 20 else {
                throw OTAError(.recordsExportMalformed, "records.jsonl: a line longer than 16 MiB")
            }
            start = 0
            count = try file.read(into: &buffer)
            if count == 0 {
                guard !pending.isEmpty else { return nil }
                defer { pending.removeAll() }
                return pending
            }
        }
    }

    func peek() throws(OTAError) -> Row? {
        if lookahead == nil, !finished {
            if let line = try nextLine() {
                number += 1
                lookahead = try Self.row(line[...], number: number)
            } else {
                finished = true
            }
        }
        return lookahead
    }

    func next() throws(OTAError) -> Row? {
        let row = try peek()
        lookahead = nil
        return row
    }

    private static func row(_ bytes: ArraySlice<UInt8>, number: Int) throws(OTAError) -> Row {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw OTAError(.recordsExportMalformed, "records.jsonl line \(number): \(error.message)")
        }
        let object = try JSONObjectReader(
            value, path: "records.jsonl line \(number)",
            allowed: ["entry", "hash", "kind", "prev", "seq", "time", "vin"])
        let seq = UInt64(try object.integer("seq", in: 0...Int64(EntryBody.maximumSeq)))
        let kindName = try object.string("kind", maximumBytes: 32)
        guard let kind = LogEntry.Kind(rawValue: kindName), let entry = object.canonicalBytes("entry") else {
            throw OTAError(.recordsExportMalformed, "records.jsonl line \(number): no entry kind or body")
        }
        let prev = try object.digest("prev")
        var content = Array("\(seq) \(prev) \(kind.rawValue) ".utf8)
        content.append(contentsOf: entry)
        return Row(
            line: number, vin: try object.string("vin", maximumBytes: 64), seq: seq, hash: try object.digest("hash"),
            prev: prev, kind: kind, time: try object.string("time", maximumBytes: 64), entry: Array(entry),
            content: content, raw: Array(bytes))
    }
}
