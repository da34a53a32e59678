public import OTACore

/// A JSON value as TUF metadata holds it: integers only (OLPC canonical JSON has no floats),
/// object members kept in canonical order (by the UTF-8 bytes of their names) and compared by
/// those bytes, never by Swift's Unicode-equivalence `==` on `String`, so two names that differ
/// only in normalisation stay two names.
public indirect enum TUFJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case string(String)
    case array([TUFJSON])
    case object(JSONObject)

    /// The string, or nil.
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var integer: Int64? { if case .integer(let n) = self { return n } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var array: [TUFJSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    public static func == (lhs: TUFJSON, rhs: TUFJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.string(let a), .string(let b)): a.utf8.elementsEqual(b.utf8)
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }
}

/// A JSON object: members sorted by the UTF-8 bytes of their names, each name once.
public struct JSONObject: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public let name: String
        public let value: TUFJSON

        public static func == (lhs: Member, rhs: Member) -> Bool {
            lhs.name.utf8.elementsEqual(rhs.name.utf8) && lhs.value == rhs.value
        }
    }

    public private(set) var members: [Member]

    public init() { members = [] }

    /// Builds an object; a name given twice is refused (`tuf.json`).
    public init(_ pairs: [(String, TUFJSON)]) throws(OTAError) {
        members = []
        for (name, value) in pairs {
            guard insert(name, value) else { throw OTAError(.tufJSON, "duplicate member '\(name)'") }
        }
    }

    public var count: Int { members.count }
    public var names: [String] { members.map(\.name) }

    /// The value of member `name` (byte-wise match), or nil.
    public subscript(name: String) -> TUFJSON? {
        guard let index = position(of: name) else { return nil }
        return members[index].value
    }

    /// Adds or replaces a member (used when building metadata to sign).
    public mutating func set(_ name: String, _ value: TUFJSON) {
        if let index = position(of: name) {
            members[index] = Member(name: name, value: value)
        } else {
            _ = insert(name, value)
        }
    }

    public mutating func remove(_ name: String) {
        if let index = position(of: name) { members.remove(at: index) }
    }

    /// Inserts keeping canonical order; false when the name is present already.
    mutating func insert(_ name: String, _ value: TUFJSON) -> Bool {
        let key = Array(name.utf8)
        var low = 0, high = members.count
        while low < high {
            let middle = (low + high) / 2
            let other = Array(members[middle].name.utf8)
            if other.lexicographicallyPrecedes(key) { low = middle + 1 } else { high = middle }
        }
        if low < members.count, members[low].name.utf8.elementsEqual(key) { return false }
        members.insert(Member(name: name, value: value), at: low)
        return true
    }

    func position(of name: String) -> Int? {
        members.firstIndex { $0.name.utf8.elementsEqual(name.utf8) }
    }
}
