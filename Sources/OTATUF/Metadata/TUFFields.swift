import OTACore

/// Reads typed fields out of a metadata object, naming the field path in every error
/// (`tuf.metadata`), with every number range-checked.
struct TUFFields {
    let object: JSONObject
    let path: String

    init(_ value: TUFJSON?, path: String) throws(OTAError) {
        guard let object = value?.object else { throw OTAError(.tufMetadata, "\(path): expected an object") }
        self.object = object
        self.path = path
    }

    func has(_ name: String) -> Bool { object[name] != nil }

    func value(_ name: String) throws(OTAError) -> TUFJSON {
        guard let value = object[name] else { throw OTAError(.tufMetadata, "\(path).\(name): missing") }
        return value
    }

    func string(_ name: String) throws(OTAError) -> String {
        guard let text = try value(name).string else {
            throw OTAError(.tufMetadata, "\(path).\(name): expected a string")
        }
        return text
    }

    func bool(_ name: String) throws(OTAError) -> Bool {
        guard let flag = try value(name).bool else {
            throw OTAError(.tufMetadata, "\(path).\(name): expected true or false")
        }
        return flag
    }

    /// An integer in `range`.
    func integer(_ name: String, in range: ClosedRange<Int64>) throws(OTAError) -> Int64 {
        guard let number = try value(name).integer else {
            throw OTAError(.tufMetadata, "\(path).\(name): expected an integer")
        }
        guard range.contains(number) else {
            throw OTAError(
                .tufMetadata, "\(path).\(name): \(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func object(_ name: String) throws(OTAError) -> TUFFields {
        try TUFFields(try value(name), path: "\(path).\(name)")
    }

    func array(_ name: String) throws(OTAError) -> [TUFJSON] {
        guard let items = try value(name).array else {
            throw OTAError(.tufMetadata, "\(path).\(name): expected an array")
        }
        return items
    }

    /// An array of distinct strings.
    func uniqueStrings(_ name: String) throws(OTAError) -> [String] {
        var seen = Set<[UInt8]>()
        var result: [String] = []
        for (index, item) in try array(name).enumerated() {
            guard let text = item.string else {
                throw OTAError(.tufMetadata, "\(path).\(name)[\(index)]: expected a string")
            }
            guard seen.insert(Array(text.utf8)).inserted else {
                throw OTAError(.tufMetadata, "\(path).\(name)[\(index)]: '\(text)' twice")
            }
            result.append(text)
        }
        return result
    }
}

/// Entries in document order, looked up by the UTF-8 bytes of their names (never by Swift's
/// Unicode-equivalence equality), so names that differ only in normalisation stay apart.
public struct NamedList<Value: Sendable>: Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let value: Value
    }

    public var entries: [Entry]

    public init(_ entries: [Entry] = []) { self.entries = entries }

    public subscript(name: String) -> Value? {
        entries.first { $0.name.utf8.elementsEqual(name.utf8) }?.value
    }

    public var names: [String] { entries.map(\.name) }
    public var count: Int { entries.count }
}

/// TUF's expiry format, exactly `YYYY-MM-DDTHH:MM:SSZ` (what the specification and python-tuf
/// write), as seconds since 1970.
public enum TUFTime {
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 20, b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54, b[13] == 0x3a, b[16] == 0x3a, b[19] == 0x5a
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        guard year >= 1, (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1, day <= lengths[Int(month - 1)] else { return nil }
        return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    public static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (y, m, d) = civilFromDays(days)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var year = String(y)
        while year.count < 4 { year = "0" + year }
        return "\(year)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }

    // Howard Hinnant's days-from-civil algorithm (shared with every other time reader).
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        UTCTime.daysSince1970(year: y0, month: m, day: d)
    }

    static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
