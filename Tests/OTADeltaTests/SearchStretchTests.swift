import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// A piece of mostly new bytes searched in stretches at once (`CoverMatcher.searchStretch`,
/// `DeltaEncoder.matchPieces` with fewer pieces than `piecesForAllCores`): the ops still tile
/// the piece exactly, and cost what one search's cost, within a few covers at the cuts.
@Suite struct SearchStretchTests {
    /// New bytes that are mostly new: random stretches with snippets of `old`'s second half
    /// (100-1,500 bytes, shorter than a block run, some with an edited byte) between them, so
    /// the whole image is one gap for the cover matcher and matches run over any cut. With
    /// random bytes there, a snippet the matcher misses costs its whole length in the patch.
    static func mostlyNew(old: [UInt8], count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var new: [UInt8] = []
        while new.count < count {
            new += RoundTripTests.random(Int(generator.next() % 2000) + 200, seed: generator.next())
            let length = Int(generator.next() % 1400) + 100
            let start = old.count / 2 + Int(generator.next() % UInt64(old.count / 2 - length))
            var snippet = Array(old[start..<(start + length)])
            if generator.next() % 3 == 0 { snippet[length / 2] &+= 1 }
            new += snippet
        }
        return Array(new.prefix(count))
    }

    /// Whether `ops` tile `new[start..<end]` with COPYs of equal bytes and ADDs inside `old`.
    static func tiles(_ ops: [DeltaOperation], old: [UInt8], new: [UInt8], start: Int, end: Int) -> Bool {
        var cursor = start
        for op in ops {
            switch op {
            case .copy(let o, let l):
                guard o >= 0, o + l <= old.count, cursor + l <= end,
                    old[o..<(o + l)].elementsEqual(new[cursor..<(cursor + l)])
                else { return false }
            case .add(let o, let l):
                guard o >= 0, o + l <= old.count, cursor + l <= end else { return false }
            case .insert(let l):
                guard l > 0, cursor + l <= end else { return false }
            case .rebuilt: return false  // the matcher makes none
            }
            cursor += op.length
        }
        return cursor == end
    }

    static func inserted(_ ops: [DeltaOperation]) -> Int {
        ops.reduce(0) { total, op in if case .insert(let l) = op { total + l } else { total } }
    }

    @Test func `a piece searched in stretches tiles exactly and finds what one search finds`() {
        let old = RoundTripTests.texty(600_000, seed: 3) + RoundTripTests.random(600_000, seed: 4)
        let new = Self.mostlyNew(old: old, count: 2_300_000, seed: 5)
        let start = 1000
        let end = new.count - 777
        old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n in
                let index = SuffixIndex(old: o, new: n)
                let matcher = CoverMatcher(index: index, minimumScores: [16])
                let stretches = CoverMatcher.searchStretches(from: start, to: end, count: 4)
                #expect(stretches.count == 4)
                #expect(stretches.first?.lowerBound == start && stretches.last?.upperBound == end)
                #expect(zip(stretches, stretches.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                let searched = stretches.flatMap { matcher.searchStretch($0, pieceStart: start, seed: 5000) }
                let split = matcher.match(from: start, to: end, seed: 5000, searched: searched)[0]
                let whole = matcher.match(from: start, to: end, seed: 5000)[0]
                #expect(Self.tiles(split, old: old, new: new, start: start, end: end))
                #expect(Self.tiles(whole, old: old, new: new, start: start, end: end))
                // The snippets are found either way: at most a cut's worth of bytes more inserted
                // and a few ops more per cut.
                let (splitInserted, wholeInserted) = (Self.inserted(split), Self.inserted(whole))
                #expect(wholeInserted < end - start - 500_000, "\(wholeInserted) inserted of \(end - start)")
                #expect(splitInserted <= wholeInserted + 3 * 64, "\(splitInserted) against \(wholeInserted)")
                #expect(split.count <= whole.count + 3 * 2, "\(split.count) ops against \(whole.count)")
            }
        }
        // Too short to cut: one stretch.
        #expect(CoverMatcher.searchStretches(from: 0, to: 900_000, count: 4) == [0..<900_000])
    }

    /// Through the encoder: one gap of 2.3 MB (fewer pieces than `piecesForAllCores`) is
    /// searched in stretches, and the patch rebuilds the image and holds the snippets as ops.
    @Test func `a mostly new image matched in stretches round trips`() throws {
        let old = RoundTripTests.texty(600_000, seed: 6) + RoundTripTests.random(600_000, seed: 7)
        let new = Self.mostlyNew(old: old, count: 2_300_000, seed: 8)
        let patch = try Delta.diff(old: old, new: new)
        let rebuilt = try Delta.apply(old: old, patch: patch)
        let same = rebuilt == new
        #expect(same)
        // Random bytes do not compress: the snippets (about 40% of the image) are what is saved
        // (60%; a search that kept one stretch's covers of four made 79%).
        #expect(patch.count < new.count * 7 / 10, "patch \(patch.count) of \(new.count)")
    }
}
