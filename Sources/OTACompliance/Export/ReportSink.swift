import OTACore

/// Where `ReportWriter` puts the bytes of `records.csv` or `report.html`: the export's file, or
/// a hasher when `verify-export` generates the file again to compare it with the exported one.
protocol ReportSink: AnyObject {
    /// Appends the text's UTF-8 bytes.
    func write(_ text: String) throws(OTAError)
}

extension ExportFile: ReportSink {}

extension Hasher: ReportSink {
    func write(_ text: String) { update(Array(text.utf8)) }
}
