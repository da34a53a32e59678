/// JSON text as `ota --json` prints it, for the executables without Foundation (`ota-diff`): the
/// bytes of Foundation's `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes`,
/// pretty-printed (`"key" : value`, two-space indents) or compact. Keys in code-unit order,
/// floating-point numbers as their shortest description without a trailing `.0`, strings with
/// `"`, `\` and control characters escaped, empty containers as Foundation prints them.
package enum LeanJSON {
    /// The JSON text of `value`; nil when it cannot be encoded (a NaN or infinite number).
    package static func encode(_ value: some Encodable, pretty: Bool) -> String? {
        let root = Node()
        do {
            try fill(root, with: value)
        } catch {
            return nil
        }
        var text = ""
        root.write(into: &text, pretty: pretty, depth: 0)
        return text
    }

    /// A value being encoded: a rendered scalar, an object or an array.
    final class Node {
        var scalar: String?
        var members: [(key: String, node: Node)]?
        var elements: [Node]?

        /// A new node for `key` (replacing an earlier one of the same key, as JSONEncoder does).
        func member(_ key: String) -> Node {
            let node = Node()
            if let index = members?.firstIndex(where: { $0.key == key }) {
                members?[index].node = node
            } else {
                members = members ?? []
                members?.append((key, node))
            }
            return node
        }

        func element() -> Node {
            let node = Node()
            elements = elements ?? []
            elements?.append(node)
            return node
        }

        func write(into text: inout String, pretty: Bool, depth: Int) {
            let inner = pretty ? String(repeating: "  ", count: depth + 1) : ""
            let outer = pretty ? String(repeating: "  ", count: depth) : ""
            if let scalar {
                text += scalar
            } else if let members {
                text += pretty ? "{\n" : "{"
                let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                for (index, member) in sorted.enumerated() {
                    if index > 0 { text += pretty ? ",\n" : "," }
                    text += inner + LeanJSON.quoted(member.key) + (pretty ? " : " : ":")
                    member.node.write(into: &text, pretty: pretty, depth: depth + 1)
                }
                text += pretty ? "\n" + outer + "}" : "}"
            } else if let elements {
                text += pretty ? "[\n" : "["
                for (index, element) in elements.enumerated() {
                    if index > 0 { text += pretty ? ",\n" : "," }
                    text += inner
                    element.write(into: &text, pretty: pretty, depth: depth + 1)
                }
                text += pretty ? "\n" + outer + "]" : "]"
            } else {
                text += "{\n\n" + outer + "}"
            }
        }
    }

    struct Unencodable: Error {}

    /// Sets `node` to `value`: a scalar rendered at once, anything else through its `encode(to:)`.
    static func fill(_ node: Node, with value: some Encodable) throws {
        switch value {
        case let string as String: node.scalar = quoted(string)
        case let bool as Bool: node.scalar = bool ? "true" : "false"
        case let double as Double: node.scalar = try number(double)
        case let float as Float: node.scalar = try number(float)
        case let integer as any BinaryInteger: node.scalar = "\(integer)"
        default: try value.encode(to: NodeEncoder(node: node))
        }
    }

    static func number<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F) throws -> String {
        guard value.isFinite else { throw Unencodable() }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }

    static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    struct NodeEncoder: Encoder {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if node.members == nil { node.members = [] }
            return KeyedEncodingContainer(Keyed<Key>(node: node))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if node.elements == nil { node.elements = [] }
            return Unkeyed(node: node)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).scalar = "null" }

        // Witnesses every primitive `encode(_:forKey:)` requirement too.
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try LeanJSON.fill(node.member(key.stringValue), with: value)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            NodeEncoder(node: node.member(key.stringValue)).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            NodeEncoder(node: node.member(key.stringValue)).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.member("super")) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(node: node.member(key.stringValue)) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var count: Int { node.elements?.count ?? 0 }

        mutating func encodeNil() throws { node.element().scalar = "null" }

        // Witnesses every primitive `encode(_:)` requirement too.
        mutating func encode<T: Encodable>(_ value: T) throws { try LeanJSON.fill(node.element(), with: value) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        {
            NodeEncoder(node: node.element()).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            NodeEncoder(node: node.element()).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.element()) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil() throws { node.scalar = "null" }

        // Witnesses every primitive `encode(_:)` requirement too.
        mutating func encode<T: Encodable>(_ value: T) throws { try LeanJSON.fill(node, with: value) }
    }
}
