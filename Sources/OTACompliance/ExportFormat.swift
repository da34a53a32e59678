/// Export formats for compliance staff.
public enum ExportFormat: String, Sendable, CaseIterable, Encodable {
    /// UTF-8 with a byte-order mark (so spreadsheet programs show Chinese), RFC 4180 quoting.
    case csv
    /// One JSON object per line.
    case jsonl
    /// A self-contained HTML report: a timeline per vehicle, readable on screen and on paper.
    case html

    public var fileName: String {
        switch self {
        case .csv: "records.csv"
        case .jsonl: "records.jsonl"
        case .html: "report.html"
        }
    }
}

/// Header language of CSV and HTML exports.
public enum ExportLanguage: String, Sendable, CaseIterable {
    case en
    case zhCN = "zh-CN"
}
