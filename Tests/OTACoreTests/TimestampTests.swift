import Foundation
import OTACore
import Testing

/// Times a person writes (manifest fields, `--valid-until`, `--expires`, `--at`) become signed
/// times. Foundation's ISO 8601 reader took forms other readers refuse and moved them silently
/// (an audit helper signed these with `ota approve`): 30 February became 2 March, 24:00 the next
/// day, full-width digits and one-digit fields were read, `+24:00` was taken as an offset and
/// twelve fraction digits rounded to a second earlier.
@Suite struct TimestampTests {
    @Test(
        arguments: [
            "2027-02-30T00:00:00Z", "2027-01-01T24:00:00Z", "2027-1-1T0:0:0Z", "２０２７-01-01T00:00:00Z",
            "2027-01-01T00:00:00+24:00", "2027-01-01T00:00:00.123456789123Z", "10000-01-01T00:00:00Z",
            "2027-01-01T00:00:60Z", "2027-01-01t00:00:00z", "2027-01-01T00:00:00", "2027-01-01 00:00:00Z",
            "1969-12-31T23:59:59Z", "2027-01-01T00:00:00+08:60", "2027-01-01T00:00:00+0800", " 2027-01-01T00:00:00Z",
            "2027-01-01T00:00:00.5Z",
        ])
    func `a time that is not exactly YYYY-MM-DDTHH:MM:SS with Z or an offset is refused`(text: String) {
        #expect(Timestamp.parse(text) == nil, "\(text) read as \(String(describing: Timestamp.parse(text)))")
    }

    @Test(
        arguments: [
            ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("2028-02-29T23:59:59Z", "2028-02-29T23:59:59Z"),
            ("2027-01-01T08:00:00+08:00", "2027-01-01T00:00:00Z"),
            ("2026-12-31T19:30:00-04:30", "2027-01-01T00:00:00Z"),
            ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ])
    func `a well-formed time reads as the same instant`(text: String, utc: String) throws {
        let date = try #require(Timestamp.parse(text))
        #expect(Timestamp.format(date) == utc)
    }
}
