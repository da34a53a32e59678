import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The block pass at any new offset, the packed index it allows, and op joining.
@Suite struct ShiftedBlockTests {
    static func shiftedRuns(_ old: [UInt8], _ new: [UInt8], within gaps: [Range<Int>]? = nil) -> [BlockMatcher.Run] {
        old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n in
                BlockMatcher().shiftedRuns(old: o, new: n, within: gaps ?? [0..<new.count])
            }
        }
    }

    @Test func `a long stretch at an unaligned shift is one run, grown to its exact ends`() {
        let old = RoundTripTests.random(256 << 10, seed: 1)
        var new = RoundTripTests.random(1001, seed: 2) + old[5000..<105_000] + RoundTripTests.random(3000, seed: 3)
        new[1000] = old[4999] &+ 1
        new[101_001] = old[105_000] &+ 1
        let runs = Self.shiftedRuns(old, new)
        #expect(runs == [BlockMatcher.Run(newStart: 1001, oldStart: 5000, length: 100_000)])
    }

    @Test func `a run stays inside its gap`() {
        let old = RoundTripTests.random(256 << 10, seed: 1)
        var new = RoundTripTests.random(1001, seed: 2) + old[5000..<105_000]
        new[1000] = old[4999] &+ 1
        let runs = Self.shiftedRuns(old, new, within: [0..<60_000])
        #expect(runs == [BlockMatcher.Run(newStart: 1001, oldStart: 5000, length: 58_999)])
    }

    @Test func `stretches shorter than the minimum run are left to the matcher`() {
        let old = RoundTripTests.random(256 << 10, seed: 1)
        let new =
            RoundTripTests.random(777, seed: 2) + old[9000..<(9000 + 20_000)] + RoundTripTests.random(50_000, seed: 3)
        #expect(Self.shiftedRuns(old, new).isEmpty)
    }

    @Test func `a long repeat that matches only one old block yields no run`() {
        // Every new position hits the one zero block of old; each short match skips its stretch.
        var old = RoundTripTests.random(64 << 10, seed: 4)
        old.replaceSubrange(8192..<12288, with: [UInt8](repeating: 0, count: 4096))
        let new = [UInt8](repeating: 0, count: 1 << 20)
        #expect(Self.shiftedRuns(old, new).isEmpty)
    }

    @Test func `a shifted copy of most of the image indexes only the rest`() throws {
        var old = RoundTripTests.random(1 << 20, seed: 5)
        old.replaceSubrange(300_000..<300_000, with: RoundTripTests.texty(100_000, seed: 6))
        var new = RoundTripTests.random(13, seed: 7) + old
        new.replaceSubrange(310_000..<310_050, with: RoundTripTests.random(80, seed: 8))
        let plan = old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n in DeltaEncoder(options: DeltaOptions()).plan(old: o, new: n) }
        }
        #expect(plan.space.isPacked)
        #expect(plan.space.bytes.count < old.count / 4)
        let patch = try RoundTripTests.roundTrip(old, new)
        #expect(patch.count < 2000, "patch \(patch.count) bytes")
    }

    @Test func `neighbouring ops that continue each other are joined`() {
        var joiner = OpJoiner()
        var out: [DeltaOperation] = []
        let ops: [DeltaOperation] = [
            .copy(oldStart: 0, length: 10), .add(oldStart: 10, length: 5), .copy(oldStart: 15, length: 3),
            .insert(length: 2), .insert(length: 4), .copy(oldStart: 100, length: 8), .copy(oldStart: 108, length: 1),
            .add(oldStart: 50, length: 2), .add(oldStart: 53, length: 2), .copy(oldStart: 55, length: 1 << 20),
            .add(oldStart: 55 + 1 << 20, length: 9),
        ]
        for op in ops { if let done = joiner.take(op) { out.append(done) } }
        if let last = joiner.pending { out.append(last) }
        #expect(
            out == [
                .add(oldStart: 0, length: 18), .insert(length: 6), .copy(oldStart: 100, length: 9),
                .add(oldStart: 50, length: 2), .add(oldStart: 53, length: 2), .copy(oldStart: 55, length: 1 << 20),
                .add(oldStart: 55 + 1 << 20, length: 9),
            ])
    }

    @Test func `a patch made from mapped files that the encoder evicts applies exactly`() throws {
        let directory = try TemporaryDirectory.create("delta")
        defer { TemporaryDirectory.remove(directory) }
        let old = RoundTripTests.random(400_000, seed: 9)
        var new = RoundTripTests.random(999, seed: 10) + old
        for i in stride(from: 50_000, to: 60_000, by: 97) { new[i] &+= 1 }
        try AtomicFileWriter.write(old, to: directory + "/old")
        try AtomicFileWriter.write(new, to: directory + "/new")
        let options = DeltaOptions.forcingTransform(oldCount: old.count, newCount: new.count, architecture: .x86_64)
        _ = try Delta.createPatch(
            old: directory + "/old", new: directory + "/new", output: directory + "/p", options: options)
        _ = try Delta.applyPatch(old: directory + "/old", patch: directory + "/p", output: directory + "/out")
        #expect(try DeltaPatchHeader.decode(try FileSystem.read(directory + "/p")).version == 3)
        #expect(try FileSystem.read(directory + "/out") == new)
    }
}
