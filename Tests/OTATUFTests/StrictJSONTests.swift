import OTACore
import OTATUF
import Testing

@Suite struct StrictJSONTests {
    func refused(_ text: String) -> Bool {
        (try? TUFJSONParser.parse(Array(text.utf8))) == nil
    }

    @Test func `duplicate member names are refused, even when only the escape differs`() {
        #expect(refused(#"{"a":1,"a":2}"#))
        #expect(refused(#"{"a":1,"\u0061":2}"#))
    }

    @Test func `two names that differ only in Unicode normalisation stay two members`() throws {
        let value = try TUFJSONParser.parse(Array(#"{"\u00e9":1,"e\u0301":2}"#.utf8))
        #expect(value.object?.count == 2)
        #expect(value.object?["\u{e9}"] == .integer(1))
        #expect(value.object?["e\u{301}"] == .integer(2))
    }

    @Test(arguments: [
        "1.5", "1e3", "1E3", "-0.0", "-0", "01", "18446744073709551616", "9223372036854775808", "-9223372036854775809",
        "+1", "NaN", "Infinity",
    ])
    func `numbers that are not canonical-JSON integers in range are refused`(text: String) {
        #expect(refused(#"{"n":\#(text)}"#))
    }

    @Test func `lone surrogates, bad UTF-8 and raw control characters are refused`() {
        #expect(refused(#"["\ud800"]"#))
        #expect(refused(#"["\udc00x"]"#))
        #expect((try? TUFJSONParser.parse([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d])) == nil)  // overlong '/'
        #expect((try? TUFJSONParser.parse([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d])) == nil)  // encoded surrogate
        #expect((try? TUFJSONParser.parse([0x5b, 0x22, 0x0a, 0x22, 0x5d])) == nil)
    }

    @Test func `nesting deeper than the limit and trailing data are refused`() {
        #expect(refused(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)))
        #expect(!refused(String(repeating: "[", count: 60) + String(repeating: "]", count: 60)))
        #expect(refused(#"{"a":1} {"#))
        #expect(refused(#"{"a":1}x"#))
    }

    @Test func `a document over the size limit is refused as endless data`() {
        let code = refusal { _ = try TUFJSONParser.parse(Array(repeating: 0x20, count: 100), limit: 99) }
        #expect(code == .tufTooLarge)
    }

    @Test func `canonical form sorts by code point and escapes only quote and backslash`() throws {
        let value = try TUFJSONParser.parse(Array(#"{"b":[true,false,null,-3],"a":"x\"y\\z\n\u00e9","B":{}}"#.utf8))
        let canonical = String(decoding: OLPCCanonicalJSON.encode(value), as: UTF8.self)
        #expect(canonical == "{\"B\":{},\"a\":\"x\\\"y\\\\z\n\u{e9}\",\"b\":[true,false,null,-3]}")
        // The file form escapes the control character, and parses back to the same value.
        let file = OLPCCanonicalJSON.encodeFile(value)
        #expect(String(decoding: file, as: UTF8.self).contains("\\u000a"))
        #expect(try TUFJSONParser.parse(file) == value)
    }

    @Test func `path patterns match part by part and star never crosses a slash`() {
        #expect(PathPattern.matches("apps/*", "apps/a.bin"))
        #expect(!PathPattern.matches("apps/*", "apps/x/a.bin"))
        #expect(!PathPattern.matches("*", "a/b"))
        #expect(PathPattern.matches("*/*.ota", "x1/ivi.ota"))
        #expect(PathPattern.matches("file-?.[ab]in", "file-1.bin"))
        #expect(!PathPattern.matches("file-[!1].bin", "file-1.bin"))
        #expect(PathPattern.matches("", ""))
    }

    @Test func `expiry times are exactly YYYY-MM-DDTHH:MM:SSZ`() {
        #expect(TUFTime.parse("2030-01-01T00:00:00Z") == 1_893_456_000)
        #expect(TUFTime.format(1_893_456_000) == "2030-01-01T00:00:00Z")
        for bad in [
            "2030-01-01T00:00:00", "2030-01-01T00:00:00.5Z", "2030-02-30T00:00:00Z", "2030-01-01 00:00:00Z",
            "+030-01-01T00:00:00Z",
        ] {
            #expect(TUFTime.parse(bad) == nil)
        }
    }
}
