/// A reference operand in an image: the 4 bytes at `offset` (an x86-64 rel32 displacement, or
/// an AArch64 instruction word) encode a target address relative to the site.
struct ReferenceSite: Equatable {
    var offset: Int64
    var kind: ReferenceKind
    /// What the word alone does not say, read by the scanner from the old bytes around it (0 for
    /// the kinds that need nothing): a paired ADRP's low 12 target bits, from its first use; a
    /// low-12 use's signed page distance from its own page to its ADRP's target page.
    var context: UInt32 = 0
}

/// The reference forms the transform predicts, and their arithmetic.
enum ReferenceKind: UInt8 {
    /// x86-64 rel32 (call, jmp, jcc, RIP-relative disp32 as the instruction's last field):
    /// target = address of the next byte after the operand + displacement.
    case x86Rel32
    /// AArch64 B, BL: imm26 words.
    case a64Branch26
    /// AArch64 B.cond, CBZ, CBNZ, LDR (literal): imm19 words.
    case a64Imm19
    /// AArch64 TBZ, TBNZ: imm14 words.
    case a64Imm14
    /// AArch64 ADR: a byte offset of 21 bits.
    case a64Adr
    /// AArch64 ADRP: a 4 KiB page offset of 21 bits.
    case a64Adrp
    /// Format 4: an ADRP whose register a later ADD or LDR/STR uses (`ReferenceScanner`): the
    /// target is its page plus the use's low 12 bits (the site's context), so the page is
    /// predicted for the real target, not for the page's first byte.
    case a64AdrpPaired
    /// Format 4: ADD (immediate, 64-bit, unshifted) from a register an ADRP set: the target's
    /// low 12 bits; the context gives the pages from the site's page to the ADRP's target page.
    case a64AddLow12
    /// Format 4: LDR/STR (unsigned offset) from a register an ADRP set: the target's low 12 bits
    /// divided by the access size; context as for `a64AddLow12`.
    case a64LoadStoreLow12

    /// The target the operand `word` (little-endian) encodes at site `address`, with the site's
    /// `context` for the paired AArch64 kinds.
    @inline(__always)
    func target(word: UInt32, address: UInt64, context: UInt32 = 0) -> UInt64? {
        switch self {
        case .x86Rel32:
            return address &+ 4 &+ UInt64(bitPattern: Int64(Int32(bitPattern: word)))
        case .a64Branch26:
            return address &+ UInt64(bitPattern: Self.signExtend(word & 0x3FF_FFFF, bits: 26) << 2)
        case .a64Imm19:
            return address &+ UInt64(bitPattern: Self.signExtend((word >> 5) & 0x7FFFF, bits: 19) << 2)
        case .a64Imm14:
            return address &+ UInt64(bitPattern: Self.signExtend((word >> 5) & 0x3FFF, bits: 14) << 2)
        case .a64Adr:
            return address &+ UInt64(bitPattern: Self.signExtend(Self.adrImmediate(word), bits: 21))
        case .a64Adrp:
            return (address & ~0xFFF) &+ UInt64(bitPattern: Self.signExtend(Self.adrImmediate(word), bits: 21) << 12)
        case .a64AdrpPaired:
            return (address & ~0xFFF) &+ UInt64(bitPattern: Self.signExtend(Self.adrImmediate(word), bits: 21) << 12)
                &+ UInt64(context & 0xFFF)
        case .a64AddLow12:
            return Self.contextPage(address, context) &+ UInt64((word >> 10) & 0xFFF)
        case .a64LoadStoreLow12:
            return Self.contextPage(address, context) &+ UInt64((word >> 10) & 0xFFF) << Self.accessScale(word)
        }
    }

    /// `word` changed to reach `target` from site `address`, or nil when it cannot.
    @inline(__always)
    func rewrite(word: UInt32, address: UInt64, target: UInt64) -> UInt32? {
        switch self {
        case .x86Rel32:
            let value = Int64(bitPattern: target &- (address &+ 4))
            guard let narrow = Int32(exactly: value) else { return nil }
            return UInt32(bitPattern: narrow)
        case .a64Branch26:
            guard let field = Self.field(Int64(bitPattern: target &- address), scale: 2, bits: 26) else { return nil }
            return (word & ~0x3FF_FFFF) | field
        case .a64Imm19:
            guard let field = Self.field(Int64(bitPattern: target &- address), scale: 2, bits: 19) else { return nil }
            return (word & ~(0x7FFFF << 5)) | field << 5
        case .a64Imm14:
            guard let field = Self.field(Int64(bitPattern: target &- address), scale: 2, bits: 14) else { return nil }
            return (word & ~(0x3FFF << 5)) | field << 5
        case .a64Adr:
            guard let field = Self.field(Int64(bitPattern: target &- address), scale: 0, bits: 21) else { return nil }
            return Self.withAdrImmediate(word, field)
        case .a64Adrp, .a64AdrpPaired:
            let pages = Int64(bitPattern: (target & ~0xFFF) &- (address & ~0xFFF))
            guard let field = Self.field(pages, scale: 12, bits: 21) else { return nil }
            return Self.withAdrImmediate(word, field)
        case .a64AddLow12:
            return (word & ~(0xFFF << 10)) | UInt32(target & 0xFFF) << 10
        case .a64LoadStoreLow12:
            let low = UInt32(target & 0xFFF)
            let scale = Self.accessScale(word)
            guard low & ((1 << scale) - 1) == 0 else { return nil }
            return (word & ~(0xFFF << 10)) | (low >> scale) << 10
        }
    }

