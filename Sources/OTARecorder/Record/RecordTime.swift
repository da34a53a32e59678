public import Foundation
internal import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// A moment as the record holds it: UTC milliseconds and the clock that gave it.
///
/// Written `{"at":"2026-01-31T08:00:00.000Z","source":"gnss"}` (RFC 3339 in UTC with
/// milliseconds, so times sort as text and read the same everywhere). Years 1970 to 9999 only:
/// a date outside is clamped when made from a `Date` and refused when read.
public struct RecordTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64
    public var source: ClockSource

    /// The first and last millisecond a record may name (1970-01-01 to 9999-12-31).
    public static let range: ClosedRange<Int64> = 0...253_402_300_799_999

    public init(milliseconds: Int64, source: ClockSource) {
        self.milliseconds = min(max(milliseconds, Self.range.lowerBound), Self.range.upperBound)
        self.source = source
    }

    /// `date` truncated to the millisecond (clamped to `range`).
    public init(_ date: Date, source: ClockSource) {
        self.init(milliseconds: Self.milliseconds(date), source: source)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// `2026-01-31T08:00:00.000Z`.
    public var text: String { Self.format(milliseconds: milliseconds) }

    public var description: String { "\(text) (\(source.rawValue))" }

    public static func < (lhs: RecordTime, rhs: RecordTime) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// Milliseconds from `earlier` to `self`; never negative, never traps.
    public func milliseconds(since earlier: RecordTime) -> Int64 {
        let (difference, overflow) = milliseconds.subtractingReportingOverflow(earlier.milliseconds)
        return overflow || difference < 0 ? 0 : difference
    }

    // MARK: Text form

    private static func milliseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard value.isFinite else { return value < 0 ? range.lowerBound : range.upperBound }
        if value <= Double(range.lowerBound) { return range.lowerBound }
        if value >= Double(range.upperBound) { return range.upperBound }
        return Int64(value)
    }

    /// Formats `date` (UTC, milliseconds truncated, clamped to `range`).
    public static func format(_ date: Date) -> String { format(milliseconds: milliseconds(date)) }

    static func format(milliseconds value: Int64) -> String {
        let clamped = min(max(value, range.lowerBound), range.upperBound)
        var seconds = time_t(clamped / 1000)
        let fraction = Int32(clamped % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(fraction, 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f…]Z` (1 to 9 fraction digits, kept to the millisecond) in
    /// years 1970...9999; nil for anything else, including days a month does not have.
    public static func parse(_ text: String) -> Date? {
        parseMilliseconds(text).map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    /// As `parse`, in milliseconds since 1970.
    public static func parseMilliseconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 30, bytes.last == UInt8(ascii: "Z"),
            let seconds = UTCTime.dateTimeSeconds(bytes)
        else { return nil }
        var fraction: Int64 = 0
        if bytes.count > 20 {
            let digits = bytes.count - 21
            guard bytes[19] == UInt8(ascii: "."), digits >= 1, digits <= 9,
                let value = UTCTime.digits(bytes, 20, digits)
            else { return nil }
            fraction = value
            var scale = digits
            while scale > 3 { fraction /= 10; scale -= 1 }
            while scale < 3 { fraction *= 10; scale += 1 }
        }
        return seconds * 1000 + fraction
    }

    /// `date` moved by whole calendar months (UTC, Gregorian), e.g. 6 months before now.
    public static func adding(months: Int, to date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(byAdding: .month, value: months, to: date) ?? date
    }

    /// `date` moved by whole calendar years (UTC, Gregorian).
    public static func adding(years: Int, to date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(byAdding: .year, value: years, to: date) ?? date
    }
}

/// Where a recorded time came from.
public enum ClockSource: String, Sendable, CaseIterable {
    /// Satellite time.
    case gnss
    /// Network time.
    case ntp
    /// The vehicle's real-time clock, unchecked.
    case rtc
    /// Time given by the backend (fleet service).
    case backend
    /// The installer's floor: the newest signed time it has verified, used when the real-time
    /// clock reads earlier.
    case signedFloor = "signed-floor"
    /// The vehicle's own configuration or manufacture data.
    case factory
    /// Tests and simulations.
    case test
}
