internal import Foundation
package import OTACore

/// The identifiers a record is looked up by (the bundle and campaign, versions, SWINs and
/// RXSWINs, part numbers, approval and reference numbers, the attempt) compare as their bytes do
/// in the fleet store, SQL and `jq`: in Unicode NFC, with no control characters (C0, DEL, C1) and
/// no bidirectional formatting characters, which would show one identifier as another.
extension UpgradeRecord {
    /// Refuses a record whose identifiers are not plain text (`records.field-type`, naming the
    /// field); for records given from outside (`ota records append`).
    package func checkIdentifiers(source: String) throws(OTAError) {
        var named: [(String, String?)] = [("attempt", attempt)]
        if let update {
            named += [("update.bundle", update.bundle), ("update.campaign", update.campaign)]
            named += update.references.enumerated().flatMap { index, reference in
                [
                    ("update.references[\(index)].number", reference.number),
                    ("update.references[\(index)].authority", reference.authority),
                ]
            }
            named += [("update.approval.number", update.approval?.number)]
        }
        for (index, ecu) in ecus.enumerated() {
            let path = "ecus[\(index)]"
            named += [
                ("\(path).ecu", ecu.ecu), ("\(path).hardwarePart", ecu.hardwarePart),
                ("\(path).versionBefore", ecu.versionBefore), ("\(path).versionAfter", ecu.versionAfter),
                ("\(path).rxswinBefore", ecu.rxswinBefore), ("\(path).rxswinAfter", ecu.rxswinAfter),
                ("\(path).swinBefore", ecu.swinBefore), ("\(path).swinAfter", ecu.swinAfter),
            ]
        }
        for case (let field, let text?) in named {
            if let problem = Self.identifierProblem(text) {
                throw OTAError(.recordsFieldType, "\(source): \(field) \(problem)")
            }
        }
    }

    /// Why `text` is no plain identifier, or nil.
    static func identifierProblem(_ text: String) -> String? {
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0...0x1f, 0x7f...0x9f:
                return "holds a control character (U+\(String(format: "%04X", scalar.value)))"
            case 0x61c, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069:
                return "holds a bidirectional formatting character (U+\(String(format: "%04X", scalar.value)))"
            default: continue
            }
        }
        if !text.isNFC {
            return "is not in Unicode normalization form C (NFC)"
        }
        return nil
    }
}
