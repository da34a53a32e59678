import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Body codings 3 and 4: inserted AArch64 BL and ADRP words, x86-64 branches and RIP-relative
/// operands made absolute by their new-image offset (`InsertsFilter`). The filter must be a
/// bijection on any bytes at any offset, pay on new code, and a hostile coding byte must only
/// ever make a wrong image, which the new hash refuses.
@Suite struct InsertsFilterTests {
    /// Words: BLs and ADRPs to a few targets from many places, between filler words.
    static func code(_ words: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var out: [UInt8] = []
        for k in 0..<words {
            let roll = generator.next() % 4
            let target = UInt32(generator.next() % 16) * 4096 + 0x40_0000
            let pc = UInt32(k * 4)
            let word: UInt32
            switch roll {
            case 0: word = 0x9400_0000 | ((target &- pc) >> 2) & 0x03FF_FFFF
            case 1:
                let pages = (target >> 12 &- pc >> 12) & 0x1F_FFFF
                word = 0x9000_0000 | (pages & 3) << 29 | (pages >> 2) << 5 | UInt32(generator.next() % 31)
            default: word = [0xD503_201F, 0xF940_0000, 0x9100_0000 | UInt32(k % 64)][Int(generator.next() % 3)]
            }
            withUnsafeBytes(of: word.littleEndian) { out += $0 }
        }
        return out
    }

    /// x86-64 code: calls, jumps, conditional jumps and RIP-relative loads to a few targets
    /// from many places, between filler instructions.
    static func x86Code(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var out: [UInt8] = []
        while out.count < count {
            let target = Int32(generator.next() % 16) * 4096 + 0x40_0000
            let roll = generator.next() % 5
            let prefix: [UInt8] =
                switch roll {
                case 0: [0xE8]
                case 1: [0x0F, 0x84]
                case 2: [0x48, 0x8B, 0x05]
                case 3: [0x48, 0x8D, 0x0D]
                default: [0x48, 0x89, 0xC7, 0x90]
                }
            out += prefix
            if roll < 4 {
                let relative = target &- Int32(out.count + 4)
                withUnsafeBytes(of: relative.littleEndian) { out += $0 }
            }
        }
        return Array(out.prefix(count))
    }

