import Foundation
import OTARecorder

/// CSV rows (RFC 4180) from the field table.
enum CSV {
    /// Characters that make a spreadsheet read a cell as a formula when they lead it (OWASP CSV
    /// injection: `=`, `+`, `-`, `@`, TAB, CR), with their full-width forms, which some
    /// spreadsheets also accept.
    static let formulaLeads: Set<Unicode.Scalar> = [
        "=", "+", "-", "@", "\t", "\r", "\u{FF1D}", "\u{FF0B}", "\u{FF0D}", "\u{FF20}",
    ]

    /// A cell: neutralised with a leading `'` when its first character, or its first after
    /// spaces, could start a formula; quoted when it holds a comma, quote or line break.
    static func field(_ text: String) -> String {
        var value = text
        if let first = value.unicodeScalars.first(where: { $0 != " " && $0 != "\u{3000}" }),
            formulaLeads.contains(first)
        {
            value = "'" + value
        } else if let first = value.unicodeScalars.first, formulaLeads.contains(first) {
            value = "'" + value
        }
        if value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }

    static func header(_ language: RecordLanguage) -> String {
        RecordField.table.map { field($0.label(language)) }.joined(separator: ",")
    }

    static func row(_ row: ExportRow, _ language: RecordLanguage) -> String {
        RecordField.table.map { field($0.value(row, language)) }.joined(separator: ",")
    }
}
