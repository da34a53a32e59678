import Foundation
import OTABase
import OTATestSupport
import Testing

@testable import OTADelta

/// `Delta.applyPatch` decodes a small image (old and new together at most
/// `Delta.oneThreadBytes`, the patch at most `Delta.oneThreadPatchBytes`) on the caller's thread
/// alone and a larger one pipelined, and both
/// ways give the in-memory sequential decoder's errors, in its order, and leave nothing behind
/// when they fail.
@Suite struct ApplyThreadingTests {
    /// A patch of the old image copied, then INSERT frames of 256 KiB: by default, a pattern
    /// that packs small, for a new image just over the threshold.
    static func insertPatch(
        frames count: Int = Int(Delta.oneThreadBytes) / (256 << 10) + 1,
        _ inserted: (Int) -> [UInt8] = { index in
            (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11 &+ index) }
        }
    ) throws -> (old: [UInt8], patch: [UInt8], new: [UInt8]) {
        typealias Streams = AdversarialPatchTests.Streams
        let old = AdversarialPatchTests.old
        var new = old
        var frames: [[UInt8]] = []
        var bodySize: UInt64 = 0
        func add(_ streams: Streams) throws {
            frames.append(try AdversarialPatchTests.frame(streams))
            bodySize += UInt64(streams.all.reduce(0) { $0 + $1.count })
        }
        try add(
            Streams(
                control: [DeltaOperation.copyCode] + AdversarialPatchTests.varint(0)
                    + AdversarialPatchTests.varint(UInt64(old.count))))
        for index in 0..<count {
            let bytes = inserted(index)
            new += bytes
            try add(
                Streams(
                    control: [DeltaOperation.insertCode] + AdversarialPatchTests.varint(UInt64(bytes.count)),
                    inserts: bytes))
        }
        return (old, try AdversarialPatchTests.header(old: old, new: new, bodySize: bodySize) + frames.joined(), new)
    }

    /// Applies `patch` to `old` through `Delta.applyPatch` in files; returns its error as
    /// `AdversarialPatchTests.Outcome` spells it (nil: applied, and the output is `new`). Checks
    /// that a failure leaves no file behind.
    static func apply(_ patch: [UInt8], old: [UInt8], new: [UInt8], in directory: TemporaryDirectory, _ name: String)
        throws -> String?
    {
        let outputs = directory.appending(name)
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        try Data(old).write(to: URL(fileURLWithPath: outputs + ".old"))
        try Data(patch).write(to: URL(fileURLWithPath: outputs + ".patch"))
        do throws(OTAError) {
            _ = try Delta.applyPatch(old: outputs + ".old", patch: outputs + ".patch", output: outputs + "/new")
        } catch {
            #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == [], "\(name) left a file")
            return "\(error.code.rawValue): \(error.message)"
        }
        let same = Array(try Data(contentsOf: URL(fileURLWithPath: outputs + "/new"))) == new
        #expect(same, "\(name)")
        return nil
    }

    /// The valid patch and hostile versions of it: the first error each gives must be the
    /// sequential decoder's.
    static func variants(_ patch: [UInt8], old: [UInt8]) throws -> [(String, [UInt8], [UInt8])] {
        var wrongOld = old
        wrongOld[old.count / 2] ^= 1
        let truncated = Array(patch.dropLast(10))
        let wrongHash = try AdversarialPatchTests.resealed(patch) { $0[80] ^= 1 }
        var badMagic = patch
        badMagic[0] ^= 1
        return [
            ("valid", patch, old), ("wrong-old", patch, wrongOld), ("truncated", truncated, old),
            // The old image's mismatch is reported in place of the later truncation.
            ("truncated-wrong-old", truncated, wrongOld), ("new-hash", wrongHash, old),
            ("new-hash-wrong-old", wrongHash, wrongOld), ("trailing", patch + [0], old),
            // The header's own errors: `applyPatch` decodes it before the decoder is made.
            ("header-cut", Array(patch.prefix(DeltaPatchHeader.byteCount - 1)), old), ("bad-magic", badMagic, old),
            ("short-old", patch, Array(old.dropLast())),
        ]
    }

    /// Which threads `Delta.applyPatch` (and `Delta.apply`) decode on, at the thresholds' edges.
    @Test func `small work is decoded on the caller's thread alone and the rest pipelined`() {
        let (images, patch) = (Delta.oneThreadBytes, Delta.oneThreadPatchBytes)
        func threads(_ old: UInt64, _ new: UInt64, _ patch: UInt64) -> DeltaDecoder.Threads {
            Delta.threads(oldSize: old, newSize: new, patchSize: patch)
        }
        #expect(threads(0, 0, 0) == .callerOnly)
        #expect(threads(images / 2, images / 2, patch) == .callerOnly)
        #expect(threads(images / 2, images / 2 + 1, patch) == .pipelined)
        #expect(threads(images / 2 + 1, images / 2, patch) == .pipelined)
        #expect(threads(images / 2, images / 2, patch + 1) == .pipelined)
        #expect(threads(0, images, patch) == .callerOnly)
        #expect(threads(images, 0, patch) == .callerOnly)
        #expect(threads(0, images + 1, 1) == .pipelined)
        #expect(threads(images + 1, 0, 1) == .pipelined)
        // Sizes no image has (a hostile header's new size) choose, without overflowing.
        #expect(Delta.threads(oldSize: 1, newSize: .max, patchSize: 1) == .pipelined)
        #expect(Delta.threads(oldSize: .max, newSize: 1, patchSize: 1) == .pipelined)
        #expect(Delta.threads(oldSize: 1, newSize: 1, patchSize: .max) == .pipelined)
    }

    @Test func `small and large images give the sequential decoder's errors whatever the threads`() throws {
        let directory = try TemporaryDirectory("apply-threading")
        let large = try Self.insertPatch()
        // Small images, but a patch with more to decode than the threshold allows (1 MiB of
        // random bytes inserted).
        let busy = try Self.insertPatch(frames: 4) { RoundTripTests.random(256 << 10, seed: 90 + UInt64($0)) }
        let cases = [
            (
                name: "small", old: AdversarialPatchTests.old, patch: AdversarialPatchTests.patch,
                new: AdversarialPatchTests.new, threads: DeltaDecoder.Threads.callerOnly
            ),
            (name: "large", old: large.old, patch: large.patch, new: large.new, threads: .pipelined),
            (name: "busy", old: busy.old, patch: busy.patch, new: busy.new, threads: .pipelined),
        ]
        for item in cases {
            let bigImages = UInt64(item.old.count + item.new.count) > Delta.oneThreadBytes
            let bigPatch = UInt64(item.patch.count) > Delta.oneThreadPatchBytes
            #expect(!(bigImages && bigPatch), "\(item.name): only one threshold should decide")
            let header = try DeltaPatchHeader.decode(item.patch)
            #expect(
                Delta.threads(
                    oldSize: UInt64(item.old.count), newSize: header.newSize, patchSize: UInt64(item.patch.count))
                    == item.threads, "\(item.name) is on the wrong side of the thresholds")
            for (variant, patch, old) in try Self.variants(item.patch, old: item.old) {
                let name = item.name + "-" + variant
                let sequential = AdversarialPatchTests.outcome(patch, old: old, threads: .sequential)
                #expect((sequential.error == nil) == (variant == "valid"), "\(name): \(sequential.error ?? "")")
                let applied = try Self.apply(patch, old: old, new: item.new, in: directory, name)
                #expect(applied == sequential.error, "\(name)")
                // Every mode, fed the whole patch or handed its header first.
                for threads in DeltaDecoder.Threads.allCases {
                    for handsHeader in [false, true] {
                        let other = AdversarialPatchTests.outcome(
                            patch, old: old, threads: threads, handsHeader: handsHeader)
                        let same = other == sequential
                        #expect(same, "\(name) \(threads) handsHeader \(handsHeader): \(other.error ?? "applied")")
                    }
                }
            }
        }
    }
}
