package import OTACore

/// Canonical JSON text (docs/FORMAT.md, Records) read in one pass into a flat list of nodes, for
/// the typed readers (`JSONObjectReader`): no dictionary per object, no `String` per key, a
/// string decoded only when a field is read. The text must be exactly the canonical form
/// `JSONValue.bytes` writes, checked while reading, with the refusals of the project's strict
/// reader (`StrictJSON` in canonical mode) and the same messages: duplicate keys and keys out of
/// order, whitespace, escapes other than the canonical ones, invalid UTF-8, raw control
/// characters, fractions, exponents, `-0`, leading zeros, integers outside Int64, nesting deeper
/// than 32 levels, anything after the value.
package final class JSONDocument: Sendable {
    package enum Kind: UInt8, Sendable { case object, array, string, integer, bool, null }

    /// One value. Objects are followed by their members (key node, then value subtree), arrays
    /// by their items; `next` is the index just past the subtree.
    struct Node: Sendable {
        var kind: Kind
        /// Strings: the text holds an escape. Booleans: the value.
        var flag: Bool
        /// Strings: the first byte after the opening quote; others: the first byte.
        var start: Int32
        /// Strings: the closing quote; others: one past the last byte.
        var end: Int32
        var next: Int32
        /// Members of an object, items of an array.
        var count: Int32
        var integer: Int64
    }

    package static let maximumDepth = 32

    let bytes: [UInt8]
    let nodes: [Node]

    /// Reads `text`, which must be one canonical JSON value and nothing else.
    package init(canonical text: some Collection<UInt8>) throws(OTAErrorBox) {
        let bytes = Array(text)
        guard bytes.count < Int32.max else { throw OTAErrorBox("a JSON text of \(bytes.count) bytes is too long") }
        let nodes = try bytes.withUnsafeBufferPointer { buffer throws(OTAErrorBox) -> [Node] in
            var parser = Parser(text: buffer)
            try parser.document()
            return parser.nodes
        }
        self.bytes = bytes
        self.nodes = nodes
    }

    /// The canonical encoding of `value`, read back as a document: the one way a value built in
    /// memory or parsed from non-canonical text reaches the typed readers. What the canonical
    /// reader refuses there (nesting deeper than `maximumDepth`) is `records.malformed`, named
    /// by `source`.
    package static func reading(_ value: JSONValue, source: String) throws(OTAError) -> JSONDocument {
        do { return try JSONDocument(canonical: value.bytes) } catch {
            throw OTAError(.recordsMalformed, "\(source): \(error.message)")
        }
    }

    package var root: JSONNode { JSONNode(document: self, index: 0) }

    /// The decoded UTF-8 bytes of string node `index`.
    func decodedBytes(_ index: Int) -> [UInt8] {
        let node = nodes[index]
        let range = Int(node.start)..<Int(node.end)
        guard node.flag else { return Array(bytes[range]) }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var position = range.lowerBound
        while position < range.upperBound {
            let byte = bytes[position]
            position += 1
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                // Canonical: `\u00` and two lowercase hex digits, a control character.
                out.append(Self.hexValue(bytes[position + 2]) << 4 | Self.hexValue(bytes[position + 3]))
                position += 4
            default: out.append(escape)  // `"` and `\`
            }
        }
        return out
    }

    /// The string node's text.
    func string(_ index: Int) -> String {
        let node = nodes[index]
        if node.flag { return String(decoding: decodedBytes(index), as: UTF8.self) }
        return bytes.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[Int(node.start)..<Int(node.end)]), as: UTF8.self)
        }
    }

    /// Whether string node `index` holds exactly the bytes of `text`.
    func string(_ index: Int, equals text: String) -> Bool {
        let node = nodes[index]
        if node.flag { return decodedBytes(index).elementsEqual(text.utf8) }
        let count = Int(node.end - node.start)
        guard count == text.utf8.count else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            var index = Int(node.start)
            for byte in text.utf8 {
                if buffer[index] != byte { return false }
                index += 1
            }
            return true
        }
    }

    /// The length of string node `index` in UTF-8 bytes, decoded.
    func stringCount(_ index: Int) -> Int {
        let node = nodes[index]
        return node.flag ? decodedBytes(index).count : Int(node.end - node.start)
    }

    /// The exact canonical bytes of node `index`.
    func canonicalBytes(_ index: Int) -> ArraySlice<UInt8> {
        let node = nodes[index]
        return node.kind == .string
            ? bytes[Int(node.start - 1)...Int(node.end)] : bytes[Int(node.start)..<Int(node.end)]
    }

    /// The value node of the member named `key` of object node `object`.
    func member(_ key: String, of object: Int) -> Int? {
        let node = nodes[object]
        var index = object + 1
        for _ in 0..<node.count {
            if string(index, equals: key) { return index + 1 }
            index = Int(nodes[index + 1].next)
        }
        return nil
    }

    fileprivate static func hexValue(_ digit: UInt8) -> UInt8 {
        digit <= UInt8(ascii: "9") ? digit &- UInt8(ascii: "0") : digit &- UInt8(ascii: "a") &+ 10
    }

    private struct Parser {
        let text: UnsafeBufferPointer<UInt8>
        var index = 0
        var nodes: [Node] = []
        /// Where the parser is: a key node, or `-(n + 1)` for item n of an array; joined into text
        /// only for an error.
        var path: [Int] = []

        init(text: UnsafeBufferPointer<UInt8>) {
            self.text = text
            nodes.reserveCapacity(text.count / 12 + 4)
        }

        mutating func document() throws(OTAErrorBox) {
            if text.count >= 3, text[0] == 0xEF, text[1] == 0xBB, text[2] == 0xBF {
                throw fail("a byte-order mark is not allowed")
            }
            try noSpace()
            try value(depth: 0)
            try noSpace()
            guard index == text.count else { throw fail("data after the JSON value") }
        }

        /// The error at the current byte, with the path to it (as `StrictJSON` words it).
        func fail(_ message: String) -> OTAErrorBox {
            var where_ = ""
            for step in path {
                if step >= 0 {
                    let node = nodes[step]
                    let key = Array(text[Int(node.start)..<Int(node.end)])
                    where_ += "." + String(decoding: node.flag ? Self.unescaped(key) : key, as: UTF8.self)
                } else {
                    where_ += "[\(-step - 1)]"
                }
            }
            if where_.hasPrefix(".") { where_.removeFirst() }
            return OTAErrorBox(
                where_.isEmpty ? "byte \(index): \(message)" : "\(where_) (byte \(index)): \(message)")
        }

        static func unescaped(_ raw: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            var position = 0
            while position < raw.count {
                if raw[position] == UInt8(ascii: "\\"), position + 1 < raw.count {
                    let escape = raw[position + 1]
                    switch escape {
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u") where position + 5 < raw.count:
                        out.append(hexValue(raw[position + 4]) << 4 | hexValue(raw[position + 5]))
                        position += 4
                    default: out.append(escape)
                    }
                    position += 2
                } else {
                    out.append(raw[position])
                    position += 1
                }
            }
            return out
        }

        /// Canonical form has no whitespace between tokens.
        func noSpace() throws(OTAErrorBox) {
            guard index < text.count else { return }
            switch text[index] {
            case 0x20, 0x09, 0x0A, 0x0D: throw fail("whitespace is not in canonical form")
            default: return
            }
        }

        mutating func append(_ kind: Kind, start: Int, end: Int, flag: Bool = false, integer: Int64 = 0) {
            nodes.append(
                Node(
                    kind: kind, flag: flag, start: Int32(start), end: Int32(end), next: Int32(nodes.count + 1),
                    count: 0, integer: integer))
        }

        mutating func value(depth: Int) throws(OTAErrorBox) {
            guard index < text.count else { throw fail("unexpected end of input") }
            switch text[index] {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true", .bool, flag: true)
            case UInt8(ascii: "f"): try literal("false", .bool, flag: false)
            case UInt8(ascii: "n"): try literal("null", .null, flag: false)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString, _ kind: Kind, flag: Bool) throws(OTAErrorBox) {
            let count = word.utf8CodeUnitCount
            guard text.count - index >= count else { throw fail("unexpected character") }
            for offset in 0..<count where text[index + offset] != word.utf8Start[offset] {
                throw fail("unexpected character")
            }
            append(kind, start: index, end: index + count, flag: flag)
            index += count
        }

        /// Closes container node `node` whose subtree ends here.
        mutating func close(_ node: Int, count: Int) {
            nodes[node].end = Int32(index)
            nodes[node].next = Int32(nodes.count)
            nodes[node].count = Int32(count)
        }

        mutating func object(depth: Int) throws(OTAErrorBox) {
            guard depth <= JSONDocument.maximumDepth else {
                throw fail("nested deeper than \(JSONDocument.maximumDepth) levels")
            }
            let node = nodes.count
            append(.object, start: index, end: index)
            index += 1
            try noSpace()
            if index < text.count, text[index] == UInt8(ascii: "}") {
                index += 1
                close(node, count: 0)
                return
            }
            var members = 0
            var previousKey = -1
            while true {
                try noSpace()
                guard index < text.count, text[index] == UInt8(ascii: "\"") else {
                    throw fail("expected a quoted key")
                }
                let keyOffset = index
                let key = nodes.count
                try string()
                if previousKey >= 0 {
                    let order = compare(previousKey, key)
                    if order >= 0 {
                        index = keyOffset
                        let name = keyText(key)
                        throw fail(
                            order == 0
                                ? "duplicate key '\(name)'"
                                : "key '\(name)' after '\(keyText(previousKey))' is not in canonical order")
                    }
                }
                previousKey = key
                try noSpace()
                guard index < text.count, text[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                try noSpace()
                path.append(key)
                try value(depth: depth)
                path.removeLast()
                members += 1
                try noSpace()
                guard index < text.count else { throw fail("unexpected end of input in an object") }
                if text[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if text[index] == UInt8(ascii: "}") {
                    index += 1
                    close(node, count: members)
                    return
                }
                throw fail("expected ',' or '}'")
            }
        }

        func keyText(_ key: Int) -> String {
            let node = nodes[key]
            let raw = Array(text[Int(node.start)..<Int(node.end)])
            return String(decoding: node.flag ? Self.unescaped(raw) : raw, as: UTF8.self)
        }

        /// Orders two keys by their decoded UTF-8 bytes (-1, 0, 1).
        func compare(_ first: Int, _ second: Int) -> Int {
            let a = nodes[first], b = nodes[second]
            if a.flag || b.flag {
                let left = Self.unescaped(Array(text[Int(a.start)..<Int(a.end)]))
                let right = Self.unescaped(Array(text[Int(b.start)..<Int(b.end)]))
                return left == right ? 0 : left.lexicographicallyPrecedes(right) ? -1 : 1
            }
            var i = Int(a.start), j = Int(b.start)
            while i < Int(a.end), j < Int(b.end) {
                if text[i] != text[j] { return text[i] < text[j] ? -1 : 1 }
                i += 1
                j += 1
            }
            let left = Int(a.end - a.start), right = Int(b.end - b.start)
            return left == right ? 0 : left < right ? -1 : 1
        }

        mutating func array(depth: Int) throws(OTAErrorBox) {
            guard depth <= JSONDocument.maximumDepth else {
                throw fail("nested deeper than \(JSONDocument.maximumDepth) levels")
            }
            let node = nodes.count
            append(.array, start: index, end: index)
            index += 1
            try noSpace()
            if index < text.count, text[index] == UInt8(ascii: "]") {
                index += 1
                close(node, count: 0)
                return
            }
            var items = 0
            while true {
                try noSpace()
                path.append(-items - 1)
                try value(depth: depth)
                path.removeLast()
                items += 1
                try noSpace()
                guard index < text.count else { throw fail("unexpected end of input in an array") }
                if text[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if text[index] == UInt8(ascii: "]") {
                    index += 1
                    close(node, count: items)
                    return
                }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func number() throws(OTAErrorBox) {
            let start = index
            let negative = text[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            let digitsStart = index
            var value: Int64 = 0
            var overflow = false
            while index < text.count, text[index] >= 0x30, text[index] <= 0x39 {
                let digit = Int64(text[index] &- 0x30)
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) =
                    negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
                overflow = overflow || o1 || o2
                value = sum
                index += 1
            }
            let integerDigits = index - digitsStart
            guard integerDigits > 0 else { throw fail("a number needs digits") }
            guard !(integerDigits > 1 && text[digitsStart] == 0x30) else {
                throw fail("a number may not have leading zeros")
            }
            var isInteger = true
            if index < text.count, text[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                let fractionStart = index
                while index < text.count, text[index] >= 0x30, text[index] <= 0x39 { index += 1 }
                guard index > fractionStart else { throw fail("a fraction needs digits") }
            }
            if index < text.count, text[index] == UInt8(ascii: "e") || text[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < text.count, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
                    index += 1
                }
                let exponentStart = index
                while index < text.count, text[index] >= 0x30, text[index] <= 0x39 { index += 1 }
                guard index > exponentStart else { throw fail("an exponent needs digits") }
            }
            guard isInteger, !(negative && value == 0), !overflow else {
                let literal = String(decoding: UnsafeBufferPointer(rebasing: text[start..<index]), as: UTF8.self)
                index = start
                if !isInteger { throw fail("only integers are allowed (no fraction or exponent): \(literal)") }
                if overflow { throw fail("integer \(literal) is out of range (Int64)") }
                throw fail("-0 is not an integer form")
            }
            append(.integer, start: start, end: index, integer: value)
        }

        mutating func string() throws(OTAErrorBox) {
            index += 1
            let start = index
            // Printable ASCII up to the closing quote is the string as it stands.
            while index < text.count, text[index] >= 0x20, text[index] < 0x80, text[index] != 0x22, text[index] != 0x5C
            {
                index += 1
            }
            var escaped = false
            while true {
                guard index < text.count else { throw fail("unterminated string") }
                let byte = text[index]
                switch byte {
                case UInt8(ascii: "\""):
                    append(.string, start: start, end: index, flag: escaped)
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    escaped = true
                    index += 1
                    guard index < text.count else { throw fail("unterminated escape") }
                    let escape = text[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"),
                        UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    case UInt8(ascii: "/"): throw fail("escaped '/' is not in canonical form")
                    case UInt8(ascii: "u"):
                        try canonicalUnicodeEscape()
                        index += 4
                    default: throw fail("unknown escape")
                    }
                case 0..<0x20:
                    throw fail("a control character must be escaped in a string")
                case 0..<0x80:
                    index += 1
                default:
                    try utf8Scalar()
                }
            }
        }

        /// `\u` writes only a control character without a short escape, as `00` and two
        /// lowercase hex digits.
        func canonicalUnicodeEscape() throws(OTAErrorBox) {
            guard text.count - index >= 4, text[index] == 0x30, text[index + 1] == 0x30,
                text[index + 2] == 0x30 || text[index + 2] == 0x31
            else { throw fail("this \\u escape is not in canonical form") }
            let low = text[index + 3]
            let isHex = (0x30...0x39).contains(low) || (0x61...0x66).contains(low)
            let value = text[index + 2] == 0x31 ? 0x10 : 0
            guard isHex,
                ![0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(value + Int(JSONDocument.hexValue(low)))
            else { throw fail("this \\u escape is not in canonical form") }
        }

        /// Checks one multi-byte UTF-8 sequence (`StrictUTF8`, as `StrictJSON` does).
        mutating func utf8Scalar() throws(OTAErrorBox) {
            switch StrictUTF8.sequence(in: text, at: index) {
            case .scalar(_, let length): index += length
            case .invalid(let message): throw fail(message)
            }
        }
    }
}
