public import OTACore

/// A strict RFC 8259 reader for attacker-supplied metadata, on the project's one strict JSON
/// parser (`StrictJSON`): UTF-8 only, no duplicate member names, no fractions, exponents or `-0`
/// (canonical JSON has none), integers within Int64, nesting and size bounded, lone surrogates and
/// raw control characters refused. Names are compared by their bytes, so two names that differ
/// only in Unicode normalisation stay two members. Every failure is `tuf.json` naming the byte
/// offset.
public enum TUFJSONParser {
    /// Deepest nesting accepted (TUF metadata needs about 8).
    public static let maximumDepth = 64

    /// Parses one JSON document (whitespace around it allowed, nothing else after it).
    public static func parse(_ bytes: [UInt8], source: String = "metadata", limit: Int = 16 << 20) throws(OTAError)
        -> TUFJSON
    {
        guard bytes.count <= limit else {
            throw OTAError(.tufTooLarge, "\(source): \(bytes.count) bytes; the limit is \(limit)")
        }
        let limits = StrictJSON.Limits(maximumDepth: maximumDepth, integersOnly: true, refusesEquivalentKeys: false)
        do {
            return try convert(try StrictJSON.parse(bytes, limits: limits), source: source)
        } catch let error as StrictJSON.SyntaxError {
            throw OTAError(.tufJSON, "\(source): not strict JSON at \(error)")
        } catch let error as OTAError {
            throw error
        } catch {
            throw OTAError(.tufJSON, "\(source): \(error)")
        }
    }

    private static func convert(_ value: StrictJSON.Value, source: String) throws(OTAError) -> TUFJSON {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .string(let text): return .string(text)
        case .number(let literal):
            // StrictJSON's integers span Int64 and UInt64; metadata numbers are Int64.
            guard let integer = Int64(literal) else {
                throw OTAError(.tufJSON, "\(source): not strict JSON: integer \(literal) is out of range")
            }
            return .integer(integer)
        case .array(let items):
            var converted: [TUFJSON] = []
            converted.reserveCapacity(items.count)
            for item in items { converted.append(try convert(item, source: source)) }
            return .array(converted)
        case .object(let members):
            var object = JSONObject()
            for member in members {
                // The parser already refused a name given twice.
                _ = object.insert(member.key, try convert(member.value, source: source))
            }
            return .object(object)
        }
    }
}
