import OTARecorder

/// Pieces of the self-contained HTML report (no scripts, no external resources), written as the
/// entries stream by: one section per vehicle with a timeline of its steps.
enum HTMLReport {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func prologue(labels: ExportLabels, filter: RecordFilter, generated: String, pseudonymisation: String) -> String {
        var scope: [String] = []
        for (name, value) in [("VIN", filter.vin), ("campaign", filter.campaign), ("bundle", filter.bundle), ("ECU", filter.ecu),
                              ("result", filter.result), ("from", filter.from), ("to", filter.to)] {
            if let value { scope.append("\(name) = \(escape(value))") }
        }
        return """
            <!DOCTYPE html>
            <html lang="\(labels.language.rawValue)">
            <head>
            <meta charset="utf-8">
            <title>\(labels.title)</title>
            <style>
            body { font-family: "Noto Sans", "Noto Sans CJK SC", "DejaVu Sans", sans-serif; margin: 2em; color: #111; }
            h1 { font-size: 1.6em; margin-bottom: 0.2em; }
            .meta { color: #444; font-size: 0.9em; margin-bottom: 1.5em; }
            section.vehicle { border-top: 2px solid #333; padding-top: 0.6em; margin-top: 1.4em; }
            section.vehicle h2 { font-size: 1.2em; margin: 0 0 0.6em 0; font-family: monospace; }
            ol.timeline { list-style: none; margin: 0; padding: 0 0 0 1.2em; border-left: 3px solid #888; }
            ol.timeline li { position: relative; margin: 0 0 0.7em 0; padding-left: 0.8em; break-inside: avoid; }
            ol.timeline li::before { content: ""; position: absolute; left: -1.75em; top: 0.35em; width: 0.8em; height: 0.8em;
                border-radius: 50%; background: #888; border: 2px solid #fff; }
            ol.timeline li.success::before { background: #1a7f37; }
            ol.timeline li.failure::before, ol.timeline li.rejected::before, ol.timeline li.rolled-back::before { background: #cf222e; }
            ol.timeline li.event::before { background: #9a6700; }
            .when { font-family: monospace; color: #333; }
            .step { font-weight: bold; margin-left: 0.5em; }
            .result { display: inline-block; margin-left: 0.5em; padding: 0 0.4em; border: 1px solid #666; border-radius: 3px; font-size: 0.85em; }
            .detail { font-size: 0.88em; color: #333; margin-top: 0.15em; }
            .detail span { margin-right: 1.2em; display: inline-block; white-space: nowrap; }
            footer { margin-top: 2em; font-size: 0.85em; color: #444; }
            .vehicle-on-paper { display: none; }
            @media print {
                body { margin: 1cm; }
                section.vehicle { break-before: auto; }
                ol.timeline li::before { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
                .vehicle-on-paper { display: inline; float: right; font-family: monospace; font-size: 0.8em; color: #555; }
            }
            </style>
            </head>
            <body>
            <h1>\(labels.title)</h1>
            <div class="meta">\(labels.language == .en ? "Generated" : "生成时间") \(escape(generated)) · \(scope.isEmpty ? (labels.language == .en ? "all records" : "全部记录") : scope.joined(separator: ", ")) · VIN: \(escape(pseudonymisation))</div>

            """
    }

    static func vehicleStart(token: String, labels: ExportLabels) -> String {
        "<section class=\"vehicle\">\n<h2>\(labels.vehicle) \(escape(token))</h2>\n<ol class=\"timeline\">\n"
    }

    static let vehicleEnd = "</ol>\n</section>\n"

    /// One timeline step; `token` (the vehicle) is shown on paper only, where a page may start
    /// in the middle of a vehicle's timeline.
    static func item(entry: StoredEntry, body: [String: JSONValue], token: String, labels: ExportLabels) -> String {
        func s(_ key: String) -> String? { body[key]?.stringValue }
        let en = labels.language == .en
        var details: [String] = []
        func add(_ en: String, _ zh: String, _ value: String?) {
            if let value, !value.isEmpty { details.append("<span>\(labels.language == .en ? en : zh): \(escape(value))</span>") }
        }
        let cssClass: String
        let title: String
        var result = ""
        switch entry.kind {
        case "torn-tail":
            cssClass = "event"
            title = en ? "Torn tail quarantined" : "截断尾部已隔离"
            add("bytes", "字节", body["bytes"]?.integerValue.map(String.init))
            add("file", "文件", s("file"))
        case "prune":
            cssClass = "event"
            title = en ? "Pruned on vehicle" : "车端清理"
            add("through entry", "至条目", body["through"]?.integerValue.map(String.init))
        default:
            let outcome = s("result") ?? ""
            cssClass = ["success", "failure", "rejected", "rolled-back"].contains(outcome) ? outcome : "other"
            title = s("step") ?? entry.kind
            result = "<span class=\"result\">\(escape(outcome))</span>"
            add("ECU", "控制器", s("ecu"))
            add("campaign", "活动", s("campaign"))
            add("bundle", "升级包", s("bundle"))
            if s("versionBefore") != nil || s("versionAfter") != nil {
                add("version", "版本", "\(s("versionBefore") ?? "–") → \(s("versionAfter") ?? "–")")
            }
            if s("swinBefore") != nil || s("swinAfter") != nil {
                add("RXSWIN/SWIN", "软件识别码", "\(s("swinBefore") ?? "–") → \(s("swinAfter") ?? "–")")
            }
            add("error", "错误码", s("errorCode"))
            if let confirmation = body["confirmation"] {
                add("approval", "确认", "\(confirmation["actor"]?.stringValue ?? "") / \(confirmation["channel"]?.stringValue ?? "") / \(confirmation["answer"]?.stringValue ?? "")")
            }
            if let notice = body["notice"] { add("notice", "告知", notice["language"]?.stringValue) }
            add("duration ms", "耗时毫秒", body["durationMs"]?.integerValue.map(String.init))
        }
        return "<li class=\"\(cssClass)\"><span class=\"when\">\(escape(entry.time ?? ""))</span><span class=\"step\">\(escape(title))</span>\(result)"
            + "<span class=\"vehicle-on-paper\">\(escape(token))</span>"
            + "<div class=\"detail\">\(details.joined())<span>#\(entry.seq)</span></div></li>\n"
    }

    static func epilogue(entries: Int, vehicles: Int, labels: ExportLabels) -> String {
        "<footer>\(escape(labels.summary(entries, vehicles))). \(labels.language == .en ? "Integrity: see manifest.json and manifest.sig." : "完整性：见 manifest.json 与 manifest.sig。")</footer>\n</body>\n</html>\n"
    }
}
