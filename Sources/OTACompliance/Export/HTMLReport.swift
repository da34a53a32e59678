import OTACore
import OTARecorder

/// Pieces of the self-contained HTML report (no scripts, no external resources), written as the
/// entries stream by: one section per vehicle with a timeline of its steps. Every word is in the
/// report's language (labels from the field table, steps and results from the record's
/// vocabulary); failed steps are highlighted (`li.failed`).
package enum HTMLReport {
    package static func escape(_ text: String) -> String {
        let special: (UInt8) -> Bool = { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }
        guard text.utf8.contains(where: special) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            switch byte {
            case 0x26: out.append(contentsOf: "&amp;".utf8)
            case 0x3C: out.append(contentsOf: "&lt;".utf8)
            case 0x3E: out.append(contentsOf: "&gt;".utf8)
            case 0x22: out.append(contentsOf: "&quot;".utf8)
            case 0x27: out.append(contentsOf: "&#39;".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func prologue(language: RecordLanguage, filter: RecordFilter, generated: String, pseudonymisation: String)
        -> String
    {
        var scope: [String] = []
        let names: [(String, String, String?)] = [
            ("VIN", "车辆识别代号", filter.vin), ("campaign", "升级活动", filter.campaign), ("bundle", "升级包", filter.bundle),
            ("ECU", "控制器", filter.ecu), ("step", "步骤", filter.step?.label(language)),
            ("result", "结果", filter.outcome?.label(language)),
            ("from", "起始", filter.from), ("to", "截止", filter.to),
        ]
        for (en, zh, value) in names {
            if let value { scope.append("\(language.pick(en, zh)) = \(escape(value))") }
        }
        let title = language.pick("Software update records", "软件升级记录")
        let vinMode =
            pseudonymisation == "none"
            ? language.pick("VINs shown as recorded", "显示原始车辆识别代号")
            : language.pick("VINs replaced by tokens (\(pseudonymisation))", "车辆识别代号已替换为标记（\(pseudonymisation)）")
        return """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)">
            <head>
            <meta charset="utf-8">
            <title>\(title)</title>
            <style>
            body { font-family: "Noto Sans", "Noto Sans CJK SC", "Noto Sans SC", "DejaVu Sans", sans-serif; margin: 2em; color: #111; }
            h1 { font-size: 1.6em; margin-bottom: 0.2em; }
            .meta { color: #444; font-size: 0.9em; margin-bottom: 1.5em; }
            .legend span { display: inline-block; margin-right: 1.5em; }
            section.vehicle { border-top: 2px solid #333; padding-top: 0.6em; margin-top: 1.4em; }
            section.vehicle h2 { font-size: 1.2em; margin: 0 0 0.6em 0; font-family: monospace; }
            ol.timeline { list-style: none; margin: 0; padding: 0 0 0 1.2em; border-left: 3px solid #888; }
            ol.timeline li { position: relative; margin: 0 0 0.7em 0; padding: 0.2em 0.4em 0.2em 0.8em; break-inside: avoid; }
            ol.timeline li::before { content: ""; position: absolute; left: -1.75em; top: 0.45em; width: 0.8em; height: 0.8em;
                border-radius: 50%; background: #888; border: 2px solid #fff; }
            ol.timeline li.outcome-success::before { background: #1a7f37; }
            ol.timeline li.outcome-pending::before { background: #0969da; }
            ol.timeline li.event::before { background: #9a6700; }
            ol.timeline li.failed { background: #ffebe9; border-left: 5px solid #cf222e; }
            ol.timeline li.failed::before { background: #cf222e; }
            ol.timeline li.attempt-result { border: 1px solid #999; }
            .when { font-family: monospace; color: #333; }
            .step { font-weight: bold; margin-left: 0.5em; }
            .result { display: inline-block; margin-left: 0.5em; padding: 0 0.4em; border: 1px solid #666; border-radius: 3px; font-size: 0.85em; }
            li.failed .result { background: #cf222e; color: #fff; border-color: #cf222e; }
            .detail { font-size: 0.88em; color: #333; margin-top: 0.15em; }
            .detail span { margin-right: 1.2em; display: inline-block; }
            .detail b { font-weight: 600; }
            table.ecus { border-collapse: collapse; font-size: 0.85em; margin-top: 0.3em; }
            table.ecus th, table.ecus td { border: 1px solid #bbb; padding: 0.1em 0.4em; text-align: left; vertical-align: top; }
            table.ecus td.hash { font-family: monospace; font-size: 0.8em; word-break: break-all; }
            footer { margin-top: 2em; font-size: 0.85em; color: #444; }
            .vehicle-on-paper { display: none; }
            @media print {
                body { margin: 1cm; }
                ol.timeline li::before, ol.timeline li.failed { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
                .vehicle-on-paper { display: inline; float: right; font-family: monospace; font-size: 0.8em; color: #555; }
            }
            </style>
            </head>
            <body>
            <h1>\(title)</h1>
            <div class="meta">\(language.pick("Generated", "生成时间")) \(escape(generated)) · \(scope.isEmpty ? language.pick("all records", "全部记录") : scope.joined(separator: ", ")) · \(escape(vinMode))</div>
            <div class="meta legend"><span>\(language.pick("Failed, rejected and rolled-back steps are highlighted in red.", "失败、拒绝和回滚的步骤以红色突出显示。"))</span></div>

            """
    }

    static func vehicleStart(token: String, language: RecordLanguage) -> String {
        "<section class=\"vehicle\" data-vehicle=\"\(escape(token))\">\n<h2>\(language.pick("Vehicle", "车辆")) \(escape(token))</h2>\n<ol class=\"timeline\">\n"
    }

    static let vehicleEnd = "</ol>\n</section>\n"

    /// One timeline entry with its fields; a record naming ECUs gets a table, one line each.
    static func item(_ rows: [ExportRow], language: RecordLanguage) -> String {
        guard let first = rows.first else { return "" }
        var classes = ["entry"]
        var result = ""
        if let record = first.record {
            classes.append("outcome-\(record.outcome.rawValue)")
            classes.append("step-\(record.step.rawValue.replacingOccurrences(of: ".", with: "-"))")
            if record.step == .result { classes.append("attempt-result") }
            result = "<span class=\"result\">\(escape(record.outcome.label(language)))</span>"
        } else {
            classes.append("event")
            classes.append("kind-\(first.entry.kind.rawValue)")
        }
        if first.isFailure { classes.append("failed") }
        var details: [String] = []
        for field in RecordField.table where field.scope == .entry && field.inReport {
            let value = field.value(first, language)
            if !value.isEmpty {
                details.append("<span><b>\(escape(field.label(language)))</b>: \(escape(value))</span>")
            }
        }
        var table = ""
        let ecuFields = RecordField.table.filter { $0.scope == .ecu && $0.inReport }
        if rows.contains(where: { $0.ecu != nil }) {
            let used = ecuFields.filter { field in rows.contains { !field.value($0, language).isEmpty } }
            table =
                "<table class=\"ecus\"><tr>" + used.map { "<th>\(escape($0.label(language)))</th>" }.joined() + "</tr>"
            for row in rows {
                table +=
                    "<tr>"
                    + used.map { field in
                        let value = field.value(row, language)
                        return field.id.hasPrefix("imageHash")
                            ? "<td class=\"hash\">\(escape(value))</td>" : "<td>\(escape(value))</td>"
                    }.joined() + "</tr>"
            }
            table += "</table>"
        }
        return
            "<li class=\"\(classes.joined(separator: " "))\" data-seq=\"\(first.entry.seq)\"><span class=\"when\">\(escape(first.entry.time))</span>"
            + "<span class=\"step\">\(escape(first.event(language)))</span>\(result)"
            + "<span class=\"vehicle-on-paper\">\(escape(first.vin))</span>"
            + "<div class=\"detail\">\(details.joined())<span>#\(first.entry.seq)</span></div>\(table)</li>\n"
    }

    static func epilogue(entries: Int, vehicles: Int, failures: Int, purges: [PurgeTombstone], language: RecordLanguage)
        -> String
    {
        var out = "<footer>"
        out += escape(
            language.pick(
                "\(entries) entries, \(vehicles) vehicles, \(failures) highlighted.",
                "共 \(entries) 条记录，\(vehicles) 辆车，\(failures) 条突出显示。"))
        for purge in purges {
            out +=
                "<p class=\"purge\">"
                + escape(
                    language.pick(
                        "Purged from the fleet store: \(purge.deleted) entries older than \(purge.before) (\(purge.reason); by \(purge.by) on \(purge.systemTime)\(purge.clockOverride.map { "; clock override: \($0)" } ?? "")).",
                        "已从车队存储中删除：\(purge.before) 之前的 \(purge.deleted) 条记录（\(purge.reason)；由 \(purge.by) 于 \(purge.systemTime) 执行\(purge.clockOverride.map { "；时钟覆盖：\($0)" } ?? "")）。"
                    )) + "</p>"
        }
        out +=
            " "
            + escape(
                language.pick(
                    "Integrity: see manifest.json, manifest.sig and evidence/.",
                    "完整性：见 manifest.json、manifest.sig 与 evidence/。"))
        return out + "</footer>\n</body>\n</html>\n"
    }
}
