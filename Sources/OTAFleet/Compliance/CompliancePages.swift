import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// The plain HTML pages compliance staff read in a browser: a filterable list of records, one
/// vehicle's history and software register, one campaign's outcome table (counts per result
/// and error code). In English or Chinese (`language=zh-CN`, or a browser asking for `zh`); no
/// script; every value escaped; failed rows carry the `failure` class (highlighted); the raw
/// step and result ride along as `data-` attributes and `data-testid` names what tests look
/// for. Lists stop at `limit` rows and say so; full answers are exports.
struct CompliancePages {
    let store: any RecordStore
    var language: RecordLanguage = .en
    var limit = 500

    /// The language a request asks for: `language=en|zh-CN`, else the browser's first
    /// `Accept-Language` tag (any `zh` is zh-CN), else English.
    static func language(_ parameters: [String: String], acceptLanguage: String?) throws(OTAError) -> RecordLanguage {
        if let name = parameters["language"] {
            guard let language = RecordLanguage(rawValue: name) else {
                throw OTAError(.usageInvalid, "language=\(name): en or zh-CN")
            }
            return language
        }
        let first = acceptLanguage?.split(separator: ",").first?.split(separator: ";").first?.trimmingCharacters(
            in: .whitespaces
        ).lowercased()
        return first?.hasPrefix("zh") == true ? .zhCN : .en
    }

    private func t(_ en: String, _ zh: String) -> String { language.pick(en, zh) }

    /// A link to another page, in this page's language.
    private func href(_ path: String) -> String {
        language == .en ? path : path + "?language=" + language.rawValue
    }

    static func escape(_ text: String) -> String { HTMLReport.escape(text) }

