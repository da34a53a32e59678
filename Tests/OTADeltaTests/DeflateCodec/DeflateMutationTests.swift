import OTATestSupport
import Testing

@testable import OTADelta

/// Randomized corruption: neither side may trap, whatever it is given.
@Suite struct DeflateMutationTests {
    /// Raw deflate streams of each block type.
    static let samples: [[UInt8]] = [
        Zlib.deflate(DeflateTestData.text(3_000, seed: 21), level: 9),
        Zlib.deflate(DeflateTestData.repetitive(4_000), level: 6, strategy: 3 /* Z_RLE */),
        Zlib.deflate(
            DeflateTestData.random(500, seed: 22) + DeflateTestData.text(800), level: 1, strategy: 4 /* Z_FIXED */),
        Zlib.deflate(
            DeflateTestData.text(2_000, seed: 23), flushes: [Zlib.Flush(offset: 700, mode: 2 /* Z_SYNC_FLUSH */)]),
        Zlib.deflate(DeflateTestData.random(300, seed: 24), level: 0),
    ]

    /// Flips, inserts or deletes a few bytes at random.
    static func mutate(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var result = bytes
        for _ in 0..<(1 + Int(generator.next() % 3)) {
            let position = result.isEmpty ? 0 : Int(generator.next() % UInt64(result.count))
            switch generator.next() % 4 {
            case 0 where !result.isEmpty:
                result[position] ^= UInt8(1 << (generator.next() % 8))
            case 1 where !result.isEmpty:
                result[position] = UInt8(truncatingIfNeeded: generator.next())
            case 2:
                result.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
            default:
                if !result.isEmpty { result.remove(at: position) }
            }
        }
        return result
    }

    @Test func `huff survives mutated headers, tokens and data without trapping`() throws {
        var generator = SeededGenerator(seed: 0xC0FFEE)
        let streams =
            try Self.samples.map { try puff($0, prefixLength: 0, suffixLength: 0).stream }
            + [
                try puff(Zlib.deflate(DeflateTestData.text(900), container: .gzip), prefixLength: 10, suffixLength: 8)
                    .stream
            ]
        var accepted = 0
        var rejected = 0
        for iteration in 0..<3_000 {
            let original = streams[iteration % streams.count]
            var mutated = original
            switch iteration % 3 {
            case 0: mutated.headers = Self.mutate(original.headers, using: &generator)
            case 1: mutated.tokens = Self.mutate(original.tokens, using: &generator)
            default: mutated.data = Self.mutate(original.data, using: &generator)
            }
            do {
                _ = try huff(mutated)
                accepted += 1
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 1_000)
        #expect(accepted + rejected == 3_000)
        // The unmutated inputs still round-trip.
        for (sample, stream) in zip(Self.samples, streams.prefix(Self.samples.count)) {
            let rebuilt = try huff(stream)
            let same = rebuilt == sample
            #expect(same)
        }
    }

    @Test func `whatever puff accepts from mutated streams huffs back to exactly the bytes consumed`() throws {
        var generator = SeededGenerator(seed: 0xBADF00D)
        var accepted = 0
        for iteration in 0..<3_000 {
            let sample = Self.samples[iteration % Self.samples.count]
            let mutated = Self.mutate(sample, using: &generator)
            guard let (stream, consumed) = try? puff(mutated, maxData: 1 << 20) else { continue }
            accepted += 1
            let rebuilt = try huff(stream)
            let same = rebuilt == Array(mutated.prefix(consumed))
            #expect(same, "iteration \(iteration)")
        }
        #expect(accepted > 0)
    }
}
