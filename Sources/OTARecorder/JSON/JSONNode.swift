/// One value of a `JSONDocument`: what the typed readers look at, without copying it out.
package struct JSONNode {
    let document: JSONDocument
    let index: Int

    package var kind: JSONDocument.Kind { document.nodes[index].kind }

    package var stringValue: String? { kind == .string ? document.string(index) : nil }

    package var integerValue: Int64? {
        let node = document.nodes[index]
        return node.kind == .integer ? node.integer : nil
    }

    package var boolValue: Bool? {
        let node = document.nodes[index]
        return node.kind == .bool ? node.flag : nil
    }

    /// Members of an object, items of an array.
    package var count: Int { Int(document.nodes[index].count) }

    /// The items of an array (empty for anything else).
    package var items: [JSONNode] {
        guard kind == .array else { return [] }
        var out: [JSONNode] = []
        out.reserveCapacity(count)
        var item = index + 1
        for _ in 0..<count {
            out.append(JSONNode(document: document, index: item))
            item = Int(document.nodes[item].next)
        }
        return out
    }

    /// The exact canonical bytes of the value.
    package var canonicalBytes: ArraySlice<UInt8> { document.canonicalBytes(index) }
}