    static func link(_ path: String, _ parameters: [(String, String)] = []) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            .joined(separator: "&")
        return escape(query.isEmpty ? path : path + "?" + query)
    }

    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    private func page(_ title: String, viewer: String, _ body: String) -> String {
        let fonts =
            language == .zhCN ? "\"Noto Sans CJK SC\",\"Noto Sans SC\",system-ui,sans-serif" : "system-ui,sans-serif"
        return """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)"><head><meta charset="utf-8"><title>\(Self.escape(title)) · ota fleet</title>
            <style>
            body{font-family:\(fonts);margin:1.5rem;color:#222}table{border-collapse:collapse;margin:.5rem 0}
            td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}th{background:#f3f3f3}
            tr.failure td{background:#fde8e8;color:#8a1414}tr.failure td:first-child{border-left:4px solid #cf222e}
            .meta{color:#666;font-size:.85rem}form label{margin-right:.75rem}nav a{margin-right:1rem}
            </style></head><body>
            <nav><a href="\(href("/compliance"))" data-testid="nav-records">\(t("Records", "升级记录"))</a>\
            <a href="/compliance" data-testid="lang-en" lang="en">English</a><a href="/compliance?language=zh-CN" data-testid="lang-zh" lang="zh-CN">中文</a></nav>
            <h1 data-testid="title">\(Self.escape(title))</h1>
            <p class="meta" data-testid="viewer">\(t("Signed in as", "登录身份")) \(Self.escape(viewer)) (\(t("compliance", "合规")))</p>
            \(body)
            </body></html>
            """
    }

    private func recordRows(_ filter: RecordFilter, showVIN: Bool) throws(OTAError) -> (
        rows: String, count: Int, more: Bool
    ) {
        var rows = ""
        var count = 0
        var more = false
        do throws(OTAError) {
            try store.entries(matching: filter) { entry throws(OTAError) in
                guard count < limit else { more = true; throw OTAError(.recordsStore, "enough") }
                guard case .record(let record) = try entry.decoded() else { return }
                count += 1
                let failed = record.outcome != .success
                let campaign = record.update?.campaign
                rows += "<tr data-testid=\"record\" class=\"\(failed ? "failure" : "")\" data-seq=\"\(entry.seq)\" "
                rows +=
                    "data-step=\"\(Self.escape(record.step.rawValue))\" data-outcome=\"\(Self.escape(record.outcome.rawValue))\">"
                rows += "<td>\(Self.escape(entry.time))</td>"
                if showVIN {
                    rows +=
                        "<td><a href=\"\(href("/compliance/vehicles/" + Self.segment(entry.vin)))\">\(Self.escape(entry.vin))</a></td>"
                }
                rows += "<td>\(entry.seq)</td>"
                rows +=
                    "<td>\(campaign.map { "<a href=\"\(href("/compliance/campaigns/" + Self.segment($0)))\">\(Self.escape($0))</a>" } ?? "")</td>"
                rows += "<td>\(Self.escape(record.update?.bundle ?? ""))</td>"
                rows += "<td>\(Self.escape(record.ecus.map(\.ecu).joined(separator: ", ")))</td>"
                rows += "<td>\(Self.escape(record.step.label(language)))</td>"
                rows += "<td data-testid=\"outcome\">\(Self.escape(record.outcome.label(language)))</td>"
                rows += "<td>\(Self.escape(record.errorCode ?? ""))</td></tr>\n"
            }
        } catch {
            guard more else { throw error }
        }
        return (rows, count, more)
    }

    private func recordTable(_ filter: RecordFilter, showVIN: Bool) throws(OTAError) -> String {
        let (rows, count, more) = try recordRows(filter, showVIN: showVIN)
        let columns =
            [t("Time", "时间")] + (showVIN ? [t("VIN", "车辆识别代号")] : [])
            + [
                t("Entry", "条目"), t("Campaign", "升级活动"), t("Bundle", "升级包"), t("ECUs", "控制器"), t("Step", "步骤"),
                t("Result", "结果"), t("Error code", "错误码"),
            ]
        let head = "<tr>" + columns.map { "<th>\($0)</th>" }.joined() + "</tr>"
        let note =
            more
            ? "<p class=\"meta\" data-testid=\"truncated\">\(t("The first \(limit) records; export for all of them.", "仅显示前 \(limit) 条记录；全部记录请导出。"))</p>"
            : ""
        return
            "<p data-testid=\"count\">\(t("\(count) record(s)", "共 \(count) 条记录"))</p>\(note)<table data-testid=\"records\">\(head)\n\(rows)</table>"
    }

    /// `/compliance`: a filter form and the matching records; with `swin`, the vehicles running it.
    func index(_ parameters: [String: String], viewer: String) throws(OTAError) -> String {
        var filterParameters = parameters
        filterParameters["swin"] = nil
        filterParameters["language"] = nil
        let filter = try RecordQuery.filter(filterParameters, allowed: RecordQuery.filterKeys)
        func field(_ name: String, _ label: String) -> String {
            "<label>\(label) <input name=\"\(name)\" value=\"\(Self.escape(parameters[name] ?? ""))\" data-testid=\"filter-\(name)\"></label>"
        }
        var body = "<form method=\"get\" action=\"/compliance\" data-testid=\"filter\">"
        if language != .en { body += "<input type=\"hidden\" name=\"language\" value=\"\(language.rawValue)\">" }
        body +=
            field("vin", t("VIN", "车辆识别代号")) + field("campaign", t("Campaign", "升级活动"))
            + field("bundle", t("Bundle", "升级包"))
        body +=
            field("ecu", t("ECU", "控制器")) + field("outcome", t("Result", "结果")) + field("from", t("From", "起始"))
            + field("to", t("To", "截止"))
        body += field("swin", "SWIN") + "<button type=\"submit\">\(t("Filter", "筛选"))</button></form>\n"
        let exportParameters = filterParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        body += "<p>\(t("Export these records:", "导出这些记录：")) "
        for format in ["csv", "jsonl", "html"] {
            let parameters =
                exportParameters + [("formats", format)] + (language == .en ? [] : [("language", language.rawValue)])
            body +=
                "<a data-testid=\"export-\(format)\" href=\"\(Self.link("/v1/export", parameters))\">\(format.uppercased())</a> "
        }
        body += "\(t("(signed manifest included; VINs tokenised)", "（含签名清单；车辆识别代号已令牌化）"))</p>\n"
        if let swin = parameters["swin"] {
            let running = try store.vehicles(runningSWIN: swin, rxswin: nil)
            body +=
                "<h2>\(t("Vehicles running SWIN", "运行此软件识别号的车辆")) \(Self.escape(swin))</h2><table data-testid=\"swin\">"
            body +=
                "<tr><th>\(t("VIN", "车辆识别代号"))</th><th>\(t("ECU", "控制器"))</th><th>\(t("Since", "自"))</th><th>\(t("Bundle", "升级包"))</th></tr>"
            for change in running.prefix(limit) {
                body +=
                    "<tr><td><a href=\"\(href("/compliance/vehicles/" + Self.segment(change.vin)))\">\(Self.escape(change.vin))</a></td><td>\(Self.escape(change.ecu))</td>"
                body += "<td>\(Self.escape(change.time))</td><td>\(Self.escape(change.bundle ?? ""))</td></tr>"
            }
            body += "</table>"
        }
        body += try recordTable(filter, showVIN: true)
        return page(t("Upgrade records", "软件升级记录"), viewer: viewer, body)
    }

    /// `/compliance/vehicles/{vin}`: its chain head, records and software register.
    func vehicle(_ vin: String, viewer: String) throws(OTAError) -> String {
        var body = ""
        if let vehicle = try store.vehicle(vin) {
            body +=
                "<p data-testid=\"head\">\(t("Stored through entry", "已存储至条目")) \(vehicle.headSeq) (\(Self.escape(vehicle.headHash))), "
            body += "\(t("device key", "设备密钥")) \(Self.escape(vehicle.keyID))</p>"
        } else {
            body += "<p data-testid=\"head\">\(t("No log of this vehicle is stored.", "未存储此车辆的记录。"))</p>"
        }
        body +=
            "<h2>\(t("Software register", "软件登记"))</h2><table data-testid=\"register\"><tr><th>\(t("Time", "时间"))</th><th>\(t("ECU", "控制器"))</th>"
        body += "<th>\(t("Version", "版本"))</th><th>SWIN</th><th>RXSWIN</th><th>\(t("Bundle", "升级包"))</th></tr>"
        for change in try store.softwareHistory(of: vin).suffix(limit) {
            body += "<tr><td>\(Self.escape(change.time))</td><td>\(Self.escape(change.ecu))</td>"
            body += "<td>\(Self.escape(change.versionBefore ?? "")) → \(Self.escape(change.versionAfter ?? ""))</td>"
            body += "<td>\(Self.escape(change.swinBefore ?? "")) → \(Self.escape(change.swinAfter ?? ""))</td>"
            body +=
                "<td>\(Self.escape(change.rxswinBefore ?? "")) → \(Self.escape(change.rxswinAfter ?? ""))</td><td>\(Self.escape(change.bundle ?? ""))</td></tr>"
        }
        body += "</table><h2>\(t("History", "升级历史"))</h2>"
        body += try recordTable(RecordFilter(vin: vin, kinds: [.record]), showVIN: false)
        return page(t("Vehicle", "车辆") + " " + vin, viewer: viewer, body)
    }

    /// `/compliance/campaigns/{campaign}`: each vehicle's final result, counted per result and
    /// error code.
    func campaign(_ campaign: String, viewer: String) throws(OTAError) -> String {
        var latest: [String: (outcome: RecordOutcome, code: String, time: String)] = [:]
        try store.entries(matching: RecordFilter(campaign: campaign, step: .result, kinds: [.record])) {
            entry throws(OTAError) in
            guard case .record(let record) = try entry.decoded() else { return }
            latest[entry.vin] = (record.outcome, record.errorCode ?? "", entry.time)
        }
        var counts: [String: Int] = [:]
        for value in latest.values { counts[value.outcome.rawValue + "\u{0}" + value.code, default: 0] += 1 }
        var body =
            "<p data-testid=\"vehicles\">\(t("\(latest.count) vehicle(s) with a result", "\(latest.count) 辆车有升级结果"))</p>"
        body +=
            "<table data-testid=\"outcomes\"><tr><th>\(t("Result", "结果"))</th><th>\(t("Error code", "错误码"))</th><th>\(t("Vehicles", "车辆数"))</th></tr>"
        for (key, count) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            let outcome = RecordOutcome(rawValue: String(parts[0]))
            body +=
                "<tr data-testid=\"outcome-row\" class=\"\(outcome == .success ? "" : "failure")\" data-outcome=\"\(Self.escape(String(parts[0])))\">"
            body +=
                "<td data-testid=\"outcome\">\(Self.escape(outcome?.label(language) ?? String(parts[0])))</td><td>\(Self.escape(parts.count > 1 ? String(parts[1]) : ""))</td><td data-testid=\"outcome-count\">\(count)</td></tr>"
        }
        body +=
            "</table><h2>\(t("Vehicles", "车辆"))</h2><table data-testid=\"campaign-vehicles\"><tr><th>\(t("VIN", "车辆识别代号"))</th>"
        body += "<th>\(t("Result", "结果"))</th><th>\(t("Error code", "错误码"))</th><th>\(t("Time", "时间"))</th></tr>"
        for (vin, value) in latest.sorted(by: { $0.key < $1.key }).prefix(limit) {
            body +=
                "<tr class=\"\(value.outcome == .success ? "" : "failure")\" data-outcome=\"\(value.outcome.rawValue)\">"
            body += "<td><a href=\"\(href("/compliance/vehicles/" + Self.segment(vin)))\">\(Self.escape(vin))</a></td>"
            body +=
                "<td data-testid=\"outcome\">\(Self.escape(value.outcome.label(language)))</td><td>\(Self.escape(value.code))</td><td>\(Self.escape(value.time))</td></tr>"
        }
        body += "</table>"
        return page(t("Campaign", "升级活动") + " " + campaign, viewer: viewer, body)
    }
}
