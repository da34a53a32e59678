internal import OTABase

/// The filter of inserted bytes (body coding 3 and 4, docs/FORMAT.md "Inserted code"): in each
/// INSERT op, relative branch and address fields are made absolute by their new-image offset
/// before compression, and relative again after decompression. Calls and references to one
/// target from many places then read as the same bytes, which LZMA finds as matches: the
/// inserts of an update many releases apart are mostly new code whose relative fields the
/// transform never predicts (it rewrites only bytes an ADD takes from the old image). The idea
/// of xz's BCJ filters, but by new-image offset, not stream position, so it survives the cuts
/// between ops. Every conversion is a bijection on its field, and every decision to convert
/// reads only bytes no conversion changes (or, x86-64, a property conversion keeps), so any
/// bytes, code or not, round-trip.
///
/// - AArch64 (coding 3): every 4-byte word that starts at a new-image offset that is a multiple
///   of 4 and ends inside the op: BL imm26 + offset/4 modulo 2^26; ADRP imm21 + offset/4096
///   modulo 2^21.
/// - x86-64 (coding 4): greedy from the op's first byte: an operand o after `E8`/`E9` (at p+1),
///   `0F 80`...`0F 8F` (at p+2) or a one-byte opcode of the transform's RIP-relative set with
///   `(modrm & 0xC7) == 5` (at p+2), whose 4 bytes end inside the op and whose last byte is
///   `00` or `FF`, becomes (value + new offset of o + 4) modulo 2^25, sign-extended from bit 24
///   (so its last byte is again `00` or `FF`); the scan resumes at o + 4, else at p + 1. An
///   operand refused for its last byte bars every later operand that starts before its end.
enum InsertsFilter {
    /// Converts `count` bytes at `bytes`, which lie at new-image `offset`, to absolute
    /// (`encode`) or back to relative (`!encode`).
    static func apply(
        _ architecture: ReferenceArchitecture, _ bytes: UnsafeMutablePointer<UInt8>, count: Int, offset: Int64,
        encode: Bool
    ) {
        switch architecture {
        case .aarch64: aarch64(bytes, count: count, offset: offset, encode: encode)
        case .x86_64: x86(bytes, count: count, offset: offset, encode: encode)
        }
    }

    static func aarch64(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, offset: Int64, encode: Bool) {
        guard count >= 4 else { return }
        let raw = UnsafeMutableRawPointer(bytes)
        var i = Int((4 - offset & 3) & 3)
        while i + 4 <= count {
            let word = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            let position = UInt64(bitPattern: offset &+ Int64(i))
            if word >> 26 == 0x25 {
                // BL: imm26 in words.
                let shift = UInt32(truncatingIfNeeded: position >> 2)
                let field = encode ? word &+ shift : word &- shift
                let converted = 0x9400_0000 | field & 0x03FF_FFFF
                raw.storeBytes(of: converted.littleEndian, toByteOffset: i, as: UInt32.self)
            } else if word & 0x9F00_0000 == 0x9000_0000 {
                // ADRP: imm21 = immhi (bits 5-23) : immlo (bits 29-30), in 4 KiB pages.
                let field = (word >> 29) & 3 | (word >> 3) & 0x001F_FFFC
                let shift = UInt32(truncatingIfNeeded: position >> 12)
                let page = (encode ? field &+ shift : field &- shift) & 0x001F_FFFF
                let converted = word & 0x9F00_001F | (page & 3) << 29 | (page & 0x001F_FFFC) << 3
                raw.storeBytes(of: converted.littleEndian, toByteOffset: i, as: UInt32.self)
            }
            i += 4
        }
    }

