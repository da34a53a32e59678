internal import OTABase

/// Body coding 5 (docs/FORMAT.md, "Inserted x86-64 operands in a stream of their own"): the
/// 4-byte operands of inserted x86-64 branches, calls and RIP-relative accesses leave the
/// inserts stream for the operands stream, made absolute by their new-image offset where coding
/// 4 would convert them, and grouped by kind in each frame: calls, jumps, data references.
/// The inserts stream keeps the opcodes, so its matches are not cut by the targets between
/// them, and targets of one kind follow each other, so LZMA finds the repeated ones. The idea
/// of 7-Zip's BCJ2, by new-image offset and with data references as a third kind.
///
/// The rule, greedy from an INSERT's first byte p = 0 while p + 5 ≤ its length: `E8` (a call)
/// or `E9` (a jump) has its operand at p + 1; while p + 6 ≤ the length, `0F 80`...`0F 8F` (a
/// jump) or a one-byte opcode of `InsertsFilter`'s RIP-relative set with `(modrm & 0xC7) == 5`
/// (a data reference) has it at p + 2. An operand found moves whatever its last byte, and the
/// scan resumes after it; else at p + 1. The decisions read only opcode bytes, which stay in the
/// inserts stream, so the decoder makes the same ones as it rebuilds the op.
enum InsertsOperands {
    /// What an operand belongs to: each kind has its section of a frame's operands.
    enum Kind: Int, CaseIterable {
        case call
        case jump
        case data
    }

    /// The kind and operand position of the form at output position `p` of an op of `count`
    /// bytes (`p + 5 <= count`), if any: `at[0]` is the byte at `p`, and `at[1]`, read only when
    /// `p + 6 <= count` and `at[0]` is not `E8`/`E9`, the byte at `p + 1`.
    @inline(__always)
    static func form(_ at: UnsafePointer<UInt8>, position p: Int, count: Int, rip: UnsafePointer<Bool>) -> (
        Kind, operand: Int
    )? {
        let c = at[0]
        if c == 0xE8 { return (.call, p + 1) }
        if c == 0xE9 { return (.jump, p + 1) }
        guard p + 6 <= count else { return nil }
        let next = at[1]
        if c == 0x0F && next & 0xF0 == 0x80 { return (.jump, p + 2) }
        if rip[Int(c)] && next & 0xC7 == 0x05 { return (.data, p + 2) }
        return nil
    }

    /// The operand `value` (little-endian as in the code) as stored: when its last byte is `00`
    /// or `FF`, `InsertsFilter`'s conversion by `position` (the new offset of its end) modulo
    /// 2^25, sign-extended, so the stored last byte is again `00` or `FF`; else as it is. A
    /// bijection; `encode: false` is its inverse.
    @inline(__always)
    static func convert(_ value: UInt32, position: UInt32, encode: Bool) -> UInt32 {
        let top = value >> 24
        guard top == 0 || top == 0xFF else { return value }
        var converted = (encode ? value &+ position : value &- position) & 0x01FF_FFFF
        if converted & 0x0100_0000 != 0 { converted |= 0xFE00_0000 }
        return converted
    }

    /// Splits an INSERT's `count` bytes at new-image `offset`: the bytes other than operands
    /// are appended to `main`, each operand, converted, goes to `operand` with its kind.
    static func split(
        _ bytes: UnsafePointer<UInt8>, count: Int, offset: Int64, main: inout [UInt8],
        operand: (UInt32, Kind) -> Void
    ) {
        InsertsFilter.ripOpcodes.withUnsafeBufferPointer { rip in
            var p = 0
            var kept = 0
            while p + 5 <= count {
                // 16 positions at a time far from the end, as `join` skips them: the positions
                // before `x86Starts16`'s first mark hold no form.
                if count - p >= 22 {
                    let marks = ReferenceScanner.x86Starts16(bytes + p)
                    let plain = marks == 0 ? 16 : marks.trailingZeroBitCount
                    if plain > 0 {
                        p += plain
                        continue
                    }
                }
                guard let (kind, o) = form(bytes + p, position: p, count: count, rip: rip.baseAddress!) else {
                    p += 1
                    continue
                }
                main.append(contentsOf: UnsafeBufferPointer(start: bytes + kept, count: o - kept))
                let value = UnsafeRawPointer(bytes + o).loadUnaligned(as: UInt32.self)
                let position = UInt32(truncatingIfNeeded: offset &+ Int64(o) &+ 4)
                operand(convert(UInt32(littleEndian: value), position: position, encode: true), kind)
                p = o + 4
                kept = p
            }
            main.append(contentsOf: UnsafeBufferPointer(start: bytes + kept, count: count - kept))
        }
    }

