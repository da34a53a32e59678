public import Foundation
package import OTACore
public import OTARecorder

#if canImport(Glibc)
    import Glibc
#endif

/// Streams store entries into export files, adds the vehicles' chain evidence, then writes and
/// signs the manifest. The export is built in a temporary directory beside the destination and
/// renamed into place only when complete; an existing destination is replaced only when asked.
///
/// Memory does not grow with the number of records: entries come from a database cursor in
/// (VIN, seq) order and go straight through fixed-size buffers into the files.
public struct Exporter {
    public var filter: RecordFilter
    public var formats: [ExportFormat]
    public var language: ExportLanguage
    public var pseudonymiser: VINPseudonymiser
    public var signer: ExportSigner
    public var now: Date
    /// Add the vehicles' signed checkpoints and the entries they cover (`evidence/`).
    public var evidence: Bool
    /// Replace an existing export directory (never any other directory).
    public var replace: Bool
    /// Sign an export that holds no entry (by default refused: `records.export-empty`).
    public var allowEmpty: Bool
    /// Called with the entries written so far (every 1,000 and at the end), for a progress display.
    public var progress: ((Int) -> Void)?

    public init(
        filter: RecordFilter, formats: [ExportFormat], language: ExportLanguage, pseudonymiser: VINPseudonymiser,
        signer: ExportSigner, now: Date, evidence: Bool = true, replace: Bool = false, allowEmpty: Bool = false
    ) {
        self.filter = filter
        self.formats = formats
        self.language = language
        self.pseudonymiser = pseudonymiser
        self.signer = signer
        self.now = now
        self.evidence = evidence
        self.replace = replace
        self.allowEmpty = allowEmpty
    }

    public struct Summary: Sendable, Encodable {
        public var directory: String
        public var entries: Int
        public var vehicles: Int
        public var highlighted: Int
        public var files: [String]
    }

    /// Writes the export into `directory`, which must not exist (or, with `replace`, must be an
    /// earlier export).
    package func export(from store: any RecordStore, to directory: String) throws(OTAError) -> Summary {
        guard !formats.isEmpty else { throw OTAError(.recordsExportFormat, "choose at least one format") }
        if FileSystem.exists(directory) || Self.isSymbolicLink(directory) {
            guard replace else {
                throw OTAError(
                    .recordsExportExists, "\(directory) exists; choose a new directory (or --replace an earlier export)"
                )
            }
            guard FileSystem.isDirectory(directory), !Self.isSymbolicLink(directory),
                FileSystem.exists(directory + "/" + ExportManifest.manifestName)
            else {
                throw OTAError(.recordsExportExists, "\(directory) is not an earlier export: it is never replaced")
            }
        }
        var filter = self.filter
        if pseudonymiser.mode != "none" {
            // A genesis entry names the VIN: never in an export that tokenises it.
            filter.kinds.removeAll { $0 == .genesis }
        }
        let parent = Self.parent(of: directory)
        let staging =
            parent + "/." + Self.lastComponent(of: directory) + ".export-" + Hex.encode(try SecureRandom.bytes(6))
        try FileSystem.createDirectory(staging, mode: 0o755)
        var committed = false
        defer { if !committed { try? FileManager.default.removeItem(atPath: staging) } }
        let summary = try write(store: store, filter: filter, into: staging, reported: directory)
        // Every file of the export on disk before it takes its name (the files are not synced one by one).
        try FileSystem.syncFileSystem(of: staging)
        if FileSystem.isDirectory(staging + "/" + ExportEvidence.directory) {
            try FileSystem.syncDirectory(staging + "/" + ExportEvidence.directory)
        }
        try FileSystem.syncDirectory(staging)
        if FileSystem.exists(directory) {
            let old =
                parent + "/." + Self.lastComponent(of: directory) + ".replaced-" + Hex.encode(try SecureRandom.bytes(6))
            try SystemCall.rename(directory, to: old, message: "\(directory): cannot move the earlier export aside")
            do {
                try SystemCall.rename(
                    staging, to: directory, message: "\(directory): cannot move the export into place")
            } catch {
                try? SystemCall.rename(old, to: directory)
                throw error
            }
            try? FileManager.default.removeItem(atPath: old)
        } else {
            try SystemCall.rename(staging, to: directory, message: "\(directory): cannot move the export into place")
        }
        committed = true
        try FileSystem.syncDirectory(parent)
        return summary
    }

