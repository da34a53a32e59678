import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Body coding bit 0x20: inserted AArch64 code kept word-aligned in the inserts stream with zero
/// padding (`InsertsAlignment`). The padding must follow the rule exactly (from the stream
/// position, primed bytes included), pay where code lands misaligned in the stream, and every
/// hostile padding or flag must be refused, never misread.
@Suite struct InsertsAlignmentTests {
    @Test func `the padding puts each insert at its offset modulo 4`() {
        for offset in Int64(0)..<9 {
            for position in Int64(0)..<9 {
                let padding = InsertsAlignment.padding(offset: offset, streamPosition: position)
                #expect((0...3).contains(padding))
                #expect((position + Int64(padding)) % 4 == offset % 4, "offset \(offset), position \(position)")
            }
        }
        // Far apart either way, and at the ends of the range.
        #expect(InsertsAlignment.padding(offset: Int64.max, streamPosition: 0) == 3)
        #expect(InsertsAlignment.padding(offset: 0, streamPosition: 1 << 40 | 1) == 3)
        #expect(InsertsAlignment.padding(offset: 1 << 40 | 2, streamPosition: 1 << 41) == 2)
    }

    /// An AArch64 ELF pair whose new image inserts five bytes, copies old bytes, then inserts
    /// `words` words of code at a word-aligned offset: the code reaches the inserts stream one
    /// byte past a word boundary.
    static func pair(seed: UInt64, words: Int = 60_000) -> (old: [UInt8], new: [UInt8]) {
        let old = InsertsFilterTests.aarch64(RoundTripTests.random(64 << 10, seed: seed))
        let new = InsertsFilterTests.aarch64(
            Array(old.prefix(32 << 10)) + [1, 2, 3, 4, 5] + old[(32 << 10)..<(48 << 10) - 1]
                + InsertsFilterTests.code(words, seed: seed + 1))
        return (old, new)
    }

    @Test func `misaligned AArch64 inserts are padded, round trip through every decoder and are smaller`() throws {
        let (old, new) = Self.pair(seed: 91)
        let codeOffset = (32 << 10) + 5 + (16 << 10) - 1
        #expect(codeOffset % 4 == 0)
        for transform in [true, false] {
            var options = DeltaOptions()
            options.referenceTransform = transform
            var off = options
            off.alignInserts = false
            let aligned = try RoundTripTests.roundTrip(old, new, options: options)
            let plain = try RoundTripTests.roundTrip(old, new, options: off)
            let header = try DeltaPatchHeader.decode(aligned)
            #expect(aligned[11] == 0x23)
            #expect(header.insertsAligned)
            #expect(plain[11] == 3)
            #expect(aligned.count < plain.count, "aligned \(aligned.count) bytes, not \(plain.count)")
            #expect(AdversarialPatchTests.code(aligned, old: old) == nil)
        }
        // Primed: the padding counts the primed bytes (body coding 0x33).
        var primed = DeltaOptions()
        primed.insertsPriming = .always
        let patch = try RoundTripTests.roundTrip(old, new, options: primed)
        #expect(patch[11] == 0x33)
        #expect(AdversarialPatchTests.code(patch, old: old) == nil)
    }

    @Test func `x86-64 code and images that are not ELF are never aligned`() throws {
        let (old, new) = InsertsOperandsTests.pair(seed: 92, code: 60_000)
        #expect(try Delta.diff(old: old, new: new)[11] & 0x20 == 0)
        let text = RoundTripTests.texty(64 << 10, seed: 93)
        #expect(try Delta.diff(old: text, new: Array(text.prefix(30_000)) + [1] + text)[11] & 0x20 == 0)
    }

    /// A patch of one frame around hand-written streams with body coding 0x22 (aligned, not
    /// filtered) for `AdversarialPatchTests.old`, rebuilding `new`.
    static func crafted(control: [UInt8], inserts: [UInt8], new: [UInt8]) throws -> [UInt8] {
        let old = AdversarialPatchTests.old
        var header = DeltaPatchHeader(
            hashAlgorithm: .sha256, oldSize: UInt64(old.count), newSize: UInt64(new.count),
            bodySize: UInt64(control.count + inserts.count), dictionarySizes: AdversarialPatchTests.dictionaries,
            oldHash: try Hasher.hash(.sha256, old), newHash: try Hasher.hash(.sha256, new))
        header.bodyCoding = .plainAligned
        let streams = AdversarialPatchTests.Streams(control: control, inserts: inserts)
        return try header.encoded() + AdversarialPatchTests.frame(streams)
    }

    @Test func `hostile padding and flags are refused by every decoder`() throws {
        // COPY 101 old bytes; INSERT 3 at offset 101 (one zero of padding: 101 ≡ 1 modulo 4, and
        // the stream is at 0); COPY 2; INSERT 2 at offset 106 (two zeros: the stream is at 4).
        let v = AdversarialPatchTests.varint
        let control =
            [DeltaOperation.copyCode] + v(0) + v(101) + [DeltaOperation.insertCode] + v(3)
            + [DeltaOperation.copyCode] + v(0) + v(2) + [DeltaOperation.insertCode] + v(2)
        let old = AdversarialPatchTests.old
        let new = Array(old.prefix(101)) + [7, 8, 9] + old[101..<103] + [10, 11]
        let honest = try Self.crafted(control: control, inserts: [0, 7, 8, 9, 0, 0, 10, 11], new: new)
        #expect(AdversarialPatchTests.code(honest) == nil)
        for (inserts, message) in [
            ([0, 7, 8, 9, 0, 1, 10, 11] as [UInt8], "holds a byte other than 0"),
            ([7, 8, 9, 0, 0, 10, 11] as [UInt8], "holds a byte other than 0"),
            ([0, 7, 8, 9, 0] as [UInt8], "runs past its frame's inserted bytes"),
            ([0, 7, 8, 9, 0, 0, 10] as [UInt8], "runs past its frame's inserted bytes"),
        ] {
            let patch = try Self.crafted(control: control, inserts: inserts, new: new)
            let outcome = AdversarialPatchTests.outcome(patch, old: old, threads: .sequential)
            #expect(outcome.code == "delta.malformed", "\(inserts): \(outcome.error ?? "applied")")
            #expect(outcome.error?.contains(message) == true, "\(outcome.error ?? "applied")")
            #expect(AdversarialPatchTests.code(patch) == "delta.malformed")
        }
        // The flag with x86-64 codings is not a format: refused before any output.
        for coding: UInt8 in [0x24, 0x25, 0x34, 0x35, 0x40, 0x62] {
            let claimed = try AdversarialPatchTests.resealed(honest) { $0[11] = coding }
            #expect(AdversarialPatchTests.code(claimed) == "delta.header-invalid", "coding \(coding)")
        }
        // The flag removed from an aligned patch, or added to one without padding: a malformed
        // stream or a wrong image, never a crash.
        let (programOld, programNew) = Self.pair(seed: 94, words: 20_000)
        let aligned = try Delta.diff(old: programOld, new: programNew)
        var options = DeltaOptions()
        options.alignInserts = false
        let unaligned = try Delta.diff(old: programOld, new: programNew, options: options)
        #expect(aligned[11] == 0x23 && unaligned[11] == 3)
        for (patch, claimed) in [(aligned, UInt8(3)), (aligned, 0x22), (unaligned, 0x23)] {
            let edited = try AdversarialPatchTests.resealed(patch) { $0[11] = claimed }
            #expect(AdversarialPatchTests.code(edited, old: programOld) != nil, "coding \(claimed) claimed")
        }
    }
}
