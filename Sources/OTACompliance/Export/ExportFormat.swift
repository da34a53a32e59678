public import OTARecorder

/// Export formats for compliance staff.
public enum ExportFormat: String, Sendable, CaseIterable, Encodable {
    /// UTF-8 with a byte-order mark (so spreadsheet programs show Chinese), RFC 4180 quoting.
    case csv
    /// One JSON object per line: the entry exactly as the vehicle wrote it.
    case jsonl
    /// A self-contained HTML report: a timeline per vehicle, failures highlighted.
    case html

    public var fileName: String {
        switch self {
        case .csv: "records.csv"
        case .jsonl: "records.jsonl"
        case .html: "report.html"
        }
    }
}

/// The language of CSV headers and the HTML report (labels, steps, results: all of it).
public typealias ExportLanguage = RecordLanguage
