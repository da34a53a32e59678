internal import OTABase

/// A JSON reader that accepts one meaning per document: it refuses what common tools read in
/// different ways (duplicate keys, canonically equivalent keys, invalid UTF-8, lone surrogates, a
/// byte-order mark), bounds nesting depth before it can exhaust the stack, and, in canonical mode,
/// refuses every number that is not a plain integer. `canonicalBytes` writes the one canonical
/// encoding (docs/FORMAT.md, "Canonical JSON").
///
/// Signed documents are read with `CanonicalJSON.decode`, which requires the input to be exactly
/// its canonical encoding; other inputs (vehicle state, configuration) use `parse` for its
/// duplicate and depth checks alone.
package enum StrictJSON {
    /// A parsed value. Objects keep their members in input order; numbers keep their literal text.
    package indirect enum Value: Sendable, Equatable {
        case object([(key: String, value: Value)])
        case array([Value])
        case string(String)
        case number(String)
        case bool(Bool)
        case null

        package static func == (lhs: Value, rhs: Value) -> Bool {
            switch (lhs, rhs) {
            case (.object(let a), .object(let b)):
                a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            case (.array(let a), .array(let b)): a == b
            case (.string(let a), .string(let b)): Array(a.utf8) == Array(b.utf8)
            case (.number(let a), .number(let b)): a == b
            case (.bool(let a), .bool(let b)): a == b
            case (.null, .null): true
            default: false
            }
        }
    }

    /// What the reader accepts.
    package struct Limits: Sendable {
        /// Deepest nesting of objects and arrays.
        package var maximumDepth = 64
        /// Only integers (no fraction, no exponent, no `-0`, no leading zero) within Int64/UInt64.
        package var integersOnly = true

        /// Keys that are different code points but canonically equivalent (`é` and `e` + U+0301)
        /// are refused as one key read two ways; TUF metadata, compared by bytes everywhere,
        /// keeps them as two members.
        package var refusesEquivalentKeys = true

        /// The input must already be the canonical encoding (`canonicalBytes`), checked while it
        /// is read: no whitespace, members in strictly increasing UTF-8 byte order, only the
        /// escapes the canonical form writes. With `integersOnly`, numbers are canonical too.
        package var canonicalForm = false

        package init(
            maximumDepth: Int = 64, integersOnly: Bool = true, refusesEquivalentKeys: Bool = true,
            canonicalForm: Bool = false
        ) {
            self.maximumDepth = maximumDepth
            self.integersOnly = integersOnly
            self.refusesEquivalentKeys = refusesEquivalentKeys
            self.canonicalForm = canonicalForm
        }
    }

    /// A place in the input and what is wrong there.
    package struct SyntaxError: Error, Sendable, CustomStringConvertible {
        package let offset: Int
        package let path: String
        package let message: String
        package var description: String {
            path.isEmpty ? "byte \(offset): \(message)" : "\(path) (byte \(offset)): \(message)"
        }
    }

    /// Parses one JSON value that fills `bytes` (surrounding whitespace allowed).
    package static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(SyntaxError) -> Value {
        var parser = Parser(bytes: bytes, limits: limits)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw parser.fail("a byte-order mark is not allowed") }
        try parser.space()
        let value = try parser.value(depth: 0)
        try parser.space()
        guard parser.index == bytes.count else { throw parser.fail("data after the JSON value") }
        return value
    }

    /// The canonical encoding: no whitespace, object keys sorted by their UTF-8 bytes, strings as
    /// raw UTF-8 with only `"`, `\`, and control characters escaped (`\b \f \n \r \t`, otherwise
    /// `\u00xx` in lowercase hex), numbers as their (integer) literal.
    package static func canonicalBytes(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(value, into: &out)
        return out
    }

    private static func write(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            for (index, member) in sorted.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text): writeString(text, into: &out)
        case .number(let literal): out.append(contentsOf: literal.utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    /// A string in canonical form (also used by the record log's writer, `JSONValue`).
    package static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            // Runs that need no escape are copied whole.
            var start = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                switch byte {
                case 0x22, 0x5C: out.append(0x5C); out.append(byte)
                case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                default:
                    let hex: StaticString = "0123456789abcdef"
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                    out.append(hex.utf8Start[Int(byte >> 4)])
                    out.append(hex.utf8Start[Int(byte & 0x0F)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The first place where `actual` differs from `expected`, as a field path and a reason; nil
    /// when they are equal. Used to say which field of a signed document is not canonical.
    package static func firstDifference(_ actual: Value, _ expected: Value, path: String = "") -> (
        path: String, reason: String
    )? {
        switch (actual, expected) {
        case (.object(let a), .object(let b)):
            let expectedKeys = Dictionary(
                b.map { (Array($0.key.utf8), $0.value) }, uniquingKeysWith: { first, _ in first })
            for member in a {
                let memberPath = path.isEmpty ? member.key : "\(path).\(member.key)"
                guard let other = expectedKeys[Array(member.key.utf8)] else {
                    return (memberPath, "not a field of this document")
                }
                if let difference = firstDifference(member.value, other, path: memberPath) { return difference }
            }
            if a.count != b.count {
                return (path.isEmpty ? "(document)" : path, "a field is missing or spelled differently")
            }
            return nil
        case (.array(let a), .array(let b)):
            for (index, pair) in zip(a, b).enumerated() {
                if let difference = firstDifference(pair.0, pair.1, path: "\(path)[\(index)]") { return difference }
            }
            return a.count == b.count ? nil : (path, "\(a.count) items where the canonical form has \(b.count)")
        default:
            return actual == expected ? nil : (path.isEmpty ? "(document)" : path, "value is not in canonical form")
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        let limits: Limits
        var index = 0
        /// Where the parser is: member keys and array indexes, joined into text only for an error.
        var path: [PathComponent] = []

        enum PathComponent {
            case key(String)
            case index(Int)
        }

        init(bytes: [UInt8], limits: Limits) {
            self.bytes = bytes
            self.limits = limits
        }

        func fail(_ message: String) -> SyntaxError {
            let text = path.map { component -> String in
                switch component {
                case .key(let key): "." + key
                case .index(let number): "[\(number)]"
                }
            }
            return SyntaxError(offset: index, path: text.joined().trimmingLeadingDot, message: message)
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// Whitespace between tokens: skipped, or refused in canonical form.
        mutating func space() throws(SyntaxError) {
            let start = index
            skipSpace()
            if limits.canonicalForm, index != start {
                index = start
                throw fail("whitespace is not in canonical form")
            }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> Value {
            guard index < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character")
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let expected = Array(word.utf8)
            guard bytes.count - index >= expected.count, Array(bytes[index..<(index + expected.count)]) == expected
            else {
                throw fail("unexpected character")
            }
            index += expected.count
        }

        mutating func object(depth: Int) throws(SyntaxError) -> Value {
            guard depth <= limits.maximumDepth else { throw fail("nested deeper than \(limits.maximumDepth) levels") }
            index += 1
            var members: [(key: String, value: Value)] = []
            var seen = Set<String>()
            var seenBytes = Set<[UInt8]>()
            var previousKey: String? = nil
            try space()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                try space()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw fail("expected a quoted key")
                }
                let keyOffset = index
                let key = try string()
                if limits.canonicalForm {
                    // Strictly increasing bytes: also no two keys with the same bytes.
                    if let previousKey, !previousKey.utf8.lexicographicallyPrecedes(key.utf8) {
                        index = keyOffset
                        throw fail(
                            previousKey.utf8.elementsEqual(key.utf8)
                                ? "duplicate key '\(key)'"
                                : "key '\(key)' after '\(previousKey)' is not in canonical order")
                    }
                    previousKey = key
                }
                // Swift compares strings by canonical equivalence: keys equal that way, or by bytes,
                // would be read as one key here and as two by other tools.
                let isNew =
                    limits.refusesEquivalentKeys
                    ? seen.insert(key).inserted : limits.canonicalForm || seenBytes.insert(Array(key.utf8)).inserted
                guard isNew else {
                    index = keyOffset
                    throw fail("duplicate key '\(key)'")
                }
                try space()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                try space()
                path.append(.key(key))
                let member = try value(depth: depth)
                path.removeLast()
                members.append((key, member))
                try space()
                guard index < bytes.count else { throw fail("unexpected end of input in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> Value {
            guard depth <= limits.maximumDepth else { throw fail("nested deeper than \(limits.maximumDepth) levels") }
            index += 1
            var items: [Value] = []
            try space()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                try space()
                path.append(.index(items.count))
                items.append(try value(depth: depth))
                path.removeLast()
                try space()
                guard index < bytes.count else { throw fail("unexpected end of input in an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func number() throws(SyntaxError) -> String {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digitsStart = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            let integerDigits = index - digitsStart
            guard integerDigits > 0 else { throw fail("a number needs digits") }
            guard !(integerDigits > 1 && bytes[digitsStart] == 0x30) else {
                throw fail("a number may not have leading zeros")
            }
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                let fractionStart = index
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
                guard index > fractionStart else { throw fail("a fraction needs digits") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                let exponentStart = index
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
                guard index > exponentStart else { throw fail("an exponent needs digits") }
            }
            let literal = String(decoding: bytes[start..<index], as: UTF8.self)
            if limits.integersOnly {
                guard isInteger else {
                    index = start
                    throw fail("only integers are allowed (no fraction or exponent): \(literal)")
                }
                guard literal != "-0" else {
                    index = start
                    throw fail("-0 is not an integer form")
                }
                guard Int64(literal) != nil || UInt64(literal) != nil else {
                    index = start
                    throw fail("integer \(literal) is out of range")
                }
            }
            return literal
        }

        mutating func string() throws(SyntaxError) -> String {
            index += 1
            // Fast path: printable ASCII up to the closing quote is the string as it stands.
            var end = index
            while end < bytes.count, (0x20..<0x80).contains(bytes[end]), bytes[end] != 0x22, bytes[end] != 0x5C {
                end += 1
            }
            if end < bytes.count, bytes[end] == 0x22 {
                let text = String(decoding: bytes[index..<end], as: UTF8.self)
                index = end + 1
                return text
            }
            var scalars = String.UnicodeScalarView()
            while true {
                guard index < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw fail("unterminated escape") }
                    let escape = bytes[index]
                    index += 1
                    if limits.canonicalForm { try canonicalEscape(escape) }
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        let unit = try hex4()
                        if (0xD800...0xDBFF).contains(unit) {
                            guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                                bytes[index + 1] == UInt8(ascii: "u")
                            else {
                                throw fail("a lone UTF-16 surrogate is not a character")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else {
                                throw fail("a lone UTF-16 surrogate is not a character")
                            }
                            scalars.append(Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!)
                        } else {
                            guard let scalar = Unicode.Scalar(unit) else {
                                throw fail("a lone UTF-16 surrogate is not a character")
                            }
                            scalars.append(scalar)
                        }
                    default: throw fail("unknown escape")
                    }
                case 0..<0x20:
                    throw fail("a control character must be escaped in a string")
                case 0..<0x80:
                    scalars.append(Unicode.Scalar(byte))
                    index += 1
                default:
                    scalars.append(try utf8Scalar())
                }
            }
        }

        /// In canonical form `/` is never escaped, and `\\u` only writes a control character without
        /// a short escape, as `00` and two lowercase hex digits.
        func canonicalEscape(_ escape: UInt8) throws(SyntaxError) {
            guard escape != UInt8(ascii: "/") else { throw fail("escaped '/' is not in canonical form") }
            guard escape == UInt8(ascii: "u") else { return }
            let digits = bytes[index..<min(bytes.count, index + 4)]
            let lowercaseHex = digits.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
            guard digits.count == 4, lowercaseHex, digits.starts(with: [0x30, 0x30]),
                let value = UInt8(String(decoding: digits.dropFirst(2), as: UTF8.self), radix: 16), value < 0x20,
                ![0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(value)
            else { throw fail("this \\u escape is not in canonical form") }
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard bytes.count - index >= 4 else { throw fail("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw fail("a \\u escape needs four hex digits")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// Decodes one multi-byte UTF-8 sequence (`StrictUTF8`).
        mutating func utf8Scalar() throws(SyntaxError) -> Unicode.Scalar {
            switch bytes.withUnsafeBufferPointer({ StrictUTF8.sequence(in: $0, at: index) }) {
            case .scalar(let scalar, let length):
                index += length
                return scalar
            case .invalid(let message):
                throw fail(message)
            }
        }
    }
}

extension String {
    fileprivate var trimmingLeadingDot: String { hasPrefix(".") ? String(dropFirst()) : self }
}
