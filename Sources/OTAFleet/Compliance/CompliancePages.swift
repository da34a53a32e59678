import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// The plain HTML pages compliance staff read in a browser: a filterable list of records, one
/// vehicle's history and software register, one campaign's outcome table (counts per result
/// and error code). No script; every value escaped; `data-testid` names what tests look for.
/// Lists stop at `limit` rows and say so; full answers are exports.
struct CompliancePages {
    let store: any RecordStore
    var limit = 500

    static func escape(_ text: String) -> String { HTMLReport.escape(text) }

    static func link(_ path: String, _ parameters: [(String, String)] = []) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return escape(query.isEmpty ? path : path + "?" + query)
    }

    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    private func page(_ title: String, viewer: String, _ body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title)) · ota fleet</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;margin:.5rem 0}
        td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}th{background:#f3f3f3}
        tr.failure td{background:#fde8e8}.meta{color:#666;font-size:.85rem}form label{margin-right:.75rem}
        nav a{margin-right:1rem}
        </style></head><body>
        <nav><a href="/compliance">Records</a></nav>
        <h1 data-testid="title">\(Self.escape(title))</h1>
        <p class="meta" data-testid="viewer">Signed in as \(Self.escape(viewer)) (compliance)</p>
        \(body)
        </body></html>
        """
    }

    private func recordRows(_ filter: RecordFilter, showVIN: Bool) throws(OTAError) -> (rows: String, count: Int, more: Bool) {
        var rows = ""
        var count = 0
        var more = false
        do throws(OTAError) {
            try store.entries(matching: filter) { entry throws(OTAError) in
                guard count < limit else { more = true; throw OTAError(.recordsStore, "enough") }
                guard case .record(let record) = try entry.decoded() else { return }
                count += 1
                let failed = record.outcome.rawValue != "success"
                let campaign = record.update?.campaign
                rows += "<tr data-testid=\"record\" class=\"\(failed ? "failure" : "")\">"
                rows += "<td>\(Self.escape(entry.time))</td>"
                if showVIN { rows += "<td><a href=\"/compliance/vehicles/\(Self.segment(entry.vin))\">\(Self.escape(entry.vin))</a></td>" }
                rows += "<td>\(entry.seq)</td>"
                rows += "<td>\(campaign.map { "<a href=\"/compliance/campaigns/\(Self.segment($0))\">\(Self.escape($0))</a>" } ?? "")</td>"
                rows += "<td>\(Self.escape(record.update?.bundle ?? ""))</td>"
                rows += "<td>\(Self.escape(record.ecus.map(\.ecu).joined(separator: ", ")))</td>"
                rows += "<td>\(Self.escape(record.step.rawValue))</td>"
                rows += "<td data-testid=\"outcome\">\(Self.escape(record.outcome.rawValue))</td>"
                rows += "<td>\(Self.escape(record.errorCode ?? ""))</td></tr>\n"
            }
        } catch {
            guard more else { throw error }
        }
        return (rows, count, more)
    }

    private func recordTable(_ filter: RecordFilter, showVIN: Bool) throws(OTAError) -> String {
        let (rows, count, more) = try recordRows(filter, showVIN: showVIN)
        let head = "<tr><th>Time</th>\(showVIN ? "<th>VIN</th>" : "")<th>Entry</th><th>Campaign</th><th>Bundle</th><th>ECUs</th><th>Step</th><th>Result</th><th>Error code</th></tr>"
        let note = more ? "<p class=\"meta\" data-testid=\"truncated\">The first \(limit) records; export for all of them.</p>" : ""
        return "<p data-testid=\"count\">\(count) record(s)</p>\(note)<table data-testid=\"records\">\(head)\n\(rows)</table>"
    }

    /// `/compliance`: a filter form and the matching records; with `swin`, the vehicles running it.
    func index(_ parameters: [String: String], viewer: String) throws(OTAError) -> String {
        var filterParameters = parameters
        filterParameters["swin"] = nil
        let filter = try RecordQuery.filter(filterParameters, allowed: RecordQuery.filterKeys)
        func field(_ name: String, _ label: String) -> String {
            "<label>\(label) <input name=\"\(name)\" value=\"\(Self.escape(parameters[name] ?? ""))\" data-testid=\"filter-\(name)\"></label>"
        }
        var body = "<form method=\"get\" action=\"/compliance\" data-testid=\"filter\">"
        body += field("vin", "VIN") + field("campaign", "Campaign") + field("bundle", "Bundle") + field("ecu", "ECU")
        body += field("outcome", "Result") + field("from", "From") + field("to", "To") + field("swin", "SWIN")
        body += "<button type=\"submit\">Filter</button></form>\n"
        let exportParameters = filterParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        body += "<p>Export these records: "
        for format in ["csv", "jsonl", "html"] {
            body += "<a data-testid=\"export-\(format)\" href=\"\(Self.link("/v1/export", exportParameters + [("formats", format)]))\">\(format.uppercased())</a> "
        }
        body += "(signed manifest included; VINs tokenised)</p>\n"
        if let swin = parameters["swin"] {
            let running = try store.vehicles(runningSWIN: swin, rxswin: nil)
            body += "<h2>Vehicles running SWIN \(Self.escape(swin))</h2><table data-testid=\"swin\"><tr><th>VIN</th><th>ECU</th><th>Since</th><th>Bundle</th></tr>"
            for change in running.prefix(limit) {
                body += "<tr><td><a href=\"/compliance/vehicles/\(Self.segment(change.vin))\">\(Self.escape(change.vin))</a></td><td>\(Self.escape(change.ecu))</td>"
                body += "<td>\(Self.escape(change.time))</td><td>\(Self.escape(change.bundle ?? ""))</td></tr>"
            }
            body += "</table>"
        }
        body += try recordTable(filter, showVIN: true)
        return page("Upgrade records", viewer: viewer, body)
    }

    /// `/compliance/vehicles/{vin}`: its chain head, records and software register.
    func vehicle(_ vin: String, viewer: String) throws(OTAError) -> String {
        var body = ""
        if let vehicle = try store.vehicle(vin) {
            body += "<p data-testid=\"head\">Stored through entry \(vehicle.headSeq) (\(Self.escape(vehicle.headHash))), device key \(Self.escape(vehicle.keyID))</p>"
        } else {
            body += "<p data-testid=\"head\">No log of this vehicle is stored.</p>"
        }
        body += "<h2>Software register</h2><table data-testid=\"register\"><tr><th>Time</th><th>ECU</th><th>Version</th><th>SWIN</th><th>RXSWIN</th><th>Bundle</th></tr>"
        for change in try store.softwareHistory(of: vin).suffix(limit) {
            body += "<tr><td>\(Self.escape(change.time))</td><td>\(Self.escape(change.ecu))</td>"
            body += "<td>\(Self.escape(change.versionBefore ?? "")) → \(Self.escape(change.versionAfter ?? ""))</td>"
            body += "<td>\(Self.escape(change.swinBefore ?? "")) → \(Self.escape(change.swinAfter ?? ""))</td>"
            body += "<td>\(Self.escape(change.rxswinBefore ?? "")) → \(Self.escape(change.rxswinAfter ?? ""))</td><td>\(Self.escape(change.bundle ?? ""))</td></tr>"
        }
        body += "</table><h2>History</h2>"
        body += try recordTable(RecordFilter(vin: vin, kinds: [.record]), showVIN: false)
        return page("Vehicle \(vin)", viewer: viewer, body)
    }

    /// `/compliance/campaigns/{campaign}`: each vehicle's final result, counted per result and
    /// error code.
    func campaign(_ campaign: String, viewer: String) throws(OTAError) -> String {
        var latest: [String: (outcome: String, code: String, time: String)] = [:]
        try store.entries(matching: RecordFilter(campaign: campaign, step: .result, kinds: [.record])) { entry throws(OTAError) in
            guard case .record(let record) = try entry.decoded() else { return }
            latest[entry.vin] = (record.outcome.rawValue, record.errorCode ?? "", entry.time)
        }
        var counts: [String: Int] = [:]
        for value in latest.values { counts[value.outcome + "\u{0}" + value.code, default: 0] += 1 }
        var body = "<p data-testid=\"vehicles\">\(latest.count) vehicle(s) with a result</p>"
        body += "<table data-testid=\"outcomes\"><tr><th>Result</th><th>Error code</th><th>Vehicles</th></tr>"
        for (key, count) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            body += "<tr data-testid=\"outcome-row\"><td>\(Self.escape(String(parts[0])))</td><td>\(Self.escape(parts.count > 1 ? String(parts[1]) : ""))</td><td data-testid=\"outcome-count\">\(count)</td></tr>"
        }
        body += "</table><h2>Vehicles</h2><table data-testid=\"campaign-vehicles\"><tr><th>VIN</th><th>Result</th><th>Error code</th><th>Time</th></tr>"
        for (vin, value) in latest.sorted(by: { $0.key < $1.key }).prefix(limit) {
            body += "<tr class=\"\(value.outcome == "success" ? "" : "failure")\"><td><a href=\"/compliance/vehicles/\(Self.segment(vin))\">\(Self.escape(vin))</a></td>"
            body += "<td>\(Self.escape(value.outcome))</td><td>\(Self.escape(value.code))</td><td>\(Self.escape(value.time))</td></tr>"
        }
        body += "</table>"
        return page("Campaign \(campaign)", viewer: viewer, body)
    }
}
