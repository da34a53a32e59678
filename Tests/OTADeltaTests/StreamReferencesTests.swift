import Testing

@testable import OTADelta

/// How far back the recompressed-streams block's encoder must see: to the farthest earlier
/// stream a new stream repeats, found by sampled fingerprints.
@Suite struct StreamReferencesTests {
    static let a = RoundTripTests.random(40_000, seed: 21)
    static let b = RoundTripTests.random(30_000, seed: 22)
    static let c = RoundTripTests.random(20_000, seed: 23)

    /// `bytes` with a few stretches changed and some bytes inserted, as a new version of an asset.
    static func edited(_ bytes: [UInt8], seed: UInt64) -> [UInt8] {
        var edited = bytes
        edited.replaceSubrange(1_000..<1_040, with: RoundTripTests.random(40, seed: seed))
        edited.insert(contentsOf: RoundTripTests.random(500, seed: seed &+ 1), at: bytes.count / 2)
        return edited
    }

    static func reach(_ streams: [(data: [UInt8], isNew: Bool)]) -> Int {
        var references = StreamReferences()
        for (data, isNew) in streams { references.add(data: data, size: data.count, isNew: isNew) }
        return references.reach
    }

    @Test func `each new stream reaches back to the start of the old stream it repeats`() {
        let a2 = Self.edited(Self.a, seed: 1)
        let b2 = Self.edited(Self.b, seed: 2)
        // History: a, b, a2, b2. a2 reaches to a's start; b2 to b's start.
        let same = Self.reach([(Self.a, false), (Self.b, false), (a2, true), (b2, true)])
        #expect(same == max(Self.a.count + Self.b.count + a2.count, Self.b.count + a2.count + b2.count))
        // In the other order b2 repeats b from just before a2: the window spans everything.
        let swapped = Self.reach([(Self.a, false), (Self.b, false), (b2, true), (a2, true)])
        #expect(swapped == Self.a.count + Self.b.count + b2.count + a2.count)
    }

    @Test func `a new stream that repeats nothing reaches back only over itself`() {
        #expect(Self.reach([(Self.a, false), (Self.b, false), (Self.c, true)]) == Self.c.count)
        #expect(Self.reach([(Self.a, false), (Self.b, false)]) == 0)
    }

    @Test func `a new stream can repeat an earlier new one, the nearest holder`() {
        let c2 = Self.edited(Self.c, seed: 3)
        // c in the old image, then two new copies of c2: the first reaches back to c, the second
        // only to the first (c + 2 × c2 had it reached back to c).
        let reach = Self.reach([(Self.a, false), (Self.c, false), (c2, true), (c2, true)])
        #expect(reach == 2 * c2.count)
    }

    @Test func `a few shared phrases are not a reference`() {
        // b2 holds 1,000 bytes of a among 30,000 of its own: under a sixteenth of its samples.
        var b2 = Self.b
        b2.replaceSubrange(5_000..<6_000, with: Self.a[0..<1_000])
        #expect(Self.reach([(Self.a, false), (Self.c, false), (b2, true)]) == b2.count)
        // A third of a: a reference.
        b2.replaceSubrange(5_000..<15_000, with: Self.a[0..<10_000])
        #expect(Self.reach([(Self.a, false), (Self.c, false), (b2, true)]) == Self.a.count + Self.c.count + b2.count)
    }
}
