import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// Reads compliance queries from a URL query string and writes their answers.
enum RecordQuery {
    /// The parameters that filter records (all optional): `vin`, `campaign`, `bundle`, `ecu`,
    /// `step`, `outcome`, `attempt`, `from`, `to` (RFC 3339 UTC; `from` inclusive, `to` exclusive).
    static let filterKeys: Set<String> = [
        "vin", "campaign", "bundle", "ecu", "step", "outcome", "attempt", "from", "to",
    ]

    /// The query string as a dictionary: `+` is a space, `%XX` decoded, each key once, at most
    /// 32 pairs of at most 256 bytes each.
    static func parameters(_ query: String?) throws(OTAError) -> [String: String] {
        var result: [String: String] = [:]
        var seen = Set<String>()
        guard let query, !query.isEmpty else { return result }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= 32 else { throw OTAError(.usageInvalid, "more than 32 query parameters") }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try decode(parts[0], plusIsSpace: true, what: "query parameter")
            let value = parts.count > 1 ? try decode(parts[1], plusIsSpace: true, what: "query parameter") : ""
            // Once, whatever its value: `vins=&vins=X` read as `vins=X` here while a front reading
            // the first value saw none.
            guard seen.insert(key).inserted else {
                throw OTAError(.usageInvalid, "query parameter \(key) given twice")
            }
            if !value.isEmpty { result[key] = value }
        }
        return result
    }

    /// A percent-encoded query value (`+` a space) or path segment, decoded once: text of at
    /// most 256 bytes, no control character, in Unicode normal form C. The stores compare bytes:
    /// a look-alike spelling (U+212A KELVIN SIGN for K, a decomposed accent) or a segment left
    /// encoded (`Recall%202026`) would select nothing, silently, where it reads as a match.
    static func decode(_ text: some StringProtocol, plusIsSpace: Bool, what: String) throws(OTAError) -> String {
        let raw = String(text)
        guard let value = (plusIsSpace ? raw.replacingOccurrences(of: "+", with: " ") : raw).removingPercentEncoding,
            value.utf8.count <= 256,
            !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw OTAError(.usageInvalid, "\(what) \(raw.prefix(40)): not percent-encoded text of at most 256 bytes")
        }
        guard value.isNFC else {
            throw OTAError(.usageInvalid, "\(what) \(raw.prefix(40)): not in Unicode normal form C")
        }
        return value
    }

    static func checkKeys(_ parameters: [String: String], allowed: Set<String>) throws(OTAError) {
        for key in parameters.keys.sorted() where !allowed.contains(key) {
            throw OTAError(
                .usageInvalid, "unknown query parameter \(key) (\(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// A record filter from the parameters; unknown parameters, steps, outcomes and times are refused by name.
    static func filter(_ parameters: [String: String], allowed: Set<String>) throws(OTAError) -> RecordFilter {
        try checkKeys(parameters, allowed: allowed)
        var filter = RecordFilter(kinds: [.record])
        filter.vin = parameters["vin"]
        filter.campaign = parameters["campaign"]
        filter.bundle = parameters["bundle"]
        filter.ecu = parameters["ecu"]
        filter.attempt = parameters["attempt"]
        if let step = parameters["step"] {
            guard let value = RecordStep(rawValue: step) else {
                throw OTAError(.usageInvalid, "step=\(step): not a record step")
            }
            filter.step = value
        }
        if let outcome = parameters["outcome"] {
            guard let value = RecordOutcome(rawValue: outcome) else {
                throw OTAError(.usageInvalid, "outcome=\(outcome): not a record outcome")
            }
            filter.outcome = value
        }
        for key in ["from", "to"] {
            guard let text = parameters[key] else { continue }
            guard let date = RecordTime.parse(text) else {
                throw OTAError(.usageInvalid, "\(key)=\(text): not an RFC 3339 UTC time (2026-01-31T00:00:00Z)")
            }
            if key == "from" { filter.from = RecordTime.format(date) } else { filter.to = RecordTime.format(date) }
        }
        return filter
    }

    /// One JSON Lines row: the chain fields, then the body exactly as the vehicle wrote it.
    static func jsonLine(_ entry: StoredEntry) -> [UInt8] {
        var line = Array("{\"vin\":".utf8) + JSONValue.string(entry.vin).bytes
        line += Array(
            ",\"seq\":\(entry.seq),\"hash\":\"\(entry.hash)\",\"kind\":\"\(entry.kind.rawValue)\",\"time\":".utf8)
        line += JSONValue.string(entry.time).bytes
        line += Array(",\"body\":".utf8) + Array(entry.body.utf8) + Array("}\n".utf8)
        return line
    }

    static func json(_ change: SoftwareChange) -> JSONValue {
        var out = JSONObjectWriter()
        out.set("vin", change.vin)
        out.set("ecu", change.ecu)
        out.set("seq", unsigned: change.seq)
        out.set("time", change.time)
        out.set("attempt", change.attempt)
        out.set("bundle", change.bundle)
        out.set("campaign", change.campaign)
        out.set("hardwarePart", change.hardwarePart)
        out.set("versionBefore", change.versionBefore)
        out.set("versionAfter", change.versionAfter)
        out.set("swinBefore", change.swinBefore)
        out.set("swinAfter", change.swinAfter)
        out.set("rxswinBefore", change.rxswinBefore)
        out.set("rxswinAfter", change.rxswinAfter)
        out.set("imageHashAfter", change.imageHashAfter)
        return out.value
    }
}
