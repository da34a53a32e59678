import OTACore
import OTARecorder

/// Writes `records.csv` and `report.html` as entries stream by, in the one order both files
/// follow: `begin`, then for each vehicle `startVehicle` and its entries (`add`), then `finish`.
/// The exporter writes into the export's files; `verify-export` writes the same steps from
/// `records.jsonl` into hashers and compares the digests with the manifest's, so the two can
/// never disagree on the order.
///
/// A vehicle's section ends when the next one starts or at `finish`. Either sink may be absent
/// (the format not exported); the counts the manifest states are kept all the same.
struct ReportWriter {
    private let csv: (any ReportSink)?
    private let html: (any ReportSink)?
    private let language: ExportLanguage
    /// Entries added, vehicles started, and entries highlighted (a failed step) so far.
    private(set) var entries = 0
    private(set) var vehicles = 0
    private(set) var highlighted = 0

    init(csv: (any ReportSink)?, html: (any ReportSink)?, language: ExportLanguage) {
        self.csv = csv
        self.html = html
        self.language = language
    }

    /// The CSV's byte-order mark (so spreadsheet programs show Chinese) and header; the
    /// report's prologue stating what the export covers (`filter`, VIN tokenised) and when.
    func begin(filter: RecordFilter, generated: String, pseudonymisation: String) throws(OTAError) {
        try csv?.write("\u{FEFF}" + CSV.header(language) + "\r\n")
        try html?.write(
            HTMLReport.prologue(
                language: language, filter: filter, generated: generated, pseudonymisation: pseudonymisation))
    }

    /// Ends the current vehicle's section, if any, and starts the section of the vehicle shown as `token`.
    mutating func startVehicle(token: String) throws(OTAError) {
        if vehicles > 0 { try html?.write(HTMLReport.vehicleEnd) }
        vehicles += 1
        try html?.write(HTMLReport.vehicleStart(token: token, language: language))
    }

    /// One entry of the current vehicle (`token`: its VIN as the export shows it): a CSV row per
    /// ECU its record names (or one), and a timeline item.
    mutating func add(_ entry: StoredEntry, token: String, body: EntryBody) throws(OTAError) {
        let rows = ExportRow.rows(entry: entry, vin: token, body: body)
        entries += 1
        if rows[0].isFailure { highlighted += 1 }
        if let csv { for row in rows { try csv.write(CSV.row(row, language) + "\r\n") } }
        try html?.write(HTMLReport.item(rows, language: language))
    }

    /// Ends the last vehicle's section and writes the report's closing counts and the store's
    /// purge tombstones.
    func finish(purges: [PurgeTombstone]) throws(OTAError) {
        if vehicles > 0 { try html?.write(HTMLReport.vehicleEnd) }
        try html?.write(
            HTMLReport.epilogue(
                entries: entries, vehicles: vehicles, failures: highlighted, purges: purges, language: language))
    }
}
