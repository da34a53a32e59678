import OTATestSupport
import Testing

@testable import OTADelta

@Suite struct OldIndexSpaceTests {
    @Test func `packed positions map back across stretch boundaries`() throws {
        let old = [UInt8](0..<100)
        try old.withUnsafeBufferPointer { buffer in
            // Block copies use 10..<40 and 50..<95: packed = 0..<10, 40..<50, 95..<100.
            let space = try #require(
                OldIndexSpace(old: buffer, used: [50..<95, 10..<40, 20..<30], minimumUsedFraction: 0.5))
            #expect(Array(space.bytes) == Array(0..<10) + Array(40..<50) + Array(95..<100))
            #expect(space.packedPosition(ofOld: 5) == 5)
            #expect(space.packedPosition(ofOld: 20) == 10)  // inside a used range: the next packed byte
            #expect(space.packedPosition(ofOld: 97) == 22)
            #expect(space.packedPosition(ofOld: 100) == 25)
            var ops: [DeltaOperation] = []
            space.appendMapped(.add(oldStart: 8, length: 14), to: &ops)
            #expect(
                ops == [.add(oldStart: 8, length: 2), .add(oldStart: 40, length: 10), .add(oldStart: 95, length: 2)])
            #expect(OldIndexSpace(old: buffer, used: [0..<10], minimumUsedFraction: 0.5) == nil)
        }
    }

    @Test func `block copies of 35% of the old image are enough to index only the rest`() throws {
        // The new image's first 40% is the old image's, block for block; the rest is new.
        var generator = SeededGenerator(seed: 35)
        let old = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let kept = 400 << 10
        let new = Array(old[0..<kept]) + (kept..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let plan = old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n in DeltaEncoder(options: DeltaOptions()).plan(old: o, new: n) }
        }
        #expect(plan.space.isPacked)
        #expect(plan.space.bytes.count == old.count - kept)
        #expect(try Delta.apply(old: old, patch: try Delta.diff(old: old, new: new)) == new)
    }
}
