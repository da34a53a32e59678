import OTACore
import Testing

@testable import OTAFleet

/// Query strings of the compliance endpoints: read one way only (found by an audit helper, from
/// the code: `vins=&vins=X` passed the each-key-once rule as `vins=X`, and a filter spelt with a
/// look-alike character selected nothing, silently, for a signed "verified" empty export).
@Suite struct RecordQueryTests {
    @Test(arguments: ["vin=&vin=LSVAU2180N2000001", "vin=LSVAU2180N2000001&vin=", "vin&vin=X"])
    func `a key given twice is refused whatever its values`(query: String) {
        #expect(throws: OTAError(.usageInvalid, "")) { try RecordQuery.parameters(query) }
    }

    @Test(arguments: ["vin=LSVAU2180N20000%E2%84%AA1", "campaign=Cafe%CC%81"])
    func `a value not in normal form C is refused`(query: String) {
        let error = #expect(throws: OTAError(.usageInvalid, "")) { try RecordQuery.parameters(query) }
        #expect(error?.message.contains("normal form C") == true, "\(String(describing: error))")
    }

    @Test func `plain and precomposed values are read`() throws {
        let read = try RecordQuery.parameters("vin=LSVAU2180N2000001&campaign=Caf%C3%A9&bundle=")
        #expect(read == ["vin": "LSVAU2180N2000001", "campaign": "Café"])
    }
}
