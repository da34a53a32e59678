/// The constant tables of RFC 1951 and the canonical Huffman code construction, shared by puff
/// (decoding) and huff (encoding) so both sides agree on every bit.
enum DeflateTables {
    /// Longest Huffman code in a literal/length or distance code.
    static let maxCodeLength = 15
    /// Longest code in the code-length code (its lengths are 3-bit fields).
    static let maxCodeLengthCodeLength = 7

    static let endOfBlockSymbol = 256
    /// Largest HLIT (zlib rejects 287 and 288 even though the 5-bit field can express them).
    static let maxLiteralLengthCodes = 286
    /// Largest HDIST (zlib rejects 31 and 32).
    static let maxDistanceCodes = 30
    static let codeLengthCodes = 19
    static let maxMatchLength = 258
    static let maxDistance = 32768

    /// Order in which a dynamic block transmits the code-length code lengths.
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Base match length of length symbols 257...285.
    static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
        35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    /// Extra bits of length symbols 257...285.
    static let lengthExtraBits: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    /// Base distance of distance symbols 0...29.
    static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
        257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ]
    /// Extra bits of distance symbols 0...29.
    static let distanceExtraBits: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
        7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]

    /// Code lengths of the fixed literal/length code (RFC 1951 3.2.6), symbols 0...287.
    static let fixedLiteralLengthLengths: [UInt8] =
        Array(repeating: 8, count: 144) + Array(repeating: 9, count: 112)
        + Array(repeating: 7, count: 24) + Array(repeating: 8, count: 8)
    /// Code lengths of the fixed distance code, symbols 0...31 (30 and 31 never occur in valid data).
    static let fixedDistanceLengths: [UInt8] = Array(repeating: 5, count: 32)

    /// The length symbol (257...285) that huff writes for a match length in 3...258.
    /// Length 258 is always symbol 285, never 284 with extra bits 31.
    static func lengthSymbol(forLength length: Int) -> Int {
        if length == maxMatchLength { return 285 }
        let offset = length - 3
        if offset < 8 { return 257 + offset }
        let topBit = Int.bitWidth - 1 - offset.leadingZeroBitCount  // 3...7
        return 257 + 4 * (topBit - 1) + ((offset >> (topBit - 2)) & 3)
    }

    /// The distance symbol (0...29) for a distance in 1...32768.
    @inline(__always)
    static func distanceSymbol(forDistance distance: Int) -> Int {
        let offset = distance - 1
        if offset < 4 { return offset }
        let topBit = Int.bitWidth - 1 - offset.leadingZeroBitCount  // 2...14
        return 2 * topBit + ((offset >> (topBit - 1)) & 1)
    }

    /// The repeat rule of code-length symbols 16 (repeat previous), 17 and 18 (repeat zero).
    static func repeatRule(forSymbol symbol: Int) -> (extraBits: Int, minimumCount: Int) {
        switch symbol {
        case 16: (2, 3)
        case 17: (3, 3)
        default: (7, 11)
        }
    }

    /// Applies a code-length repeat (symbol 16, 17 or 18 with its `extra` bits' value) to
    /// `lengths`, whose first `filled` of `total` entries are set: 16 repeats the last length
    /// (there must be one), 17 and 18 write zeros; the run must not pass `total`. `place` names
    /// where the repeat was read, for the error.
    static func applyRepeat(
        symbol: Int, extra: Int, to lengths: UnsafeMutableBufferPointer<UInt8>, filled: inout Int, total: Int,
        at place: @autoclosure () -> String
    ) throws(DeflateStreamError) {
        let count = repeatRule(forSymbol: symbol).minimumCount + extra
        var repeated: UInt8 = 0
        if symbol == 16 {
            guard filled > 0 else {
                throw .invalid("repeat of the previous code length with none before it at \(place())")
            }
            repeated = lengths[filled - 1]
        }
        guard count <= total - filled else {
            throw .invalid("code-length repeat of \(count) overruns HLIT+HDIST = \(total) at \(place())")
        }
        lengths[filled..<filled + count].update(repeating: repeated)
        filled += count
    }

    /// How a list of code lengths fills the code space.
    struct CodeShape {
        /// Number of codes of each length 1...15 (index 0 unused).
        var lengthCounts: InlineArray<16, Int>
        var longestLength: Int
        /// The lengths claim more than the whole code space (sum of 2^-length > 1).
        var isOversubscribed: Bool
        /// The lengths use the whole code space exactly.
        var isComplete: Bool

        /// What zlib accepts for literal/length and distance codes: complete, or a single code of
        /// length 1, or (distances only) no codes at all.
        var isAcceptableForData: Bool {
            !isOversubscribed && (isComplete || longestLength <= 1)
        }
    }

    /// Builds the canonical Huffman code of RFC 1951 3.2.2 for `lengths` (each 0...15) and writes
    /// each symbol's code bit-reversed into `reversedCodes`, ready for deflate's LSB-first bit order.
    /// Symbols with length 0 get no code. When the lengths are oversubscribed no codes are written.
    static func canonicalCodes(
        lengths: UnsafeBufferPointer<UInt8>, reversedCodes: UnsafeMutablePointer<UInt16>
    ) -> CodeShape {
        var counts = InlineArray<16, Int>(repeating: 0)
        for length in lengths { counts[Int(length)] += 1 }
        counts[0] = 0

        var longest = 0
        var unusedCodes = 1
        var oversubscribed = false
        for length in 1...maxCodeLength {
            if counts[length] != 0 { longest = length }
            unusedCodes = unusedCodes << 1 - counts[length]
            if unusedCodes < 0 { oversubscribed = true }
        }
        let shape = CodeShape(
            lengthCounts: counts, longestLength: longest,
            isOversubscribed: oversubscribed, isComplete: !oversubscribed && unusedCodes == 0)
        if oversubscribed { return shape }

        var nextCode = InlineArray<16, Int>(repeating: 0)
        var code = 0
        for length in 1...maxCodeLength {
            code = (code + counts[length - 1]) << 1
            nextCode[length] = code
        }
        for symbol in lengths.indices {
            let length = Int(lengths[symbol])
            guard length != 0 else { continue }
            reversedCodes[symbol] = reverseBits(nextCode[length], count: length)
            nextCode[length] += 1
        }
        return shape
    }

    /// The low `count` bits of `value` in reverse order.
    static func reverseBits(_ value: Int, count: Int) -> UInt16 {
        var reversed = 0
        var rest = value
        for _ in 0..<count {
            reversed = reversed << 1 | rest & 1
            rest >>= 1
        }
        return UInt16(reversed)
    }
}
