/// Calendar arithmetic and the one strict reading of a time a person writes: `YYYY-MM-DDTHH:MM:SS`
/// then `Z` or an offset `±HH:MM`, ASCII digits of exactly those widths, a day the month has,
/// no leap second, no fraction (signed times are whole seconds), years 1970...9999. Anything
/// else is refused, not moved: a general ISO 8601 reader turned 30 February into 2 March.
package enum UTCTime {
    /// Seconds since 1970-01-01T00:00:00Z, or nil.
    package static func seconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 || bytes.count == 25, let local = dateTimeSeconds(bytes) else { return nil }
        guard bytes.count == 25 else { return bytes[19] == UInt8(ascii: "Z") ? local : nil }
        guard bytes[19] == UInt8(ascii: "+") || bytes[19] == UInt8(ascii: "-"), bytes[22] == UInt8(ascii: ":"),
            let hours = digits(bytes, 20, 2), let minutes = digits(bytes, 23, 2), hours <= 14, minutes < 60
        else { return nil }
        return local - (hours * 60 + minutes) * 60 * (bytes[19] == UInt8(ascii: "+") ? 1 : -1)
    }

    /// `YYYY-MM-DDTHH:MM:SS` at the start of `bytes` (at least 19 of them), as seconds since
    /// 1970: ASCII digits, a day the month has, no leap second, years 1970...9999; what follows
    /// is the caller's.
    package static func dateTimeSeconds(_ bytes: [UInt8]) -> Int64? {
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = digits(bytes, 0, 4), let month = digits(bytes, 5, 2), let day = digits(bytes, 8, 2),
            let hour = digits(bytes, 11, 2), let minute = digits(bytes, 14, 2), let second = digits(bytes, 17, 2),
            year >= 1970, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour < 24, minute < 60, second < 60
        else { return nil }
        return daysSince1970(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The number `count` ASCII digits from `from` spell, or nil.
    package static func digits(_ bytes: [UInt8], _ from: Int, _ count: Int) -> Int64? {
        guard from >= 0, from + count <= bytes.count else { return nil }
        var value: Int64 = 0
        for byte in bytes[from..<from + count] {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }

    /// Days from 1970-01-01 to a day of the proleptic Gregorian calendar (without the C
    /// library's `time_t` limits).
    package static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The days `month` has in `year`.
    package static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
