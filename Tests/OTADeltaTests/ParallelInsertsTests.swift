import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The inserted bytes compressed in two halves at once (`DeltaOptions.parallelInserts`,
/// `PatchFrameWriter`): the second encoder's history must be exactly the bytes the decoder's
/// dictionary ends with where that encoder takes over, with or without a primed dictionary, so
/// the patch rebuilds its image through the sequential and the pipelined decoder, at about the
/// size one encoder gives.
@Suite struct ParallelInsertsTests {
    static let old = RoundTripTests.texty(300_000, seed: 11)

    /// 3 MiB that the old image does not explain: random stretches, and in the second half
    /// snippets of the first half's last MiB between them, which only the history the second
    /// encoder starts with finds (the matcher looks in the old image only).
    static let new: [UInt8] = {
        var generator = SeededGenerator(seed: 12)
        var new = RoundTripTests.random(1_600_000, seed: 13)
        while new.count < 3 << 20 {
            new += RoundTripTests.random(Int(generator.next() % 300) + 50, seed: generator.next())
            let length = Int(generator.next() % 1500) + 200
            let start = 1_600_000 - (1 << 20) + Int(generator.next() % UInt64((1 << 20) - length))
            new += new[start..<(start + length)]
        }
        return new
    }()

    /// The split needs every op before the first is written, as the transform's matching
    /// gives: both images are declared x86-64 code.
    static func options(newCount: Int = new.count) -> DeltaOptions {
        .forcingTransform(oldCount: old.count, newCount: newCount, architecture: .x86_64)
    }

    static func patch(parallel: Bool, primed: Bool) throws -> [UInt8] {
        var options = options()
        options.parallelInserts = parallel
        options.insertsPriming = primed ? .always : .never
        return try Delta.diff(old: old, new: new, options: options)
    }

    /// Decodes `patch` on the decoder's own threads.
    static func pipelined(_ patch: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        let decoder = DeltaDecoder(
            source: MemoryDeltaSource(old), limits: DeltaLimits(), sourceCheck: .concurrent, threads: .pipelined
        ) { (piece: UnsafeRawBufferPointer) throws(OTAError) in out.append(contentsOf: piece) }
        _ = try decoder.decodeAll(patch, from: 0)
        return out
    }

    @Test func `inserts split in two halves rebuild the image at about one encoder's size`() throws {
        let split = try Self.patch(parallel: true, primed: false)
        let whole = try Self.patch(parallel: false, primed: false)
        // The second encoder really took over: the streams differ.
        // (Compared as Bools: a failing comparison of arrays of megabytes prints them whole.)
        #expect(split != whole ? true : false)
        #expect(try Delta.apply(old: Self.old, patch: split) == Self.new ? true : false)
        #expect(try Self.pipelined(split) == Self.new ? true : false)
        // Without the history the snippets of the second half (about 0.9 MiB) would be stored
        // as random bytes: the patch would grow by far more than this.
        #expect(split.count * 1000 <= whole.count * 1005, "\(split.count) against \(whole.count)")
    }

    @Test func `primed inserts keep one encoder`() throws {
        let primed = try Self.patch(parallel: true, primed: true)
        #expect(primed == (try Self.patch(parallel: false, primed: true)) ? true : false)
    }

    @Test func `fewer inserted bytes than the minimum keep one encoder`() throws {
        let new = Array(Self.new.prefix(PatchFrameWriter.splitInsertsMinimum - 100_000))
        var options = Self.options(newCount: new.count)
        let whole = try Delta.diff(old: Self.old, new: new, options: options)
        options.parallelInserts = true
        #expect(try Delta.diff(old: Self.old, new: new, options: options) == whole ? true : false)
    }
}
