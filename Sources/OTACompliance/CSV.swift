import Foundation
import OTARecorder

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

    static func row(entry: StoredEntry, body: [String: JSONValue], vin: String) -> String {
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
