import Foundation
import OTACore
import OTARecorder

/// What a third party can check of an export's rows without the vehicles' chain evidence: each
/// JSON Lines row is exactly the line the exporter writes for its own entry (its `hash` the hash
/// of that entry's line, `time` the entry's own time, canonical bytes), rows come in (VIN, entry)
/// order, and `records.csv` and `report.html`, which the exporter generates deterministically
/// from the rows, are generated again here (by the exporter's own `ReportWriter`, into hashers)
/// and compared byte for byte (by digest) with the files the manifest lists: what a regulator
/// opens says what the checked rows say.
enum ExportRowCheck {
    struct Outcome {
        var rows = 0
        /// Files generated again from the rows and found equal.
        var regenerated: [String] = []
        var problems: [String] = []
    }

    /// `listed`: the manifest's digest of each file by name.
    static func check(directory: String, manifest: JSONValue, hash: HashAlgorithm, listed: [String: String])
        throws(OTAError) -> Outcome
    {
        var outcome = Outcome()
        let csvName = ExportFormat.csv.fileName, htmlName = ExportFormat.html.fileName
        let jsonlName = ExportFormat.jsonl.fileName
        guard listed[jsonlName] != nil else {
            for name in [csvName, htmlName] where listed[name] != nil {
                outcome.problems.append(
                    "\(name): cannot be checked against the entries: the export has no \(jsonlName) (export it with --format jsonl too)"
                )
            }
            return outcome
        }
        guard let languageName = manifest["language"]?.stringValue,
            let language = ExportLanguage(rawValue: languageName),
            let created = manifest["created"]?.stringValue,
            let pseudonymisation = manifest["pseudonymisation"]?.stringValue,
            let filter = filter(manifest["filter"])
        else {
            outcome.problems.append("manifest.json: language, created, pseudonymisation or filter missing or malformed")
            return outcome
        }
        var purges: [PurgeTombstone] = []
        for (index, item) in (manifest["purges"]?.arrayValue ?? []).enumerated() {
            purges.append(try PurgeTombstone(signedJSON: item, source: "manifest.json.purges[\(index)]"))
        }
        let csv = listed[csvName] != nil ? try Hasher(hash) : nil
        let html = listed[htmlName] != nil ? try Hasher(hash) : nil
        var report = ReportWriter(csv: csv, html: html, language: language)
        try report.begin(filter: filter, generated: created, pseudonymisation: pseudonymisation)
        var current: (vin: String, seq: UInt64)? = nil
        var seen: Set<String> = []
        let reader = try RowReader(path: directory + "/" + jsonlName)
        while let row = try reader.next() {
            outcome.rows += 1
            let at = "\(jsonlName) line \(row.line)"
            func problem(_ text: String) { if outcome.problems.count < 100 { outcome.problems.append(text) } }
            if try Hasher.hash(hash, row.content).hex != row.hash {
                problem("\(at): its hash is not the hash of its own entry (entry \(row.seq) of \(row.vin))")
            }
            let document: JSONDocument
            do { document = try JSONDocument(canonical: row.entry) } catch {
                problem("\(at): its entry is not canonical JSON: \(error.message)")
                continue
            }
            let body: EntryBody
            do throws(OTAError) {
                body = try EntryBody(kind: row.kind, json: document.root, vin: row.vin, seq: row.seq)
            } catch {
                problem("\(at): its entry does not read as a \(row.kind.rawValue) entry: \(error.message)")
                continue
            }
            if row.time != body.time.text {
                problem("\(at): time \(row.time) is not its entry's time \(body.time.text)")
            }
            let line = Exporter.jsonlLine(
                entry: row.entry, hash: row.hash, kind: row.kind, prev: row.prev, seq: row.seq, time: row.time,
                vin: row.vin)
            if line != row.raw {
                problem("\(at): not the line the exporter writes for its entry (members outside the entry differ)")
            }
            if row.vin != current?.vin {
                if seen.contains(row.vin) {
                    problem("\(at): vehicle \(row.vin) again after another vehicle (rows are in VIN, entry order)")
                }
                seen.insert(row.vin)
                try report.startVehicle(token: row.vin)
            } else if let current, row.seq <= current.seq {
                problem("\(at): entry \(row.seq) of \(row.vin) after entry \(current.seq) (rows are in entry order)")
            }
            current = (row.vin, row.seq)
            let stored = StoredEntry(
                vin: row.vin, seq: row.seq, hash: row.hash, prev: row.prev, kind: row.kind, time: row.time,
                body: String(decoding: row.entry, as: UTF8.self))
            try report.add(stored, token: row.vin, body: body)
        }
        try report.finish(purges: purges)
        for (name, hasher) in [(csvName, csv), (htmlName, html)] {
            guard let hasher else { continue }
            if hasher.finalize().hex == listed[name] {
                outcome.regenerated.append(name)
            } else {
                outcome.problems.append(
                    "\(name): not what the export's rows generate (\(jsonlName)): changed after it was generated")
            }
        }
        for (key, value) in [
            ("entries", report.entries), ("vehicles", report.vehicles), ("highlighted", report.highlighted),
        ]
        where manifest[key]?.integerValue != Int64(value) {
            outcome.problems.append(
                "manifest.json: \(key) \(manifest[key]?.integerValue.map(String.init) ?? "missing"), the rows hold \(value)"
            )
        }
        return outcome
    }

    /// The filter as the manifest shows it (VIN tokenised like the rows), read back.
    static func filter(_ json: JSONValue?) -> RecordFilter? {
        guard let json, json.objectValue != nil else { return nil }
        var kinds: [LogEntry.Kind] = []
        for value in json["kinds"]?.arrayValue ?? [] {
            guard let name = value.stringValue, let kind = LogEntry.Kind(rawValue: name) else { return nil }
            kinds.append(kind)
        }
        var filter = RecordFilter(
            vin: json["vin"]?.stringValue, campaign: json["campaign"]?.stringValue, bundle: json["bundle"]?.stringValue,
            ecu: json["ecu"]?.stringValue, attempt: json["attempt"]?.stringValue, from: json["from"]?.stringValue,
            to: json["to"]?.stringValue, kinds: kinds)
        if let step = json["step"]?.stringValue {
            guard let value = RecordStep(rawValue: step) else { return nil }
            filter.step = value
        }
        if let outcome = json["outcome"]?.stringValue {
            guard let value = RecordOutcome(rawValue: outcome) else { return nil }
            filter.outcome = value
        }
        return filter
    }
}