    /// `word` with its reference field cleared: what the matcher compares, so a shifted target
    /// does not break a match.
    @inline(__always)
    func masked(_ word: UInt32) -> UInt32 {
        switch self {
        case .x86Rel32: 0
        case .a64Branch26: word & ~0x3FF_FFFF
        case .a64Imm19: word & ~(0x7FFFF << 5)
        case .a64Imm14: word & ~(0x3FFF << 5)
        case .a64Adr, .a64Adrp, .a64AdrpPaired: word & ~(0x7FFFF << 5 | 3 << 29)
        case .a64AddLow12, .a64LoadStoreLow12: word & ~(0xFFF << 10)
        }
    }

    /// The page `context` pages from the page of `address` (a low-12 site's ADRP target page).
    @inline(__always)
    private static func contextPage(_ address: UInt64, _ context: UInt32) -> UInt64 {
        (address & ~0xFFF) &+ UInt64(bitPattern: Int64(Int32(bitPattern: context)) << 12)
    }

    /// log2 of an LDR/STR (unsigned offset)'s access size: the size field, 4 for a 128-bit
    /// SIMD&FP access (V set, opc bit 1 set).
    @inline(__always)
    static func accessScale(_ word: UInt32) -> UInt32 {
        word & (1 << 26) != 0 && word & (1 << 23) != 0 ? 4 : word >> 30
    }

    @inline(__always)
    private static func signExtend(_ value: UInt32, bits: Int) -> Int64 {
        let shift = 64 - bits
        return (Int64(value) << shift) >> shift
    }

    /// `value >> scale` as a `bits`-wide two's complement field, if exact and in range.
    @inline(__always)
    private static func field(_ value: Int64, scale: Int, bits: Int) -> UInt32? {
        guard value & ((1 << scale) - 1) == 0 else { return nil }
        let scaled = value >> scale
        let limit = Int64(1) << (bits - 1)
        guard scaled >= -limit, scaled < limit else { return nil }
        return UInt32(truncatingIfNeeded: scaled) & UInt32((1 << bits) - 1)
    }

    @inline(__always)
    private static func adrImmediate(_ word: UInt32) -> UInt32 { ((word >> 5) & 0x7FFFF) << 2 | (word >> 29) & 3 }

    @inline(__always)
    private static func withAdrImmediate(_ word: UInt32, _ field: UInt32) -> UInt32 {
        (word & ~(0x7FFFF << 5 | 3 << 29)) | (field >> 2) << 5 | (field & 3) << 29
    }
}

/// Takes reference sites as a scan finds them, in place of its output array: the decoder
/// predicts each site at once (`ReferenceTransform.Prediction`) instead of storing it and
/// reading it back. Offered every site but a plain ADRP (`a64Adrp`), whose kind and context a
/// later use may still change (format 4's pairing edits it in the output array); every other
/// site is final when found (no later word changes it). A site it does not take is appended to
/// the output as without it, so the output keeps the ADRPs' places for the pairing.
protocol SiteConsumer {
    /// Whether it took the site at file offset `offset`, of `kind`, whose word (little-endian, as
    /// in the image) is `word` and whose target (from its old address) is `target`.
    mutating func take(offset: Int64, kind: ReferenceKind, word: UInt32, target: UInt64) -> Bool
}

/// Takes no site: every site goes to the scan's output.
struct KeepAllSites: SiteConsumer {
    @inline(__always)
    func take(offset: Int64, kind: ReferenceKind, word: UInt32, target: UInt64) -> Bool { false }
}

