import OTACore
import OTATestSupport
import Testing

/// Inputs that once stopped a fuzz harness (`Fuzz/regressions/`), replayed through the entry
/// points real callers use.
struct FuzzRegressionTests {
    struct Readings: Codable {
        let batteryPercent: Int
    }

    /// json harness, first campaign: the number literal `-1687…e351615` (beyond any Double) is
    /// read by `StrictJSON` in input mode, which keeps literals as text, while Foundation refuses
    /// it. The harness's invariant was too broad (a false alarm, not a parser fault); what must
    /// hold is that no reader takes the number as a value.
    @Test func `a number beyond a Double is refused by every JSON reader that would use it`() throws {
        let literal = try FuzzRegression.input("json", "number-beyond-double.json")
        // Signed documents (canonical mode): integers within 64 bits only.
        #expect(throws: StrictJSON.SyntaxError.self) { try StrictJSON.parse(literal) }
        // Unsigned inputs: StrictJSON keeps the literal, the typed decoder after it refuses it.
        #expect(
            try StrictJSON.parse(literal, limits: StrictJSON.Limits(integersOnly: false))
                == .number(String(decoding: literal, as: UTF8.self)))
        let readings = Array(#"{"batteryPercent": "#.utf8) + literal + Array("}".utf8)
        #expect(throws: OTAError(.vehicleStateMalformed, "")) {
            try CanonicalJSON.decodeInput(Readings.self, from: readings, as: .vehicleStateMalformed)
        }
        #expect(throws: OTAError(.manifestMalformed, "")) {
            try CanonicalJSON.decode(Readings.self, from: readings, as: .manifestMalformed)
        }
    }
}
