import OTACore

/// A JSON value with one byte encoding: the canonical form the record log hashes and signs.
///
/// Canonical form (docs/FORMAT.md, Records): objects with keys sorted by their UTF-8 bytes, no
/// whitespace, integers only (no fractions or exponents), strings as raw UTF-8 with `"` `\\`
/// escaped, `\b \f \n \r \t` short escapes and `\u00xx` (lowercase hex) for other control
/// characters. It is the RFC 8785 (JCS) encoding of the integer/ASCII-key subset.
package enum JSONValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// The canonical bytes.
    package var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// Appends the canonical bytes to `out`.
    package func write(into out: inout [UInt8]) {
        switch self {
        case .string(let text): Self.writeString(text, into: &out)
        case .integer(let value): out.append(contentsOf: String(value).utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        StrictJSON.writeString(text, into: &out)
    }

    /// Parses JSON text (any valid JSON whose numbers are integers) into a value, through the
    /// project's one strict reader (`StrictJSON`): duplicate or canonically equivalent keys,
    /// invalid UTF-8, lone surrogates, a byte-order mark, fractions, exponents, `-0`, leading
    /// zeros, integers outside Int64 and nesting deeper than 32 levels are refused.
    package static func parse(_ bytes: some Collection<UInt8>) throws(OTAErrorBox) -> JSONValue {
        try parse(
            Array(bytes), limits: StrictJSON.Limits(maximumDepth: 32, integersOnly: true, refusesEquivalentKeys: false))
    }

    /// Keys that differ only by bytes are refused by the reader; keys that are canonically
    /// equivalent (`é` and `e` + U+0301) are one dictionary key here, and refused as duplicates
    /// when the dictionary is built (one hashing of each key, not two).
    private static func parse(_ bytes: [UInt8], limits: StrictJSON.Limits) throws(OTAErrorBox) -> JSONValue {
        let parsed: StrictJSON.Value
        do { parsed = try StrictJSON.parse(bytes, limits: limits) } catch { throw OTAErrorBox(error.description) }
        return try JSONValue(parsed)
    }

    /// The record model of a strictly parsed value: objects as dictionaries, numbers as Int64.
    private init(_ value: StrictJSON.Value) throws(OTAErrorBox) {
        switch value {
        case .object(let members):
            var object: [String: JSONValue] = [:]
            object.reserveCapacity(members.count)
            for member in members {
                guard object.updateValue(try JSONValue(member.value), forKey: member.key) == nil else {
                    throw OTAErrorBox(
                        "duplicate key '\(member.key)' (canonically equivalent to another key of the object)")
                }
            }
            self = .object(object)
        case .array(let items):
            var array: [JSONValue] = []
            array.reserveCapacity(items.count)
            for item in items { array.append(try JSONValue(item)) }
            self = .array(array)
        case .string(let text): self = .string(text)
        case .number(let literal):
            guard let integer = Int64(literal) else { throw OTAErrorBox("integer \(literal) is out of range (Int64)") }
            self = .integer(integer)
        case .bool(let flag): self = .bool(flag)
        case .null: self = .null
        }
    }

    // MARK: Accessors

    package subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    package var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    package var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    package var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}

/// A parse failure message (kept apart from `OTAError` so callers add the file and line).
package struct OTAErrorBox: Error, Sendable {
    package let message: String
    init(_ message: String) { self.message = message }
}