/// Finds reference sites in the code regions of an image, one 64 KiB block at a time. Every
/// block is scanned on its own (a site must lie wholly inside its block and region), so the
/// encoder, which scans the whole image, and the decoder, which scans only the blocks its ADDP
/// ops read, find exactly the same sites.
///
/// x86-64 has no fixed instruction boundaries: the scan is greedy, as liblzma's BCJ filter and
/// Zucchini's rel32 finder are, and keeps a candidate only when its target lands inside the
/// image's address space (a random data byte pattern rarely does). AArch64 words are aligned.
///
/// With `pairs` (patch format 4) an AArch64 ADRP is followed for up to `pairWindow` words: each
/// ADD (immediate) or LDR/STR (unsigned offset) whose base is the ADRP's register becomes a
/// low-12 site, and the first of them makes the ADRP a paired site predicted for the full target.
/// A word whose bits 0-4 name the register ends the search (most instructions write that field).
struct ReferenceScanner {
    let regions: [ReferenceTransform.Region]
    /// Whether AArch64 ADRPs are paired with their low-12 uses (format 4; format 3 does not).
    let pairs: Bool
    /// Words after an ADRP in which its uses are looked for.
    static let pairWindow = 16
    /// Sorted, merged address ranges a target must fall in.
    private let spanStarts: [UInt64]
    private let spanEnds: [UInt64]
    /// Up to four spans (an ELF's PT_LOAD segments, with gaps between them, are usually four):
    /// their starts and widths, the lanes not used of width 0 (nothing in them). A target is
    /// tested against each, without a search or a branch.
    private let fewSpans: (starts: SIMD4<UInt64>, widths: SIMD4<UInt64>)?
    /// First-byte classes for x86-64: 1 rel32 after one byte, 2 two-byte 0F forms, 3 RIP-relative
    /// ModRM forms, 4 FF /2 /4.
    private static let x86Class: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        table[0xE8] = 1
        table[0xE9] = 1
        table[0x0F] = 2
        // mov, lea, cmp, add, sub, xor, and, or, test, xchg, movsxd, 8-bit mov: disp32 is last.
        for op in [
            0x8B, 0x89, 0x8D, 0x3B, 0x39, 0x03, 0x01, 0x2B, 0x29, 0x33, 0x31, 0x23, 0x21, 0x0B, 0x09, 0x85, 0x87, 0x63,
            0x8A, 0x88,
        ] {
            table[op] = 3
        }
        table[0xFF] = 4
        return table
    }()
    /// Second bytes of 0F-prefixed ModRM forms whose disp32 is last (SSE moves, compares, movzx/movsx, cmov).
    private static let x86SecondModRM: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for op in [
            0x10, 0x11, 0x28, 0x29, 0x2E, 0x2F, 0x54, 0x57, 0x58, 0x59, 0x5C, 0x5E, 0x6E, 0x6F, 0x7E, 0x7F, 0xB6, 0xB7,
            0xBE, 0xBF, 0xD6,
        ] {
            table[op] = true
        }
        for op in 0x40...0x4F { table[op] = true }
        return table
    }()

    /// Where an x86-64 reference form starting with bytes `first, second` (index `first << 8 |
    /// second`) has its operand: 1 or 2 bytes after the first, 3 when the third byte must also be
    /// a RIP-relative ModRM, 0 for none. One load tests two bytes (64 KiB, built once; the rows
    /// of the few first bytes that start a form are the ones read).
    private static let x86Operand: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 1 << 16)
        for first in 0..<256 {
            for second in 0..<256 {
                let operand: UInt8
                switch x86Class[first] {
                case 1: operand = 1
                case 2: operand = second & 0xF0 == 0x80 ? 2 : (x86SecondModRM[second] ? 3 : 0)
                case 3: operand = second & 0xC7 == 0x05 ? 2 : 0
                case 4: operand = second == 0x15 || second == 0x25 ? 2 : 0
                default: operand = 0
                }
                table[first << 8 | second] = operand
            }
        }
        return table
    }()

    /// An operand's distance from its form's first byte, by `x86Operand`'s code times 2 plus
    /// whether the third byte is a RIP-relative ModRM: 0 for no form.
    private static let x86Step: [UInt8] = [0, 0, 1, 1, 2, 2, 0, 3]

    /// For each 8-bit mask, the positions of its set bits in order (the rest 0), and their count:
    /// a window's candidates appended to a list without a branch.
    private static let x86Positions: [SIMD8<UInt16>] = (0..<256).map { mask in
        var positions = SIMD8<UInt16>(repeating: 0)
        var count = 0
        for bit in 0..<8 where mask >> bit & 1 == 1 {
            positions[count] = UInt16(bit)
            count += 1
        }
        return positions
    }
    private static let x86PositionCount: [UInt8] = (0..<256).map { UInt8($0.nonzeroBitCount) }

    /// Positions the x86-64 scan's first pass looks at before its second takes their candidates.
    private static let x86Chunk = 1024
    /// Entries of its lists: a chunk's positions rounded up to 16, and 8 more (the last store).
    private static let x86List = x86Chunk + 24

    init(regions: [ReferenceTransform.Region], pairs: Bool) {
        self.regions = regions
        self.pairs = pairs
        let spans = regions.map { ($0.address, $0.address &+ $0.span) }.filter { $0.0 < $0.1 }.sorted { $0.0 < $1.0 }
        var starts: [UInt64] = []
        var ends: [UInt64] = []
        for (start, end) in spans {
            if let last = ends.last, start <= last {
                ends[ends.count - 1] = max(last, end)
            } else {
                starts.append(start)
                ends.append(end)
            }
        }
        spanStarts = starts
        spanEnds = ends
        if starts.count <= 4 {
            var few = (starts: SIMD4<UInt64>(repeating: 0), widths: SIMD4<UInt64>(repeating: 0))
            for k in starts.indices {
                few.starts[k] = starts[k]
                few.widths[k] = ends[k] - starts[k]
            }
            fewSpans = few
        } else {
            fewSpans = nil
        }
    }

    @inline(__always)
    func isTarget(_ address: UInt64) -> Bool {
        if let fewSpans { return Self.isInside(address, fewSpans) }
        let lo = spanEnds.partitioningIndex { $0 > address }
        return lo < spanStarts.count && spanStarts[lo] <= address
    }

    /// 1 when `address` is in one of the spans `few`, else 0.
    @inline(__always)
    private static func inside(_ address: UInt64, _ few: (starts: SIMD4<UInt64>, widths: SIMD4<UInt64>)) -> Int {
        let offsets = SIMD4(repeating: address) &- few.starts
        return (offsets[0] < few.widths[0] ? 1 : 0) | (offsets[1] < few.widths[1] ? 1 : 0)
            | (offsets[2] < few.widths[2] ? 1 : 0) | (offsets[3] < few.widths[3] ? 1 : 0)
    }

    @inline(__always)
    private static func isInside(_ address: UInt64, _ few: (starts: SIMD4<UInt64>, widths: SIMD4<UInt64>)) -> Bool {
        inside(address, few) != 0
    }

    /// Appends the sites of block `block` (file offsets `[block * 64 KiB, ...)`), in offset
    /// order; `bytes` holds the image from the block's start (shorter at the image's end).
    func scan(block: Int64, bytes: UnsafeBufferPointer<UInt8>, into sites: inout [ReferenceSite]) {
        scan(block: block, bytes: bytes, within: nil, into: &sites)
    }

    /// With `within`, appends at least the sites of the block that lie wholly in `within`
    /// (file offsets), each as the whole block's scan finds it, in offset order, and perhaps a
    /// few others of the block (callers filter). An AArch64 region is scanned only from
    /// `pairWindow` words before `within` to as many after it (with `pairs`; else `within`
    /// alone): a site there depends on no word farther away (its own word; a use's ADRP lies at
    /// most `pairWindow` words back, and the words between decide whether its register was
    /// overwritten; an ADRP's pairing, on its uses at most `pairWindow` words on). x86-64's
    /// greedy scan depends on every byte before a site, so its regions are scanned from their
    /// start in the block and left a few bytes past `within`'s end (a form is at most 7 bytes).
    func scan(block: Int64, bytes: UnsafeBufferPointer<UInt8>, within: Range<Int64>?, into sites: inout [ReferenceSite])
    {
        var keep = KeepAllSites()
        scan(block: block, bytes: bytes, within: within, into: &sites, consumer: &keep)
    }

    /// As `scan(block:bytes:within:into:)`, each site but a plain ADRP first offered to
    /// `consumer`: the sites it takes are not appended to `sites`.
    func scan<Consumer: SiteConsumer>(
        block: Int64, bytes: UnsafeBufferPointer<UInt8>, within: Range<Int64>?, into sites: inout [ReferenceSite],
        consumer: inout Consumer
    ) {
        let blockStart = block * ReferenceTransform.scanBlock
        let blockEnd = blockStart + Int64(bytes.count)
        guard let base = bytes.baseAddress else { return }
        let margin = pairs ? Int64(4 * Self.pairWindow) : 0
        // With a window, only the regions that can hold its sites are visited (a hostile
        // transform may cut a block into thousands of regions; an op pays for those it reads).
        let from = within.map { max(blockStart, $0.lowerBound - margin) } ?? blockStart
        let to = within.map { min(blockEnd, $0.upperBound) } ?? blockEnd
        var index = ReferenceTransform.region(regions, containing: from) ?? firstRegion(after: from)
        while index < regions.count, regions[index].fileStart < to {
            let region = regions[index]
            index += 1
            guard let architecture = region.architecture else { continue }
            var lo = max(blockStart, region.fileStart)
            var hi = min(blockEnd, region.fileEnd)
            if let within {
                // A site lies wholly in its region's part of the block.
                guard lo < within.upperBound && within.lowerBound < hi else { continue }
                switch architecture {
                case .x86_64: hi = min(hi, within.upperBound + 16)
                case .aarch64:
                    lo = max(lo, within.lowerBound - margin)
                    hi = min(hi, within.upperBound + margin)
                }
            }
            guard hi - lo >= 4 else { continue }
            let p = base + Int(lo - blockStart)
            let count = Int(hi - lo)
            let address = region.address &+ UInt64(lo - region.fileStart)
            switch architecture {
            case .x86_64: scanX86(p, count, offset: lo, address: address, into: &sites, consumer: &consumer)
            case .aarch64: scanA64(p, count, offset: lo, address: address, into: &sites, consumer: &consumer)
            }
        }
    }

    private func firstRegion(after offset: Int64) -> Int {
        regions.partitioningIndex { $0.fileStart >= offset }
    }

    @inline(__always)
    private static func load32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UnsafeRawPointer(p).loadUnaligned(as: UInt32.self).littleEndian
    }

    /// The greedy x86-64 scan: at each byte, a reference form whose operand's target is in the
    /// image makes a site and the scan resumes after the operand; any other byte moves it on by
    /// one. In two passes over chunks of up to `x86Chunk` positions (`x86Candidates`, then
    /// `x86Sites`), the chunk's sites then handed on; the byte-at-a-time loop is left for the
    /// last 23 bytes.
    private func scanX86<Consumer: SiteConsumer>(
        _ p: UnsafePointer<UInt8>, _ count: Int, offset: Int64, address: UInt64, into sites: inout [ReferenceSite],
        consumer: inout Consumer
    ) {
        /// Hands the site whose operand is at `p + operand` to the consumer, or to `sites`.
        func site(at operand: Int) {
            let word = Self.load32(p + operand)
            if !consumer.take(
                offset: offset + Int64(operand), kind: .x86Rel32, word: word,
                target: Self.x86Target(p, operand, address: address))
            {
                sites.append(ReferenceSite(offset: offset + Int64(operand), kind: .x86Rel32))
            }
        }

        // The next position the greedy rule looks at.
        var i = 0
        // The first position the first pass has not looked at (a window needs `next + 24 <=
        // count`: it reads 18 bytes, and a form at its last position ends 7 bytes on).
        var next = 0
        if count >= 24 {
            // The chunk's candidates, then its sites' operands, from the chunk's start.
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 2 * Self.x86List) {
                let candidates = $0.baseAddress!
                let found = candidates + Self.x86List
                while next + 24 <= count {
                    let start = next
                    let listed: Int
                    (listed, next) = Self.x86Candidates(
                        p, from: start, to: min(count - 23, start + Self.x86Chunk), into: candidates)
                    let taken = x86Sites(
                        p, start: start, candidates: candidates, listed, address: address, after: &i, into: found)
                    for k in 0..<taken { site(at: start + Int(found[k])) }
                    if i > next { next = i }
                }
            }
        }
        i = max(i, next)
        Self.x86Operand.withUnsafeBufferPointer { operands in
            while i + 5 <= count {
                var operand = -1
                switch operands[Int(p[i]) << 8 | Int(p[i + 1])] {
                case 1: operand = i + 1
                case 2: operand = i + 2
                case 3: if i + 2 < count, p[i + 2] & 0xC7 == 0x05 { operand = i + 3 }
                default: break
                }
                if operand >= 0 && operand + 4 <= count, isTarget(Self.x86Target(p, operand, address: address)) {
                    site(at: operand)
                    i = operand + 4
                    continue
                }
                i += 1
            }
        }
    }

    /// The first pass: lists (from `start`, in order) the positions `start..<end` and on to the
    /// next multiple of 16 from `start` whose bytes may start a form, 16 at a time
    /// (`x86Starts16`, no branch; 3.9% of containerd amd64's code bytes are listed, 4.2% start a
    /// form of `x86Operand` without its third-byte check). Returns the count listed and the
    /// first position not looked at. `list` holds `x86List` entries.
    @inline(__always)
    private static func x86Candidates(
        _ p: UnsafePointer<UInt8>, from start: Int, to end: Int, into list: UnsafeMutablePointer<UInt16>
    ) -> (listed: Int, next: Int) {
        x86Positions.withUnsafeBufferPointer { positions in
            x86PositionCount.withUnsafeBufferPointer { counts in
                var listed = 0
                var base = start
                while base < end {
                    let mask = x86Starts16(p + base)
                    let from = UInt16(truncatingIfNeeded: base &- start)
                    // Eight entries stored for each half, `counts` of them kept.
                    UnsafeMutableRawPointer(list + listed).storeBytes(
                        of: positions[mask & 0xFF] &+ SIMD8(repeating: from), as: SIMD8<UInt16>.self)
                    listed &+= Int(counts[mask & 0xFF])
                    UnsafeMutableRawPointer(list + listed).storeBytes(
                        of: positions[mask >> 8] &+ SIMD8(repeating: from &+ 8), as: SIMD8<UInt16>.self)
                    listed &+= Int(counts[mask >> 8])
                    base &+= 16
                }
                return (listed, base)
            }
        }
    }

    /// Bit k set when position k of `p` (k < 16) may start one of the forms: E8 or E9; 0F then
    /// a jcc's 8x, or 0F with a RIP-relative ModRM third byte; or a RIP-relative ModRM second
    /// byte after an opcode of the ALU r/m families (00xxx0x1), 8x, 63 or FF. A superset of the
    /// forms (`x86Operand` decides); reads p[0] to p[17]. In `SIMD16<UInt8>` arithmetic, which
    /// compiles to SSE2 on x86-64 (LLVM vector operations, so NEON on arm64; not checked there);
    /// its lane compares, `.==`, do not: Swift 6.3 does them lane by lane.
    @inline(__always)
    static func x86Starts16(_ p: UnsafePointer<UInt8>) -> Int {
        let first = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self)
        let second = UnsafeRawPointer(p + 1).loadUnaligned(as: SIMD16<UInt8>.self)
        let third = UnsafeRawPointer(p + 2).loadUnaligned(as: SIMD16<UInt8>.self)
        // High bit set in the lanes where a byte test fails (`differs(v, c)`: v != c).
        let call = differs(first & 0xFE, 0xE8)
        let escaped = differs(first, 0x0F) | (differs(second & 0xF0, 0x80) & differs(third & 0xC7, 0x05))
        let opcode =
            differs(first & 0xC5, 0x01) & differs(first & 0xF0, 0x80) & differs(first, 0x63) & differs(first, 0xFF)
        let modRM = differs(second & 0xC7, 0x05) | opcode
        // The lanes' high bits gathered into 8 bits per half.
        let halves = unsafeBitCast(~(call & escaped & modRM) & 0x80, to: SIMD2<UInt64>.self)
        let low = ((halves[0] >> 7) &* 0x0102_0408_1020_4080) >> 56
        let high = ((halves[1] >> 7) &* 0x0102_0408_1020_4080) >> 56
        return Int(truncatingIfNeeded: low | high << 8)
    }

    /// High bit set in the lanes of `v` that differ from `c` (`t` or `-t` has it for `t != 0`).
    @inline(__always)
    private static func differs(_ v: SIMD16<UInt8>, _ c: UInt8) -> SIMD16<UInt8> {
        let t = v ^ SIMD16(repeating: c)
        return t | (SIMD16(repeating: 0) &- t)
    }

    /// The second pass: the greedy rule over the `listed` candidates (from `start`), with no
    /// branch on the data: each one's operand and target are computed, and its operand is kept
    /// (in `found`, from `start`) only when `x86Operand` has a form there, the target is in the
    /// image and the candidate is at or after `i`, which then moves past the operand. Returns
    /// how many were kept.
    @inline(__always)
    private func x86Sites(
        _ p: UnsafePointer<UInt8>, start: Int, candidates: UnsafePointer<UInt16>, _ listed: Int, address: UInt64,
        after position: inout Int, into found: UnsafeMutablePointer<UInt16>
    ) -> Int {
        let few = fewSpans
        // In a register through the loop (an `inout` stays in memory: a store and a load on
        // the one chain from candidate to candidate).
        var i = position
        defer { position = i }
        return Self.x86Operand.withUnsafeBufferPointer { operands in
            Self.x86Step.withUnsafeBufferPointer { steps in
                var taken = 0
                for k in 0..<listed {
                    let candidate = start &+ Int(candidates[k])
                    let two = UnsafeRawPointer(p + candidate).loadUnaligned(as: UInt16.self)
                    let code = Int(operands[Int(UInt16(bigEndian: two))])
                    let ripThird = p[candidate &+ 2] & 0xC7 == 0x05 ? 1 : 0
                    let step = Int(steps[code &* 2 &+ ripThird])
                    let operand = candidate &+ step
                    let target = Self.x86Target(p, operand, address: address)
                    let inside = few.map { Self.inside(target, $0) } ?? (isTarget(target) ? 1 : 0)
                    // 1 for a form (step 1 to 3) at or after `i` whose target is in the image.
                    let uncovered = Int(bitPattern: UInt(bitPattern: ~(candidate &- i)) >> 63)
                    let isSite = inside & uncovered & (step &+ 3) >> 2
                    found[taken] = UInt16(truncatingIfNeeded: operand &- start)
                    taken &+= isSite
                    let keep = isSite &- 1
                    i = (i & keep) | ((operand &+ 4) & ~keep)
                }
                return taken
            }
        }
    }

    /// The target of the rel32 operand at `p + operand` (region address `address` at `p`):
    /// `ReferenceKind.x86Rel32.target`.
    @inline(__always)
    private static func x86Target(_ p: UnsafePointer<UInt8>, _ operand: Int, address: UInt64) -> UInt64 {
        (address &+ UInt64(bitPattern: Int64(operand))) &+ 4
            &+ UInt64(bitPattern: Int64(Int32(bitPattern: load32(p + operand))))
    }

    /// An ADRP whose register may still be used (while its bit is set in the scan's mask): its
    /// word position, target page, and the index of its site in the output (-1 when its page
    /// alone was not a target).
    private struct LiveAdrp {
        var position = -1
        var page: UInt64 = 0
        var site = -1
        var paired = false
    }

    private func scanA64<Consumer: SiteConsumer>(
        _ p: UnsafePointer<UInt8>, _ count: Int, offset: Int64, address: UInt64, into sites: inout [ReferenceSite],
        consumer: inout Consumer
    ) {
        // On the stack: the decoder scans a few words around each ADDP, so this runs per op.
        Self.a64Forms.withUnsafeBufferPointer { forms in
            withUnsafeTemporaryAllocation(of: LiveAdrp.self, capacity: 32) { live in
                live.initialize(repeating: LiveAdrp())
                scanA64(
                    p, count, offset: offset, address: address, forms: forms, live: live, into: &sites,
                    consumer: &consumer)
            }
        }
    }

    /// The AArch64 reference forms, one bit each for `a64Forms` (0: none). Bits, not numbers:
    /// compared with numbers, the compiler turned the forms' branches into a jump table, one
    /// indirect jump per word.
    private enum A64Form {
        /// B, BL.
        static let branch26: UInt8 = 1
        /// B.cond, CBZ, CBNZ, LDR (literal).
        static let imm19: UInt8 = 2
        /// TBZ, TBNZ.
        static let imm14: UInt8 = 4
        static let adr: UInt8 = 8
        static let adrp: UInt8 = 16
        /// With `imm19`: only when bit 4 is clear (B.cond; the other encodings of its top byte
        /// are no form).
        static let bit4Clear: UInt8 = 32
    }

    /// The form of an AArch64 word by its top byte: the forms' masks test no other bit but B.cond's
    /// bit 4 (`A64Form.bit4Clear`), so one load classifies a word, and most words (no form) cost
    /// that load and one test. Built from the masks themselves, for bit 4 clear and set.
    private static let a64Forms: [UInt8] = (0..<256).map { top in
        func form(_ word: UInt32) -> UInt8 {
            if word & 0x7C00_0000 == 0x1400_0000 { return A64Form.branch26 }
            if word & 0xFF00_0010 == 0x5400_0000 || word & 0x7E00_0000 == 0x3400_0000
                || word & 0x3B00_0000 == 0x1800_0000
            {
                return A64Form.imm19
            }
            if word & 0x7E00_0000 == 0x3600_0000 { return A64Form.imm14 }
            if word & 0x9F00_0000 == 0x1000_0000 { return A64Form.adr }
            if word & 0x9F00_0000 == 0x9000_0000 { return A64Form.adrp }
            return 0
        }
        let clear = form(UInt32(top) << 24)
        let set = form(UInt32(top) << 24 | 0x10)
        if clear == set { return clear }
        precondition(clear == A64Form.imm19 && set == 0, "a form depends on a bit the table does not see")
        return A64Form.imm19 | A64Form.bit4Clear
    }

    /// A site of `kind` (any form but ADRP, which stays in the output for `pairUse`) at word `i`
    /// when its target is in the image: to `consumer`, or else appended. `kind` is a constant at
    /// each call, so its target and the consumer's arithmetic are inlined for it (no dispatch on
    /// the kind per site).
    @inline(__always)
    private func found<Consumer: SiteConsumer>(
        _ kind: ReferenceKind, word: UInt32, at i: Int, site: UInt64, offset: Int64,
        into sites: inout [ReferenceSite], consumer: inout Consumer
    ) {
        guard let target = kind.target(word: word, address: site), isTarget(target) else { return }
        if !consumer.take(offset: offset + Int64(i), kind: kind, word: word, target: target) {
            sites.append(ReferenceSite(offset: offset + Int64(i), kind: kind))
        }
    }

    @inline(__always)
    private func scanA64<Consumer: SiteConsumer>(
        _ p: UnsafePointer<UInt8>, _ count: Int, offset: Int64, address: UInt64, forms: UnsafeBufferPointer<UInt8>,
        live: UnsafeMutableBufferPointer<LiveAdrp>, into sites: inout [ReferenceSite], consumer: inout Consumer
    ) {
        var i = Int((4 &- (address & 3)) & 3)
        // Bit r: register r holds a live ADRP's page (`live[r]`), so most words cost one test.
        var liveMask: UInt32 = 0
        let last = count - 4
        while i <= last {
            let word = Self.load32(p + i)
            let form = forms[Int(word >> 24)]
            if form == 0 {
                // No form: perhaps a use of a live ADRP's register; it overwrites register `word & 31`
                // (for every word, as most instructions do).
                if pairs && liveMask != 0 {
                    if liveMask & (1 << ((word >> 5) & 31)) != 0 {
                        pairUse(
                            word, at: i, site: address &+ UInt64(i), offset: offset, live: live, into: &sites,
                            consumer: &consumer)
                    }
                    liveMask &= ~(1 << (word & 31))
                }
            } else {
                // Each form's site is handled in its own branch, its kind a constant there. A word
                // with a form is no ADD or LDR/STR (`pairUse`).
                let site = address &+ UInt64(i)
                if pairs { liveMask &= ~(1 << (word & 31)) }
                if form & A64Form.branch26 != 0 {
                    found(
                        .a64Branch26, word: word, at: i, site: site, offset: offset, into: &sites, consumer: &consumer)
                } else if form & A64Form.imm19 != 0 {
                    if form & A64Form.bit4Clear == 0 || word & 0x10 == 0 {
                        found(
                            .a64Imm19, word: word, at: i, site: site, offset: offset, into: &sites, consumer: &consumer)
                    }
                } else if form & A64Form.imm14 != 0 {
                    found(.a64Imm14, word: word, at: i, site: site, offset: offset, into: &sites, consumer: &consumer)
                } else if form & A64Form.adr != 0 {
                    found(.a64Adr, word: word, at: i, site: site, offset: offset, into: &sites, consumer: &consumer)
                } else {
                    // ADRP: always to the output, where a later use may make it a paired site.
                    let page = ReferenceKind.a64Adrp.target(word: word, address: site) ?? 0
                    var added = -1
                    if isTarget(page) {
                        added = sites.count
                        sites.append(ReferenceSite(offset: offset + Int64(i), kind: .a64Adrp))
                    }
                    let register = Int(word & 31)
                    if pairs && register != 31 {
                        live[register] = LiveAdrp(position: i, page: page, site: added, paired: false)
                        liveMask |= 1 << UInt32(register)
                    }
                }
            }
            i &+= 4
        }
    }

    /// Records `word` (at `i`, address `site`) as a low-12 site when it is an ADD (immediate,
    /// 64-bit, unshifted) or LDR/STR (unsigned offset) from a live ADRP's register and the full
    /// target is in range; the ADRP's first such use makes it a paired site.
    @inline(__always)
    private func pairUse<Consumer: SiteConsumer>(
        _ word: UInt32, at i: Int, site: UInt64, offset: Int64, live: UnsafeMutableBufferPointer<LiveAdrp>,
        into sites: inout [ReferenceSite], consumer: inout Consumer
    ) {
        let kind: ReferenceKind
        if word & 0xFFC0_0000 == 0x9100_0000 {
            kind = .a64AddLow12
        } else if word & 0x3B00_0000 == 0x3900_0000 {
            kind = .a64LoadStoreLow12
        } else {
            return
        }
        let base = Int((word >> 5) & 31)
        let adrp = live[base]
        guard adrp.position >= 0, i - adrp.position <= 4 * Self.pairWindow else { return }
        let context = UInt32(truncatingIfNeeded: Int64(bitPattern: adrp.page &- (site & ~0xFFF)) >> 12)
        guard let target = kind.target(word: word, address: site, context: context), isTarget(target) else {
            return
        }
        if !adrp.paired {
            live[base].paired = true
            let paired = ReferenceSite(
                offset: offset + Int64(adrp.position), kind: .a64AdrpPaired, context: UInt32(target & 0xFFF))
            if adrp.site >= 0 {
                sites[adrp.site] = paired
            } else {
                // Its page alone was not a target: insert it among the few sites found since.
                var at = sites.count
                while at > 0 && sites[at - 1].offset > paired.offset { at -= 1 }
                sites.insert(paired, at: at)
                for k in live.indices where live[k].site >= at { live[k].site += 1 }
                live[base].site = at
            }
        }
        if !consumer.take(offset: offset + Int64(i), kind: kind, word: word, target: target) {
            sites.append(ReferenceSite(offset: offset + Int64(i), kind: kind, context: context))
        }
    }
}
