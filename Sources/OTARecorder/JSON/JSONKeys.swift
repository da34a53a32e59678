/// The member names a schema object allows, compared by their UTF-8 bytes (a key that other tools
/// read as another name, such as one spelled with U+212A KELVIN SIGN for `K`, is not one of them).
package struct JSONKeys: Sendable, ExpressibleByArrayLiteral {
    let names: [String]

    package init(arrayLiteral names: String...) {
        self.names = names
    }

    /// Whether string node `key` of `document` is one of the names.
    func contains(_ key: Int, in document: JSONDocument) -> Bool {
        names.contains { document.string(key, equals: $0) }
    }
}
