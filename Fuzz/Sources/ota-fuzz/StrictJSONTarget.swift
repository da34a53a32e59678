import Foundation
import OTACore

/// `StrictJSON`, the reader under every signed document and JSON input, in both modes
/// (canonical: integers only; input: any number). Invariants:
///
/// - the canonical encoding of what was read reads back, and encodes to the same bytes;
/// - what `StrictJSON` accepts, Foundation's `JSONSerialization` accepts too (the strict reader
///   may refuse more, never accept what a common JSON reader calls invalid), except, in input
///   mode, a number literal beyond a finite Double.
struct StrictJSONTarget: FuzzTarget {
    static let name = "json"
    static let summary =
        "StrictJSON.parse (canonical and input modes): canonical bytes read back the same; accepted JSON is JSON to Foundation"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        for limits in [StrictJSON.Limits(), StrictJSON.Limits(integersOnly: false)] {
            guard let value = try? StrictJSON.parse(input, limits: limits) else { continue }
            let canonical = StrictJSON.canonicalBytes(value)
            let again: StrictJSON.Value
            do throws(StrictJSON.SyntaxError) {
                again = try StrictJSON.parse(canonical, limits: limits)
            } catch {
                FuzzTargets.violated("json: the canonical encoding of an accepted document is refused: \(error)")
            }
            if StrictJSON.canonicalBytes(again) != canonical {
                FuzzTargets.violated("json: the canonical encoding is not stable")
            }
            // Input mode takes any number literal, 1e999 included, which Foundation refuses (not
            // representable as a Double; the typed decoder after StrictJSON refuses it then:
            // Fuzz/regressions/json/). Only that difference is allowed.
            if (try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed])) == nil,
                limits.integersOnly || !Self.hasNumberBeyondDouble(value)
            {
                FuzzTargets.violated("json: StrictJSON accepts what JSONSerialization refuses")
            }
        }
    }

    /// Whether a number literal in `value` is beyond a finite Double (Foundation refuses those).
    static func hasNumberBeyondDouble(_ value: StrictJSON.Value) -> Bool {
        switch value {
        case .number(let literal): (Double(literal) ?? .infinity).isInfinite
        case .array(let items): items.contains { hasNumberBeyondDouble($0) }
        case .object(let members): members.contains { hasNumberBeyondDouble($0.value) }
        case .string, .bool, .null: false
        }
    }
}