    /// A `records.jsonl` line (without its `LF`): canonical JSON, members in byte order, the
    /// entry's canonical bytes as they are. `verify-export` rebuilds each row with it.
    static func jsonlLine(
        entry: some Sequence<UInt8>, hash: String, kind: LogEntry.Kind, prev: String, seq: UInt64, time: String,
        vin: String
    ) -> [UInt8] {
        var line = Array(#"{"entry":"#.utf8)
        line.append(contentsOf: entry)
        for (key, value) in [("hash", hash), ("kind", kind.rawValue), ("prev", prev)] {
            line.append(contentsOf: ",\"\(key)\":".utf8)
            StrictJSON.writeString(value, into: &line)
        }
        line.append(contentsOf: #","seq":\#(Int64(clamping: seq)),"time":"#.utf8)
        StrictJSON.writeString(time, into: &line)
        line.append(contentsOf: #","vin":"#.utf8)
        StrictJSON.writeString(vin, into: &line)
        line.append(contentsOf: "}".utf8)
        return line
    }

    static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    static func lastComponent(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    private func write(store: any RecordStore, filter: RecordFilter, into directory: String, reported: String)
        throws(OTAError) -> Summary
    {
        let algorithm = try SignatureAlgorithm.forKey(signer.key.type)
        let hash = algorithm.suite.hash
        var files: [(format: ExportFormat, file: ExportFile)] = []
        for format in formats {
            files.append((format, try ExportFile(directory: directory, name: format.fileName, hash: hash)))
        }
        let csv = files.first { $0.format == .csv }?.file
        let jsonl = files.first { $0.format == .jsonl }?.file
        let html = files.first { $0.format == .html }?.file
        // What the export says it covers, with the VIN tokenised like the rows.
        var shownFilter = filter
        shownFilter.vin = try filter.vin.map { (vin: String) throws(OTAError) -> String in
            try pseudonymiser.token(for: vin)
        }
        var report = ReportWriter(csv: csv, html: html, language: language)
        try report.begin(filter: shownFilter, generated: RecordTime.format(now), pseudonymisation: pseudonymiser.mode)
        var current: (vin: String, token: String, first: UInt64, last: UInt64)? = nil
        var ranges: [(vin: String, token: String, first: UInt64, last: UInt64)] = []
        try store.entries(matching: filter) { entry throws(OTAError) in
            if entry.vin != current?.vin {
                if let done = current { ranges.append(done) }
                current = (entry.vin, try pseudonymiser.token(for: entry.vin), entry.seq, entry.seq)
                try report.startVehicle(token: current!.token)
            }
            current!.last = entry.seq
            let document = try entry.document()
            let body = try EntryBody(kind: entry.kind, json: document.root, vin: entry.vin, seq: entry.seq)
            try report.add(entry, token: current!.token, body: body)
            if let jsonl {
                try jsonl.write(
                    bytes: Self.jsonlLine(
                        entry: document.root.canonicalBytes, hash: entry.hash, kind: entry.kind, prev: entry.prev,
                        seq: entry.seq, time: entry.time, vin: current!.token) + [0x0a])
            }
            if report.entries % 1000 == 0 { progress?(report.entries) }
        }
        progress?(report.entries)
        if let done = current { ranges.append(done) }
        guard report.entries > 0 || allowEmpty else {
            throw OTAError(.recordsExportEmpty, "nothing in the store matches the export's filter; nothing was signed")
        }
        let purges = try store.purges()
        try report.finish(purges: purges)
        let (entries, vehicles, highlighted) = (report.entries, report.vehicles, report.highlighted)

        var listed: [JSONValue] = []
        func list(_ file: ExportFile) throws(OTAError) {
            let digest = try file.finish()
            listed.append(
                .object(["name": .string(file.name), "bytes": .integer(file.size), "digest": .string(digest.hex)]))
        }
        for (_, file) in files { try list(file) }
        var extra: [ExportFile] = []
        if evidence, !ranges.isEmpty {
            try FileSystem.createDirectory(directory + "/" + ExportEvidence.directory, mode: 0o755)
            for (index, range) in ranges.enumerated() {
                let written = try ExportEvidence.write(
                    store: store, vin: range.vin, token: range.token, revealed: pseudonymiser.mode == "none",
                    from: range.first,
                    through: range.last, number: index + 1, directory: directory, hash: hash)
                // Into place at once (inside the export's temporary directory): holding two open
                // files per vehicle until the end ran out of descriptors (about 500 vehicles under
                // the common limit of 1024; ~10,000 under this machine's 20,000).
                for file in written {
                    try list(file)
                    file.commit()
                }
            }
        }
        let signerFile = try ExportFile(directory: directory, name: ExportManifest.signerName, hash: hash)
        try signerFile.write(signer.pem)
        try list(signerFile)
        extra.append(signerFile)

        let manifest = ExportManifest.json(
            created: RecordTime.format(now), hash: hash, filter: shownFilter, language: language,
            pseudonymisation: pseudonymiser.mode,
            entries: entries, vehicles: vehicles, highlighted: highlighted, evidence: evidence, purges: purges,
            files: listed)
        let manifestBytes = manifest.bytes + [0x0a]
        let signature = try signer.key.signature(for: manifestBytes)
        let signatureBytes =
            JSONValue.object([
                "alg": .string(algorithm.rawValue), "key": .string(try signer.key.publicKey.keyID(.sha256).hex),
                "sig": .string(Hex.encode(signature)),
            ]).bytes + [0x0a]
        // The manifest and its signature are the two files the manifest does not list.
        func unlisted(_ name: String, _ bytes: [UInt8]) throws(OTAError) -> ExportFile {
            let file = try ExportFile(directory: directory, name: name, hash: hash)
            try file.write(bytes: bytes)
            try file.flush()
            return file
        }
        let manifestFile = try unlisted(ExportManifest.manifestName, manifestBytes)
        let signatureFile = try unlisted(ExportManifest.signatureName, signatureBytes)
        for (_, file) in files { file.commit() }
        for file in extra { file.commit() }
        manifestFile.commit()
        signatureFile.commit()
        return Summary(
            directory: reported, entries: entries, vehicles: vehicles, highlighted: highlighted,
            files: listed.compactMap { $0["name"]?.stringValue } + [
                ExportManifest.manifestName, ExportManifest.signatureName,
            ])
    }
}