    /// `bytes` with an AArch64 (183) or x86-64 (62) ELF file header (the encoder's test for
    /// the filter).
    static func elf(_ bytes: [UInt8], machine: UInt8 = 183) -> [UInt8] {
        var out = bytes
        out.replaceSubrange(
            0..<20, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, machine, 0])
        return out
    }

    static func aarch64(_ bytes: [UInt8]) -> [UInt8] { elf(bytes) }

    static func filter(
        _ bytes: inout [UInt8], _ architecture: ReferenceArchitecture, count: Int? = nil, offset: Int64, encode: Bool
    ) {
        bytes.withUnsafeMutableBufferPointer {
            InsertsFilter.apply(
                architecture, $0.baseAddress!, count: count ?? $0.count, offset: offset, encode: encode)
        }
    }

    @Test(arguments: [ReferenceArchitecture.aarch64, .x86_64])
    func `the filter undoes itself on any bytes at any offset`(_ architecture: ReferenceArchitecture) {
        for seed in UInt64(1)...6 {
            let code = architecture == .aarch64 ? Self.code(600, seed: seed) : Self.x86Code(2400, seed: seed)
            let original = RoundTripTests.random(4099, seed: seed) + code + [0xE8, 0, 0, 0xFF, 0xFF, 0x0F, 0x85]
            for offset in [Int64(0), 1, 2, 3, 4096, 0x7FFF_FFFF_FFFF_0001, Int64.max - 5000] {
                var bytes = original
                Self.filter(&bytes, architecture, offset: offset, encode: true)
                #expect(bytes != original, "seed \(seed) offset \(offset): nothing converted")
                Self.filter(&bytes, architecture, offset: offset, encode: false)
                #expect(bytes == original, "seed \(seed) offset \(offset)")
            }
        }
    }

    @Test func `x86-64 calls to one target read the same once filtered, and only whole operands convert`() {
        var bytes = [UInt8](repeating: 0x90, count: 0x3000)
        func call(_ at: Int, _ target: Int32) {
            bytes[at] = 0xE8
            withUnsafeBytes(of: (target - Int32(at + 5)).littleEndian) {
                bytes.replaceSubrange(at + 1..<at + 5, with: $0)
            }
        }
        call(0x10, 0x2800)
        call(0x1800, 0x2800)
        bytes[0x2FFC] = 0xE8  // its operand would end past the op: left as it is
        bytes[0x2FFD..<0x3000] = [0, 0, 0]
        let before = bytes
        Self.filter(&bytes, .x86_64, offset: 0x40_0000, encode: true)
        #expect(bytes[0x11..<0x15] == bytes[0x1801..<0x1805])
        #expect(bytes[0x2FFC...] == before[0x2FFC...])
        // An operand whose last byte is neither 00 nor FF is not a near target: left as it is.
        var far: [UInt8] = [0xE8, 1, 2, 3, 0x40, 0x90]
        Self.filter(&far, .x86_64, offset: 0, encode: true)
        #expect(far == [0xE8, 1, 2, 3, 0x40, 0x90])
    }

    @Test func `calls and page references to one target read the same once filtered`() {
        // BL at 0x100 and 0x2000 to 0x8000; ADRP at 0x1000 and 0x5000 to page 0x9000.
        var bytes = [UInt8](repeating: 0, count: 0x6000)
        func put(_ at: Int, _ word: UInt32) {
            withUnsafeBytes(of: word.littleEndian) { bytes.replaceSubrange(at..<at + 4, with: $0) }
        }
        put(0x100, 0x9400_0000 | (0x8000 - 0x100) >> 2)
        put(0x2000, 0x9400_0000 | (0x8000 - 0x2000) >> 2)
        put(0x1000, 0x9000_0000 | 0 << 29 | (8 >> 2) << 5 | 3)  // 8 pages ahead
        put(0x5000, 0x9000_0000 | 0 << 29 | (4 >> 2) << 5 | 3)  // 4 pages ahead
        Self.filter(&bytes, .aarch64, offset: 0, encode: true)
        #expect(bytes[0x100..<0x104] == bytes[0x2000..<0x2004])
        #expect(bytes[0x1000..<0x1004] == bytes[0x5000..<0x5004])
        // Only words whose 4 bytes lie in the op: the last 3 bytes never change.
        var tail = [UInt8](repeating: 0, count: 7)
        tail[3] = 0x94
        let before = tail
        Self.filter(&tail, .aarch64, offset: 1, encode: true)
        #expect(tail == before)
    }

    @Test(arguments: [ReferenceArchitecture.aarch64, .x86_64])
    func `inserted code gets body coding 3 or 4, round trips and is smaller`(_ architecture: ReferenceArchitecture)
        throws
    {
        let machine: UInt8 = architecture == .aarch64 ? 183 : 62
        let code = architecture == .aarch64 ? Self.code(60_000, seed: 12) : Self.x86Code(240_000, seed: 12)
        for transform in [true, false] {
            var on = DeltaOptions()
            on.referenceTransform = transform
            on.splitOperands = false  // coding 5 has its own suite (InsertsOperandsTests)
            on.alignInserts = false  // and the 0x20 bit (InsertsAlignmentTests)
            var off = on
            off.filterInserts = false
            let old = Self.elf(RoundTripTests.random(64 << 10, seed: 11), machine: machine)
            // AArch64 code stays word-aligned in the new image; x86-64 code lands anywhere.
            let gap: [UInt8] = architecture == .aarch64 ? [1, 2, 3, 4] : [1, 2, 3]
            let new = Self.elf(Array(old.prefix(32 << 10)) + gap + code + old.suffix(16 << 10), machine: machine)
            let filtered = try RoundTripTests.roundTrip(old, new, options: on)
            let plain = try RoundTripTests.roundTrip(old, new, options: off)
            #expect(filtered[11] == (architecture == .aarch64 ? 3 : 4))
            #expect(try DeltaPatchHeader.decode(filtered).insertsFilter == architecture)
            #expect(plain[11] == 2)
            #expect(filtered.count * 10 < plain.count * 9, "filtered \(filtered.count) bytes, plain \(plain.count)")
        }
    }

    @Test func `images that are not ELF, or where the filter does not pay, keep body coding 2`() throws {
        let old = RoundTripTests.random(64 << 10, seed: 13)
        let new = Array(old.prefix(30_000)) + Self.code(5000, seed: 14)
        #expect(try RoundTripTests.roundTrip(old, new)[11] == 2)
        // Text in an AArch64 or x86-64 ELF: the trial finds nothing to gain (with the transform's
        // matching, on the inserted bytes; without, on the new image's start).
        let texty = RoundTripTests.texty(64 << 10, seed: 15)
        for machine: UInt8 in [183, 62] {
            for transform in [true, false] {
                var options = DeltaOptions()
                options.referenceTransform = transform
                let text = Self.elf(
                    Array(texty.prefix(30_000)) + RoundTripTests.texty(20_000, seed: 16), machine: machine)
                #expect(
                    try RoundTripTests.roundTrip(Self.elf(texty, machine: machine), text, options: options)[11] == 2)
            }
        }
    }

    @Test func `a hostile body coding makes a wrong image, refused by its hash`() throws {
        // The adversarial suite's patch inserts 3000 random bytes (BL and ADRP words among them),
        // on an image that is not ELF: claiming coding 3 converts them back wrongly.
        let patch = AdversarialPatchTests.patch
        #expect(patch[11] == 2)
        let claimed = try AdversarialPatchTests.resealed(patch) { $0[11] = 3 }
        #expect(AdversarialPatchTests.code(claimed) == "delta.result-mismatch")
        for coding: UInt8 in [0, 1, 6, 0xFF] {
            let unknown = try AdversarialPatchTests.resealed(patch) { $0[11] = coding }
            #expect(AdversarialPatchTests.code(unknown) == "delta.header-invalid", "coding \(coding)")
        }
        // Honest coding-3 and coding-4 patches with another coding claimed are refused the same way.
        for (machine, coding) in [(UInt8(183), UInt8(3)), (62, 4)] {
            let old = Self.elf(RoundTripTests.random(64 << 10, seed: 15), machine: machine)
            let code = coding == 3 ? Self.code(3000, seed: 16) : Self.x86Code(12_000, seed: 16)
            let new = Self.elf(Array(old.prefix(20_000)) + code, machine: machine)
            var options = DeltaOptions()
            options.splitOperands = false  // coding 5 claimed: InsertsOperandsTests
            options.alignInserts = false  // the 0x20 bit claimed: InsertsAlignmentTests
            let honest = try Delta.diff(old: old, new: new, options: options)
            #expect(honest[11] == coding)
            #expect(try Delta.apply(old: old, patch: honest) == new)
            for other: UInt8 in [2, 3, 4] where other != coding {
                let claimed = try AdversarialPatchTests.resealed(honest) { $0[11] = other }
                #expect(throws: OTAError.self) { try Delta.apply(old: old, patch: claimed) }
                #expect(AdversarialPatchTests.code(claimed, old: old) == "delta.result-mismatch", "coding \(other)")
            }
        }
    }

    /// The x86-64 rule one position at a time, as the filter was before its 16-position windows:
    /// the windowed filter must convert exactly these operands, encoding and decoding.
    static func x86OneByOne(_ bytes: inout [UInt8], offset: Int64, encode: Bool) {
        let rip: Set<UInt8> = [
            0x01, 0x03, 0x09, 0x0B, 0x21, 0x23, 0x29, 0x2B, 0x31, 0x33, 0x39, 0x3B, 0x63, 0x85, 0x87, 0x88, 0x89, 0x8A,
            0x8B, 0x8D,
        ]
        let count = bytes.count
        var p = 0
        var floor = 0
        while p + 5 <= count {
            let c = bytes[p]
            var o = -1
            if c == 0xE8 || c == 0xE9 {
                o = p + 1
            } else if c == 0x0F, bytes[p + 1] & 0xF0 == 0x80 {
                o = p + 2
            } else if rip.contains(c), bytes[p + 1] & 0xC7 == 0x05 {
                o = p + 2
            }
            guard o >= floor, o + 4 <= count else {
                p += 1
                continue
            }
            guard bytes[o + 3] == 0 || bytes[o + 3] == 0xFF else {
                floor = o + 4
                p += 1
                continue
            }
            let value =
                UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            let position = UInt32(truncatingIfNeeded: offset &+ Int64(o) &+ 4)
            var converted = (encode ? value &+ position : value &- position) & 0x01FF_FFFF
            if converted & 0x0100_0000 != 0 { converted |= 0xFE00_0000 }
            for k in 0..<4 { bytes[o + k] = UInt8(truncatingIfNeeded: converted >> (8 * k)) }
            p = o + 4
        }
    }

    /// Bytes dense in the filter's forms and near-forms: opcodes of every kind the rule or
    /// `x86Starts16` tests, ModRM bytes with and without RIP addressing, operand last bytes of
    /// 00, FF and others, at any alignment and at the ends of the op.
    static func x86Dense(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        let alphabet: [UInt8] = [
            0xE8, 0xE9, 0xEA, 0x0F, 0x84, 0x8F, 0x80, 0x05, 0x0D, 0x45, 0xC5, 0x8B, 0x8D, 0x89, 0x63, 0x01, 0x3B, 0x85,
            0xFF, 0x00, 0x48, 0x90, 0x11, 0xFE,
        ]
        return (0..<count).map { _ in
            generator.next() % 4 == 0
                ? UInt8(truncatingIfNeeded: generator.next()) : alphabet[Int(generator.next() % 24)]
        }
    }

    @Test func `x86-64: the 16-position windows convert exactly what the rule one position at a time converts`() {
        var compared = 0
        for seed in UInt64(1)...400 {
            var generator = SeededGenerator(seed: seed &* 7919)
            let count = Int(generator.next() % 300)
            let offset = Int64(generator.next() % 100_000)
            var bytes = seed % 2 == 0 ? Self.x86Dense(count, seed: seed) : Self.x86Code(count, seed: seed)
            for encode in [true, false] {
                var expected = bytes
                Self.x86OneByOne(&expected, offset: offset, encode: encode)
                var windowed = bytes
                Self.filter(&windowed, .x86_64, offset: offset, encode: encode)
                #expect(windowed == expected, "seed \(seed), \(count) bytes at \(offset), encode \(encode)")
                if windowed != bytes { compared += 1 }
                bytes = windowed
            }
        }
        // Most cases convert something, so the comparison is not of unchanged bytes.
        #expect(compared > 400)
    }

    /// The trial that decides whether the filter pays compresses the first `sampleBytes`
    /// inserted bytes, not every byte of the inserts it starts: one insert of megabytes (an
    /// update that is mostly new code) is cut at the sample's end, the filtered sample the same
    /// bytes filtered.
    @Test func `the filter's trial takes the first inserted MiB however long the inserts`() throws {
        let new = Self.code(900_000, seed: 11)
        let ops: [DeltaOperation] = [
            .copy(oldStart: 0, length: 4096), .insert(length: 3_000_000), .add(oldStart: 0, length: 100),
            .insert(length: new.count - 3_004_196),
        ]
        let (plain, filtered, split, pieces) = new.withUnsafeBufferPointer {
            InsertsFilter.trialSample(.aarch64, ops: ops, new: $0)
        }
        #expect(plain.count == InsertsFilter.sampleBytes)
        #expect(filtered.count == plain.count)
        // Cut as the writer cuts ops: 256 KiB pieces from the insert's start.
        #expect(pieces.map(\.length) == Array(repeating: PatchFrame.maxOpLength, count: 4))
        #expect(pieces.map(\.offset) == (0..<4).map { Int64(4096 + $0 * PatchFrame.maxOpLength) })
        #expect(split == nil)
        // x86-64 with the operands split out: the same bytes, the operands laid out as one frame.
        let x86 = new.withUnsafeBufferPointer {
            InsertsFilter.trialSample(.x86_64, ops: ops, new: $0, splitOperands: true)
        }
        let operands = x86.split.map { $0.operands.count } ?? 0
        #expect(operands > 1000)
        #expect((x86.split?.main.count ?? .max) < plain.count)
        // Compared as Booleans: a failed comparison of megabyte arrays would be diffed element by
        // element in the report.
        let firstBytes = plain.elementsEqual(new[4096..<(4096 + plain.count)])
        let changed = filtered != plain
        #expect(firstBytes && changed)
        // Two short inserts: both, whole.
        let short: [DeltaOperation] = [.insert(length: 1000), .copy(oldStart: 0, length: 50), .insert(length: 2000)]
        let both = new.withUnsafeBufferPointer { InsertsFilter.trialSample(.aarch64, ops: short, new: $0).plain }
        let whole = both.elementsEqual(new[0..<1000] + new[1050..<3050])
        #expect(whole)
    }

    /// The word-aligned trial sample is padded as the patch's inserts stream will be after the
    /// primed old bytes (the decoder's rule, `InsertsAlignment`), and each piece lies at its
    /// new-image offset modulo 4 in the trial's own stream.
    @Test func `the aligned trial sample pads from the primed stream position`() {
        var generator = SeededGenerator(seed: 5)
        for streamStart in Int64(0)..<9 {
            var pieces: [(offset: Int64, length: Int)] = []
            var offset: Int64 = 0
            for _ in 0..<40 {
                offset += Int64.random(in: 1...300, using: &generator)
                let length = Int.random(in: 1...50, using: &generator)
                pieces.append((offset, length))
                offset += Int64(length)
            }
            let total = pieces.reduce(0) { $0 + $1.length }
            let bytes = (0..<total).map { UInt8(truncatingIfNeeded: $0 % 255 + 1) }
            let out = InsertsFilter.padded(bytes, pieces: pieces, streamStart: streamStart)
            var index = Int(streamStart % 4)
            var streamPosition = streamStart
            var taken = 0
            var faithful = out.prefix(index).allSatisfy { $0 == 0 }
            for piece in pieces {
                let padding = InsertsAlignment.padding(offset: piece.offset, streamPosition: streamPosition)
                faithful = faithful && out[index..<(index + padding)].allSatisfy { $0 == 0 }
                index += padding
                faithful =
                    faithful && out[index..<(index + piece.length)].elementsEqual(bytes[taken..<(taken + piece.length)])
                faithful = faithful && Int64(index) % 4 == piece.offset % 4
                index += piece.length
                taken += piece.length
                streamPosition += Int64(padding + piece.length)
            }
            #expect(faithful && index == out.count, "stream start \(streamStart)")
        }
    }

    /// Every literal-coding choice takes the smallest, the earliest on a tie.
    @Test func `the literal coding choice keeps the earliest of equal sizes`() {
        #expect(InsertsCoding.smallest([(.lowContext, 10), (.xzDefault, 10)]) == .lowContext)
        #expect(InsertsCoding.smallest([(.lowContext, 10), (.xzDefault, 9)]) == .xzDefault)
        #expect(InsertsCoding.smallest([(.lowContext, 10), (.xzDefault, 9), (.wordAligned, 9)]) == .xzDefault)
        #expect(InsertsCoding.smallest([(.lowContext, 10), (.xzDefault, 9), (.wordAligned, 8)]) == .wordAligned)
    }
}
