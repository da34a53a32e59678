package import OTACore

/// Strict reading of one JSON object of a record: every member must be one the schema lists
/// (anything else is refused, so a location or a name cannot slip in), every value has its type
/// and range checked before use, and every error names the field's path.
///
/// ```swift
/// let object = try JSONObjectReader(json, path: "record", allowed: ["step", "time"])
/// let step = try object.enumeration("step", RecordStep.self)
/// ```
package struct JSONObjectReader {
    package let path: String
    private let document: JSONDocument
    private let object: Int

    /// Refuses a value that is not an object or holds a member outside `allowed`.
    package init(_ node: JSONNode, path: String, allowed: JSONKeys) throws(OTAError) {
        guard node.kind == .object else { throw OTAError(.recordsFieldType, "\(path): must be a JSON object") }
        let document = node.document
        var key = node.index + 1
        for _ in 0..<node.count {
            guard allowed.contains(key, in: document) else { throw Self.unknown(key, of: node, path: path, allowed) }
            key = Int(document.nodes[key + 1].next)
        }
        self.path = path
        self.document = document
        self.object = node.index
    }

    /// Reads a value built in memory or parsed from other text, through its canonical encoding.
    package init(_ value: JSONValue, path: String, allowed: JSONKeys) throws(OTAError) {
        try self.init(try JSONDocument.reading(value, source: path).root, path: path, allowed: allowed)
    }

    /// The refusal of member `key` of `object`, which `allowed` does not list by its bytes. A
    /// name only canonically equivalent to a listed one (U+212A KELVIN SIGN for `K`) is said to
    /// be so, and a duplicate key when the object also has the listed spelling: readers that
    /// compare text by equivalence (Swift's `==`) read one key twice there.
    private static func unknown(_ key: Int, of object: JSONNode, path: String, _ allowed: JSONKeys) -> OTAError {
        let document = object.document
        let name = document.string(key)
        guard let twin = allowed.names.first(where: { $0 == name }) else {
            return OTAError(
                .recordsFieldUnknown,
                "\(path).\(name): not a field of the record schema (records hold no location, no names, nothing unlisted)"
            )
        }
        let spelled = name.unicodeScalars.filter { !$0.isASCII }
            .map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
        if document.member(twin, of: object.index) != nil {
            return OTAError(
                .recordsFieldUnknown,
                "\(path).\(name): duplicate key '\(twin)', spelled a second time with \(spelled), canonically equivalent to it; names are compared by their UTF-8 bytes"
            )
        }
        return OTAError(
            .recordsFieldUnknown,
            "\(path).\(name): not a field of the record schema: canonically equivalent to '\(twin)' but spelled with \(spelled); names are compared by their UTF-8 bytes"
        )
    }

    private func member(_ key: String) -> JSONNode? {
        document.member(key, of: object).map { JSONNode(document: document, index: $0) }
    }

    package func has(_ key: String) -> Bool { document.member(key, of: object) != nil }

    /// The member's exact canonical bytes.
    package func canonicalBytes(_ key: String) -> ArraySlice<UInt8>? { member(key)?.canonicalBytes }

    private func missing(_ key: String) -> OTAError {
        OTAError(.recordsFieldMissing, "\(path).\(key): required")
    }

    private func type(_ key: String, _ expected: String) -> OTAError {
        OTAError(.recordsFieldType, "\(path).\(key): must be \(expected)")
    }

    /// A required non-empty string of at most `maximumBytes` UTF-8 bytes.
    package func string(_ key: String, maximumBytes: Int = 4096) throws(OTAError) -> String {
        guard let value = try optionalString(key, maximumBytes: maximumBytes) else { throw missing(key) }
        return value
    }

    /// An optional non-empty string of at most `maximumBytes` UTF-8 bytes.
    package func optionalString(_ key: String, maximumBytes: Int = 4096) throws(OTAError) -> String? {
        guard let value = member(key) else { return nil }
        guard value.kind == .string, document.stringCount(value.index) > 0 else {
            throw type(key, "a non-empty string")
        }
        guard document.stringCount(value.index) <= maximumBytes else {
            throw OTAError(.recordsFieldRange, "\(path).\(key): longer than \(maximumBytes) bytes")
        }
        return document.string(value.index)
    }

    /// An optional lowercase hex digest of 32 bytes (SHA-256 or SM3).
    package func optionalDigest(_ key: String) throws(OTAError) -> String? {
        guard let text = try optionalString(key) else { return nil }
        guard Self.isDigest(text) else { throw type(key, "64 lowercase hex digits (a SHA-256 or SM3 digest)") }
        return text
    }

    package func digest(_ key: String) throws(OTAError) -> String {
        guard let value = try optionalDigest(key) else { throw missing(key) }
        return value
    }

    /// Whether `text` is 64 lowercase hex digits.
    package static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// An optional integer within `range` (checked before use).
    package func optionalInteger(_ key: String, in range: ClosedRange<Int64>) throws(OTAError) -> Int64? {
        guard let value = member(key) else { return nil }
        guard let number = value.integerValue else { throw type(key, "an integer") }
        guard range.contains(number) else {
            throw OTAError(
                .recordsFieldRange, "\(path).\(key): \(number) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    package func integer(_ key: String, in range: ClosedRange<Int64>) throws(OTAError) -> Int64 {
        guard let value = try optionalInteger(key, in: range) else { throw missing(key) }
        return value
    }

    /// An optional unsigned integer written as decimal digits in a string (values past
    /// `Int64.max`, such as security versions, stay exact).
    package func optionalUnsigned(_ key: String) throws(OTAError) -> UInt64? {
        guard let text = try optionalString(key, maximumBytes: 20) else { return nil }
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), text == "0" || text.first != "0",
            let value = UInt64(text)
        else {
            throw type(key, "a string of decimal digits without leading zeros, at most \(UInt64.max)")
        }
        return value
    }

    package func optionalBool(_ key: String) throws(OTAError) -> Bool? {
        guard let value = member(key) else { return nil }
        guard let flag = value.boolValue else { throw type(key, "true or false") }
        return flag
    }

    /// A required member whose string is a case of `E`.
    package func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(OTAError) -> E
    where E.RawValue == String {
        guard let value = try optionalEnumeration(key, E.self) else { throw missing(key) }
        return value
    }

    package func optionalEnumeration<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(OTAError)
        -> E?
    where E.RawValue == String {
        guard let value = member(key) else { return nil }
        guard value.kind == .string,
            let parsed = E.allCases.first(where: { document.string(value.index, equals: $0.rawValue) })
        else {
            throw type(key, "one of " + E.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return parsed
    }

    static let timeMembers: JSONKeys = ["at", "source"]

    /// An optional time `{"at":"…","source":"…"}`.
    package func optionalTime(_ key: String) throws(OTAError) -> RecordTime? {
        guard let value = member(key) else { return nil }
        let object = try JSONObjectReader(value, path: "\(path).\(key)", allowed: Self.timeMembers)
        let text = try object.string("at", maximumBytes: 30)
        guard let milliseconds = RecordTime.parseMilliseconds(text) else {
            throw OTAError(
                .recordsFieldType,
                "\(path).\(key).at: must be RFC 3339 UTC between 1970 and 9999, e.g. 2026-01-31T08:00:00.000Z")
        }
        return RecordTime(milliseconds: milliseconds, source: try object.enumeration("source", ClockSource.self))
    }

    package func time(_ key: String) throws(OTAError) -> RecordTime {
        guard let value = try optionalTime(key) else { throw missing(key) }
        return value
    }

    /// An optional RFC 3339 UTC instant written as a plain string (a signed date, not a clock reading).
    package func optionalInstant(_ key: String) throws(OTAError) -> String? {
        guard let text = try optionalString(key, maximumBytes: 30) else { return nil }
        guard RecordTime.parseMilliseconds(text) != nil else { throw type(key, "RFC 3339 UTC between 1970 and 9999") }
        return text
    }

    /// An optional nested object read strictly.
    package func optionalObject(_ key: String, allowed: JSONKeys) throws(OTAError) -> JSONObjectReader? {
        guard let value = member(key) else { return nil }
        return try JSONObjectReader(value, path: "\(path).\(key)", allowed: allowed)
    }

    /// An optional array (absent reads as empty) of at most `maximumCount` items; `item` reads
    /// each one with its index in the path.
    package func array<T>(_ key: String, maximumCount: Int = 256, _ item: (JSONNode, String) throws(OTAError) -> T)
        throws(OTAError) -> [T]
    {
        guard let value = member(key) else { return [] }
        guard value.kind == .array else { throw type(key, "an array") }
        guard value.count <= maximumCount else {
            throw OTAError(.recordsFieldRange, "\(path).\(key): more than \(maximumCount) items")
        }
        var out: [T] = []
        out.reserveCapacity(value.count)
        for (index, element) in value.items.enumerated() { out.append(try item(element, "\(path).\(key)[\(index)]")) }
        return out
    }

    /// An optional array of non-empty strings.
    package func strings(_ key: String, maximumCount: Int = 256) throws(OTAError) -> [String] {
        try array(key, maximumCount: maximumCount) { value, path throws(OTAError) in
            guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 4096 else {
                throw OTAError(.recordsFieldType, "\(path): must be a non-empty string")
            }
            return text
        }
    }
}