    /// One-byte opcodes whose ModRM may name a RIP-relative operand (`ReferenceScanner`'s set).
    static let ripOpcodes: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for op: UInt8 in [
            0x01, 0x03, 0x09, 0x0B, 0x21, 0x23, 0x29, 0x2B, 0x31, 0x33, 0x39, 0x3B, 0x63, 0x85, 0x87, 0x88, 0x89, 0x8A,
            0x8B, 0x8D,
        ] { table[Int(op)] = true }
        return table
    }()

    static func x86(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, offset: Int64, encode: Bool) {
        guard count >= 5 else { return }
        let raw = UnsafeMutableRawPointer(bytes)
        ripOpcodes.withUnsafeBufferPointer { rip in
            // A refused operand's fourth byte decided the refusal: no later operand may start
            // before its end, or converting it could change that byte under the decoder.
            var floor = 0
            /// The greedy rule at `p` (`p + 5 <= count`): converts the operand of the form that
            /// starts there, if any, and returns the next position to look at.
            func step(_ p: Int) -> Int {
                let c = bytes[p]
                var o = -1
                if c == 0xE8 || c == 0xE9 {
                    o = p + 1
                } else if c == 0x0F, bytes[p + 1] & 0xF0 == 0x80 {
                    o = p + 2
                } else if rip[Int(c)], bytes[p + 1] & 0xC7 == 0x05 {
                    o = p + 2
                }
                guard o >= floor, o + 4 <= count else { return p + 1 }
                guard bytes[o + 3] == 0 || bytes[o + 3] == 0xFF else {
                    floor = o + 4
                    return p + 1
                }
                let value = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                let position = UInt32(truncatingIfNeeded: offset &+ Int64(o) &+ 4)
                var converted = (encode ? value &+ position : value &- position) & 0x01FF_FFFF
                if converted & 0x0100_0000 != 0 { converted |= 0xFE00_0000 }
                raw.storeBytes(of: converted.littleEndian, toByteOffset: o, as: UInt32.self)
                return o + 4
            }
            var p = 0
            // 16 positions at a time, the rule run only where `ReferenceScanner.x86Starts16`
            // marks one (a superset of this filter's forms: at any other position the rule only
            // steps on). A window reads 18 bytes from `base`, all at or after `p`, so none was
            // converted yet; a conversion inside it changes only bytes before the new `p`, which
            // the window's later marks no longer reach.
            var base = 0
            while base + 18 <= count {
                var marks = ReferenceScanner.x86Starts16(UnsafePointer(bytes + base))
                while marks != 0 {
                    let q = base + marks.trailingZeroBitCount
                    marks &= marks - 1
                    if q + 5 > count { break }
                    if q >= p { p = step(q) }
                }
                base = max(p, base + 16)
            }
            p = max(p, base)
            while p + 5 <= count { p = step(p) }
        }
    }

    /// Bytes of the first inserts the trial compresses at most.
    static let sampleBytes = 1 << 20

    /// The trial's gain below which the filter is not used: on libpython arm64 (tuning corpus) the
    /// trial gained 0.18% and the patch came out 8 bytes larger; the pairs where it pays gain
    /// 1.3% (librsvg amd64) to 10% in the trial.
    static let minimumGainPercent = 1

    /// How a patch's inserted bytes are coded, as the trial found best.
    enum Verdict: Equatable {
        /// As they are (body coding 2).
        case plain
        /// Filtered (3 or 4).
        case filtered
        /// x86-64 only: filtered, with the operands in a stream of their own (5).
        case operandsSplit
    }

    /// The trial's choice: the body coding, whether the inserts stream keeps the inserted bytes
    /// word-aligned (`InsertsAlignment`), and the inserts stream's literal coding.
    struct Choice: Equatable {
        var verdict: Verdict
        var coding = InsertsCoding.lowContext

        /// Aligned inserts are those that take the word-aligned coding.
        var aligned: Bool { coding == .wordAligned }

        /// The patch's body coding for this choice on `architecture`'s code.
        func bodyCoding(_ architecture: ReferenceArchitecture) -> DeltaPatchHeader.BodyCoding {
            switch (verdict, architecture) {
            case (.plain, _): aligned ? .plainAligned : .plain
            case (.filtered, .aarch64): aligned ? .filteredAArch64Aligned : .filteredAArch64
            case (.filtered, .x86_64): .filteredX86
            case (.operandsSplit, _): .operandsSplitX86
            }
        }
    }

    /// The coding of the inserted bytes of `ops` (in new order over `new`) as `architecture`,
    /// from their first `sampleBytes` compressed at the inserts coding trial's preset with a
    /// dictionary of at most `dictionaryLimit`, each compression on its own thread, in two steps:
    /// 1. Of plain, filtered (with `filter`) and, for x86-64 with `splitOperands`, filtered with
    ///    the operands split out, each with xz's default literal coding, the smallest wins, where
    ///    the other two must be at least `minimumGainPercent` below plain.
    /// 2. The chosen bytes with `InsertsCoding.lowContext` too and, for AArch64 with `align`,
    ///    word-aligned with `InsertsCoding.wordAligned` (padded as the stream will be after its
    ///    `primedBytes`): `InsertsCoding.smallest` of the two or three.
    /// Plain, `lowContext`, when nothing is inserted.
    static func trial(
        _ architecture: ReferenceArchitecture, ops: [DeltaOperation], new: UnsafeBufferPointer<UInt8>,
        filter: Bool = true, splitOperands: Bool = true, align: Bool = true, dictionaryLimit: UInt32 = 8 << 20,
        primedBytes: Int64 = 0
    ) throws(OTAError) -> Choice {
        let splits = filter && splitOperands && architecture == .x86_64
        let sample = trialSample(architecture, ops: ops, new: new, splitOperands: splits)
        guard !sample.plain.isEmpty else { return Choice(verdict: .plain) }
        let dictionary = InsertsCoding.dictionary(for: sample.plain.count, limit: dictionaryLimit)
        var trials: [(bytes: [UInt8], coding: InsertsCoding)] = [(sample.plain, .xzDefault)]
        func add(_ bytes: [UInt8], _ coding: InsertsCoding) -> Int {
            trials.append((bytes, coding))
            return trials.count - 1
        }
        let filtered = filter ? add(sample.filtered, .xzDefault) : nil
        let split = sample.split.map { (add($0.main, .xzDefault), add($0.operands, InsertsCoding.operands)) }
        let sizes = try InsertsCoding.trialSizes(trials, dictionarySize: dictionary)
        // Step 1: each coding must gain `minimumGainPercent` on the plain bytes; the smallest wins.
        let bar = sizes[0] * (100 - minimumGainPercent)
        var verdict = Verdict.plain
        var best = sizes[0]
        if let filtered, sizes[filtered] * 100 < bar {
            verdict = .filtered
            best = sizes[filtered]
        }
        if let (main, operands) = split, (sizes[main] + sizes[operands]) * 100 < bar,
            sizes[main] + sizes[operands] < best
        {
            verdict = .operandsSplit
        }
        // Step 2: the literal coding of the bytes the inserts stream will hold.
        let stream: (bytes: [UInt8], defaultSize: Int) =
            switch verdict {
            case .plain: (sample.plain, sizes[0])
            case .filtered: (sample.filtered, sizes[filtered!])
            case .operandsSplit: (sample.split!.main, sizes[split!.0])
            }
        var codings: [(bytes: [UInt8], coding: InsertsCoding)] = [(stream.bytes, .lowContext)]
        if align && architecture == .aarch64 {
            codings.append((padded(stream.bytes, pieces: sample.pieces, streamStart: primedBytes), .wordAligned))
        }
        let codingSizes = try InsertsCoding.trialSizes(codings, dictionarySize: dictionary)
        var sized = [(InsertsCoding.lowContext, codingSizes[0]), (InsertsCoding.xzDefault, stream.defaultSize)]
        if codingSizes.count > 1 { sized.append((.wordAligned, codingSizes[1])) }
        return Choice(verdict: verdict, coding: InsertsCoding.smallest(sized))
    }

    /// The first `sampleBytes` inserted bytes of `ops`, as they are and filtered, and the pieces
    /// (new-image offset, length) they were cut in; when `splitOperands` (x86-64), also split:
    /// the other bytes, and the operands as one frame lays them out. Each op cut as the writer
    /// cuts it and converted on its own, the last piece cut at the sample's end. An update that
    /// is mostly new code has inserts of megabytes: the whole of one compressed twice made the
    /// trial 13% of a diff's CPU (bat arm64, Rust tuning corpus).
    static func trialSample(
        _ architecture: ReferenceArchitecture, ops: [DeltaOperation], new: UnsafeBufferPointer<UInt8>,
        splitOperands: Bool = false
    ) -> (
        plain: [UInt8], filtered: [UInt8], split: (main: [UInt8], operands: [UInt8])?,
        pieces: [(offset: Int64, length: Int)]
    ) {
        var plain: [UInt8] = []
        var filtered: [UInt8] = []
        var main: [UInt8] = []
        var operands = FrameOperands()
        var pieces: [(offset: Int64, length: Int)] = []
        var position = 0
        for op in ops {
            guard plain.count < sampleBytes else { break }
            if case .insert(let length) = op {
                var done = 0
                while done < length && plain.count < sampleBytes {
                    // As the writer cuts them: the filter runs on each cut op on its own.
                    let piece = min(length - done, PatchFrame.maxOpLength, sampleBytes - plain.count)
                    let start = position + done
                    plain += new[start..<(start + piece)]
                    var bytes = Array(new[start..<(start + piece)])
                    bytes.withUnsafeMutableBufferPointer {
                        apply(architecture, $0.baseAddress!, count: piece, offset: Int64(start), encode: true)
                    }
                    filtered += bytes
                    if splitOperands {
                        InsertsOperands.split(new.baseAddress! + start, count: piece, offset: Int64(start), main: &main)
                        {
                            operands.append($0, $1)
                        }
                    }
                    pieces.append((Int64(start), piece))
                    done += piece
                }
            }
            position += op.length
        }
        return (plain, filtered, splitOperands ? (main, operands.take()) : nil, pieces)
    }

    /// `bytes` (a trial sample cut in `pieces`) as the word-aligned inserts stream holds them
    /// from stream position `streamStart` (after the primed old bytes): each piece after the zero
    /// bytes `InsertsAlignment` puts before it. Led by `streamStart` mod 4 zero bytes, so that
    /// each byte's position in the trial's stream is its position in the patch's modulo 4, which
    /// is what the word-aligned coding's position bits see.
    static func padded(_ bytes: [UInt8], pieces: [(offset: Int64, length: Int)], streamStart: Int64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(streamStart % InsertsAlignment.word))
        out.reserveCapacity(out.count + bytes.count + 3 * pieces.count)
        var taken = 0
        for piece in pieces {
            out += repeatElement(
                0, count: InsertsAlignment.padding(offset: piece.offset, streamPosition: Int64(out.count)))
            out += bytes[taken..<(taken + piece.length)]
            taken += piece.length
        }
        return out
    }
}
