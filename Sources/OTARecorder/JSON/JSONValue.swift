/// A JSON value with one byte encoding: the canonical form the record log hashes and signs.
///
/// Canonical form (docs/FORMAT.md, Records): objects with keys sorted by their UTF-8 bytes, no
/// whitespace, integers only (no fractions or exponents), strings as raw UTF-8 with `"` `\\`
/// escaped, `\b \f \n \r \t` short escapes and `\u00xx` (lowercase hex) for other control
/// characters. It is the RFC 8785 (JCS) encoding of the integer/ASCII-key subset.
public enum JSONValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// The canonical bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// Appends the canonical bytes to `out`.
    public func write(into out: inout [UInt8]) {
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
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, 0x5c])
            case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON text (any valid JSON whose numbers are integers) into a value.
    public static func parse(_ bytes: some Collection<UInt8>) throws(OTAErrorBox) -> JSONValue {
        try parse(bytes, canonical: false)
    }

    /// Parses JSON text that must be exactly the canonical form `bytes` writes: no whitespace,
    /// members sorted by their UTF-8 bytes without duplicates, integers without leading zeros or
    /// `-0`, and only the escapes the canonical form uses. One pass, no re-encoding.
    public static func parseCanonical(_ bytes: some Collection<UInt8>) throws(OTAErrorBox) -> JSONValue {
        try parse(bytes, canonical: true)
    }

    private static func parse(_ bytes: some Collection<UInt8>, canonical: Bool) throws(OTAErrorBox) -> JSONValue {
        var parser = Parser(bytes: Array(bytes), canonical: canonical)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw OTAErrorBox("trailing bytes after the JSON value") }
        return value
    }

    // MARK: Accessors

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}

/// A parse failure message (kept apart from `OTAError` so callers add the file and line).
public struct OTAErrorBox: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}

/// A small strict JSON parser (RFC 8259; integers only), enough for records and manifests.
private struct Parser {
    let bytes: [UInt8]
    /// Refuse every form the canonical writer would not produce.
    let canonical: Bool
    var index = 0

    init(bytes: [UInt8], canonical: Bool) {
        self.bytes = bytes
        self.canonical = canonical
    }

    mutating func skipSpace() {
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d else { return }
            index += 1
        }
    }

    /// Whitespace between tokens: allowed, except in canonical text.
    mutating func space() throws(OTAErrorBox) {
        let start = index
        skipSpace()
        if canonical, index != start { throw OTAErrorBox("not canonical: whitespace at byte \(start)") }
    }

    mutating func value(depth: Int) throws(OTAErrorBox) -> JSONValue {
        guard depth < 32 else { throw OTAErrorBox("JSON nested too deeply") }
        guard index < bytes.count else { throw OTAErrorBox("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [String: JSONValue] = [:]
            try space()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            var previous: String? = nil
            while true {
                try space()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw OTAErrorBox("expected a key at byte \(index)") }
                let key = try string()
                try space()
                try expect(UInt8(ascii: ":"))
                try space()
                guard members[key] == nil else { throw OTAErrorBox("duplicate key '\(key)'") }
                if canonical, let previous, !previous.utf8.lexicographicallyPrecedes(key.utf8) {
                    throw OTAErrorBox("not canonical: key '\(key)' comes after '\(previous)'")
                }
                previous = key
                members[key] = try value(depth: depth + 1)
                try space()
                guard index < bytes.count else { throw OTAErrorBox("unexpected end of JSON") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [JSONValue] = []
            try space()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                try space()
                items.append(try value(depth: depth + 1))
                try space()
                guard index < bytes.count else { throw OTAErrorBox("unexpected end of JSON") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true"); return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false"); return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null"); return .null
        default:
            return .integer(try integer())
        }
    }

    mutating func expect(_ byte: UInt8) throws(OTAErrorBox) {
        guard index < bytes.count, bytes[index] == byte else {
            throw OTAErrorBox("expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)")
        }
        index += 1
    }

    mutating func literal(_ word: String) throws(OTAErrorBox) {
        for byte in word.utf8 { try expect(byte) }
    }

    mutating func integer() throws(OTAErrorBox) -> Int64 {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            throw OTAErrorBox("only integer numbers are allowed (byte \(start))")
        }
        guard let value = Int64(String(decoding: bytes[start..<index], as: UTF8.self)) else {
            throw OTAErrorBox("malformed number at byte \(start)")
        }
        if canonical {
            let digits = bytes[start] == UInt8(ascii: "-") ? start + 1 : start
            guard !(bytes[digits] == UInt8(ascii: "0") && (index - digits > 1 || digits > start)) else {
                throw OTAErrorBox("not canonical: number at byte \(start) has a leading zero or is -0")
            }
        }
        return value
    }

    mutating func string() throws(OTAErrorBox) -> String {
        try expect(UInt8(ascii: "\""))
        // Fast path: a string without escapes is one slice.
        var end = index
        while end < bytes.count, bytes[end] != 0x22, bytes[end] != 0x5c, bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == 0x22 {
            guard let text = String(validating: bytes[index..<end], as: UTF8.self) else { throw OTAErrorBox("string is not valid UTF-8") }
            index = end + 1
            return text
        }
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw OTAErrorBox("unterminated string") }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw OTAErrorBox("control character in string") }
            if byte != UInt8(ascii: "\\") { out.append(byte); continue }
            guard index < bytes.count else { throw OTAErrorBox("unterminated escape") }
            let escape = bytes[index]
            index += 1
            if canonical, escape == UInt8(ascii: "/") || escape == UInt8(ascii: "u") {
                // Canonical text escapes `/` never, and uses `\u` only for control characters
                // without a short escape, in lowercase hex.
                guard escape == UInt8(ascii: "u"), index + 4 <= bytes.count, bytes[index] == 0x30, bytes[index + 1] == 0x30,
                      let value = UInt8(String(decoding: bytes[index + 2..<index + 4], as: UTF8.self), radix: 16),
                      value < 0x20, ![0x08, 0x09, 0x0a, 0x0c, 0x0d].contains(value),
                      bytes[index + 2..<index + 4].allSatisfy({ !(0x41...0x46).contains($0) })
                else { throw OTAErrorBox("not canonical: escape at byte \(index - 2)") }
            }
            switch escape {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5c)
            case UInt8(ascii: "/"): out.append(0x2f)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    try literal("\\u")
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw OTAErrorBox("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw OTAErrorBox("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: throw OTAErrorBox("invalid escape")
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw OTAErrorBox("string is not valid UTF-8") }
        return text
    }

    mutating func hex4() throws(OTAErrorBox) -> UInt32 {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw OTAErrorBox("invalid \\u escape")
        }
        index += 4
        return value
    }
}