    /// Rebuilds an INSERT of `count` bytes at new-image `offset` into `out`: its other bytes from
    /// `main` (`available` bytes there), its operands from `operands`. Returns the bytes of
    /// `main` used. Bytes missing from either stream are a malformed patch.
    static func join(
        main: UnsafePointer<UInt8>, available: Int, into out: UnsafeMutablePointer<UInt8>, count: Int, offset: Int64,
        operands: inout FrameOperandsReader
    ) throws(OTAError) -> Int {
        try InsertsFilter.ripOpcodes.withUnsafeBufferPointer { (rip) throws(OTAError) -> Int in
            var x = 0
            var m = 0
            // The rule reads output bytes p and p + 1, both opcode bytes, so it runs on `main`
            // ahead of the copy: `m` is output position `x` in `main`.
            while x + 5 <= count {
                // 16 positions at a time where all of them are far from the op's end and the
                // window's 18 bytes are in `main`: `x86Starts16` marks a superset of the forms
                // (it reads each position's byte and the two after, as the rule does), and the
                // positions before the first mark are opcode bytes, copied at once.
                if count - x >= 22 && available - m >= 18 {
                    let marks = ReferenceScanner.x86Starts16(main + m)
                    let plain = marks == 0 ? 16 : marks.trailingZeroBitCount
                    if plain > 0 {
                        (out + x).update(from: main + m, count: plain)
                        x += plain
                        m += plain
                        continue
                    }
                }
                // With x + 6 <= count, the inserts stream holds two more bytes of the op at
                // least: x's, and x + 1's or, after E8/E9, the byte after the operand.
                let need = x + 6 <= count ? 2 : 1
                guard available - m >= need else { throw missing(offset + Int64(x)) }
                guard let (kind, o) = form(main + m, position: x, count: count, rip: rip.baseAddress!) else {
                    out[x] = main[m]
                    x += 1
                    m += 1
                    continue
                }
                let opcodes = o - x
                (out + x).update(from: main + m, count: opcodes)
                m += opcodes
                let stored = try operands.next(kind, at: offset + Int64(o))
                let position = UInt32(truncatingIfNeeded: offset &+ Int64(o) &+ 4)
                let value = convert(stored, position: position, encode: false)
                UnsafeMutableRawPointer(out + o).storeBytes(of: value.littleEndian, as: UInt32.self)
                x = o + 4
            }
            guard available - m >= count - x else { throw missing(offset + Int64(x)) }
            (out + x).update(from: main + m, count: count - x)
            return m + count - x
        }
    }

    /// The error for an INSERT whose bytes (or padding, or opcodes) at output offset `at` are
    /// missing from its frame's inserts stream; every decoder path uses this one.
    static func missing(_ at: Int64) -> OTAError {
        OTAError(.deltaMalformed, "INSERT at output offset \(at) runs past its frame's inserted bytes")
    }
}

/// Encoder side: one frame's operands by kind, laid out as the frame's operands stream: the
/// count of calls and of jumps (varints), then the calls, the jumps and the data references,
/// 4 bytes each, most significant first.
struct FrameOperands {
    private var sections: [[UInt8]] = Array(repeating: [], count: InsertsOperands.Kind.allCases.count)

    var isEmpty: Bool { sections.allSatisfy(\.isEmpty) }

    /// Operand bytes held (without the counts).
    var byteCount: Int { sections.reduce(0) { $0 + $1.count } }

    mutating func append(_ value: UInt32, _ kind: InsertsOperands.Kind) {
        withUnsafeBytes(of: value.bigEndian) { sections[kind.rawValue].append(contentsOf: $0) }
    }

    /// The frame's operands stream bytes (empty when no operand was appended); empties this.
    mutating func take() -> [UInt8] {
        guard !isEmpty else { return [] }
        var out: [UInt8] = []
        Varint.append(UInt64(sections[InsertsOperands.Kind.call.rawValue].count / 4), to: &out)
        Varint.append(UInt64(sections[InsertsOperands.Kind.jump.rawValue].count / 4), to: &out)
        for section in sections { out += section }
        sections = Array(repeating: [], count: InsertsOperands.Kind.allCases.count)
        return out
    }
}

/// Decoder side: cursors into the three sections of one frame's decoded operands stream.
struct FrameOperandsReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    /// Next byte and end of each kind's section, by `Kind.rawValue`.
    private var cursors: InlineArray<3, Int> = [0, 0, 0]
    private var ends: InlineArray<3, Int> = [0, 0, 0]

    /// A frame's operands stream; `readCounts` must come before the first `next`.
    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Reads the section counts at the start of the stream (nothing when it is empty), for the
    /// frame whose first op writes output offset `at`; counts that are malformed or do not fit
    /// the stream are a malformed patch.
    mutating func readCounts(at: Int64) throws(OTAError) {
        guard !bytes.isEmpty else { return }
        var counts: [UInt64] = []
        var offset = 0
        for _ in 0..<2 {
            let parse: Varint.Parse
            do throws(DeltaFormatError) {
                parse = try Varint.read(bytes, at: offset)
            } catch {
                throw OTAError(.deltaMalformed, "malformed operand count in the frame at output offset \(at)")
            }
            guard case .value(let value, let next) = parse else {
                throw OTAError(
                    .deltaMalformed, "the operands of the frame at output offset \(at) end inside their counts")
            }
            counts.append(value)
            offset = next
        }
        let room = UInt64(bytes.count - offset) / 4
        guard counts[0] <= room, counts[1] <= room - counts[0] else {
            throw OTAError(
                .deltaMalformed,
                "the frame at output offset \(at) declares \(counts[0]) calls and \(counts[1]) jumps in \(bytes.count - offset) operand bytes"
            )
        }
        let jumps = offset + 4 * Int(counts[0])
        let data = jumps + 4 * Int(counts[1])
        cursors = [offset, jumps, data]
        ends = [jumps, data, bytes.count]
    }

    /// Operand bytes no INSERT has read.
    var left: Int { ends[0] - cursors[0] + ends[1] - cursors[1] + ends[2] - cursors[2] }

    /// The next stored operand of `kind`, for the operand at output offset `at`.
    @inline(__always)
    mutating func next(_ kind: InsertsOperands.Kind, at: Int64) throws(OTAError) -> UInt32 {
        let cursor = cursors[kind.rawValue]
        guard ends[kind.rawValue] - cursor >= 4 else {
            throw OTAError(.deltaMalformed, "no \(kind) operand left in its frame for output offset \(at)")
        }
        cursors[kind.rawValue] = cursor + 4
        return UInt32(bigEndian: UnsafeRawPointer(bytes.baseAddress! + cursor).loadUnaligned(as: UInt32.self))
    }
}
