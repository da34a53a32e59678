public import OTACore

/// A strict RFC 8259 parser for attacker-supplied metadata: UTF-8 only, no duplicate member
/// names, no fractions or exponents (canonical JSON has none), integers within Int64, nesting
/// and size bounded, lone surrogates and raw control characters refused. Every failure is
/// `tuf.json` naming the byte offset.
public struct TUFJSONParser {
    /// Deepest nesting accepted (TUF metadata needs about 8).
    public static let maximumDepth = 64

    private let bytes: [UInt8]
    private let source: String
    private var index = 0

    private init(_ bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// Parses one JSON document (whitespace around it allowed, nothing else after it).
    public static func parse(_ bytes: [UInt8], source: String = "metadata", limit: Int = 16 << 20) throws(OTAError) -> TUFJSON {
        guard bytes.count <= limit else { throw OTAError(.tufTooLarge, "\(source): \(bytes.count) bytes; the limit is \(limit)") }
        var parser = TUFJSONParser(bytes, source: source)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw parser.fail("data after the JSON document") }
        return value
    }

    private func fail(_ what: String) -> OTAError {
        OTAError(.tufJSON, "\(source): not strict JSON at byte \(index): \(what)")
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
    }

    private mutating func value(depth: Int) throws(OTAError) -> TUFJSON {
        guard depth < Self.maximumDepth else { throw fail("nested deeper than \(Self.maximumDepth)") }
        guard index < bytes.count else { throw fail("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return .object(try object(depth: depth))
        case UInt8(ascii: "["): return .array(try array(depth: depth))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try number())
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: String) throws(OTAError) {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else { throw fail("bad literal") }
        index += expected.count
    }

    private mutating func object(depth: Int) throws(OTAError) -> JSONObject {
        index += 1
        var result = JSONObject()
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return result }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let start = index
            let name = try string()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipSpace()
            let member = try value(depth: depth + 1)
            guard result.insert(name, member) else {
                index = start
                throw fail("duplicate member name '\(name)'")
            }
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end in an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return result }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(OTAError) -> [TUFJSON] {
        index += 1
        var result: [TUFJSON] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return result }
        while true {
            skipSpace()
            result.append(try value(depth: depth + 1))
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return result }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func number() throws(OTAError) -> Int64 {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { throw fail("bad number") }
        if bytes[index] == UInt8(ascii: "0"), index + 1 < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 1]) {
            throw fail("leading zero")
        }
        var magnitude: UInt64 = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let digit = UInt64(bytes[index] - UInt8(ascii: "0"))
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(digit)
            guard !o1, !o2 else { index = start; throw fail("integer out of range") }
            magnitude = sum
            index += 1
        }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            index = start
            throw fail("a fraction or exponent (canonical JSON allows integers only)")
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { index = start; throw fail("integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { index = start; throw fail("integer out of range") }
        return Int64(magnitude)
    }

    private mutating func hex4() throws(OTAError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("bad hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func string() throws(OTAError) -> String {
        index += 1
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let c = bytes[index]
            if c == UInt8(ascii: "\"") { index += 1; break }
            if c < 0x20 { throw fail("raw control character in a string") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[index]
            index += 1
            switch e {
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
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw fail("lone high surrogate")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone high surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("lone low surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail("bad code point") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: throw fail("unknown escape")
            }
        }
        // Validates UTF-8: overlong forms, surrogates and truncated sequences are refused.
        guard let text = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return text
    }
}
