/// Builds a JSON object, leaving absent optionals out (never `null`).
package struct JSONObjectWriter {
    package private(set) var members: [String: JSONValue] = [:]

    package init() {}

    package var value: JSONValue { .object(members) }

    package mutating func set(_ key: String, _ value: String?) { if let value { members[key] = .string(value) } }
    package mutating func set(_ key: String, _ value: Int64?) { if let value { members[key] = .integer(value) } }
    package mutating func set(_ key: String, _ value: Bool?) { if let value { members[key] = .bool(value) } }
    package mutating func set(_ key: String, unsigned value: UInt64?) {
        if let value { members[key] = .string(String(value)) }
    }
    package mutating func set(_ key: String, _ value: RecordTime?) {
        if let value { members[key] = .object(["at": .string(value.text), "source": .string(value.source.rawValue)]) }
    }
    package mutating func set<E: RawRepresentable>(_ key: String, _ value: E?) where E.RawValue == String {
        if let value { members[key] = .string(value.rawValue) }
    }
    package mutating func set(_ key: String, json value: JSONValue?) { if let value { members[key] = value } }
    /// Sets a non-empty array (an empty one is left out).
    package mutating func set(_ key: String, array: [JSONValue]) { if !array.isEmpty { members[key] = .array(array) } }
}
