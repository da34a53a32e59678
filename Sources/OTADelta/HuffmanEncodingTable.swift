/// One block's literal/length and distance codes, prepared for huff's writer.
///
/// Each entry packs bit-reversed code bits (already in deflate's LSB-first order) in bits 0-23
/// and their count in bits 24-31; an entry of 0 marks a symbol whose code length is 0.
/// Match lengths are indexed by length (3...258) and include the length's extra bits.
struct HuffmanEncodingTable: ~Copyable {
    /// Literal bytes 0...255, then the end-of-block symbol at 256.
    private let literals = UnsafeMutablePointer<UInt32>.allocate(capacity: 257)
    /// Match lengths 0...258 (0...2 unused), code plus extra bits.
    private let matchLengths = UnsafeMutablePointer<UInt32>.allocate(capacity: 259)
    /// Distance symbols 0...29, code only.
    private let distanceCodes = UnsafeMutablePointer<UInt32>.allocate(capacity: 30)
    private let reversedCodes = UnsafeMutablePointer<UInt16>.allocate(capacity: 288)

    init() {
        literals.initialize(repeating: 0, count: 257)
        matchLengths.initialize(repeating: 0, count: 259)
        distanceCodes.initialize(repeating: 0, count: 30)
        reversedCodes.initialize(repeating: 0, count: 288)
    }

    deinit {
        literals.deallocate()
        matchLengths.deallocate()
        distanceCodes.deallocate()
        reversedCodes.deallocate()
    }

    @inline(__always) static func bitCount(_ entry: UInt32) -> Int { Int(entry >> 24) }
    @inline(__always) static func bits(_ entry: UInt32) -> UInt64 { UInt64(entry & 0xFF_FFFF) }

    @inline(__always) func literal(_ byte: UInt8) -> UInt32 { literals[Int(byte)] }
    @inline(__always) var endOfBlock: UInt32 { literals[DeflateTables.endOfBlockSymbol] }
    /// `length` must be in 3...258.
    @inline(__always) func matchLength(_ length: Int) -> UInt32 { matchLengths[length] }
    /// `symbol` must be in 0...29.
    @inline(__always) func distanceCode(_ symbol: Int) -> UInt32 { distanceCodes[symbol] }

    /// Rebuilds the codes from a block's code lengths (each 0...15; at most 288 literal/length and
    /// 32 distance lengths). Fails when either set of lengths is oversubscribed.
    mutating func build(
        literalLengthLengths: UnsafeBufferPointer<UInt8>, distanceLengths: UnsafeBufferPointer<UInt8>
    ) throws(DeflateStreamError) {
        let literalShape = DeflateTables.canonicalCodes(lengths: literalLengthLengths, reversedCodes: reversedCodes)
        guard !literalShape.isOversubscribed else { throw .invalid("literal/length code lengths are oversubscribed") }
        let codes = reversedCodes
        func packed(_ symbol: Int, in lengths: UnsafeBufferPointer<UInt8>) -> UInt32 {
            guard symbol < lengths.count, lengths[symbol] != 0 else { return 0 }
            return UInt32(codes[symbol]) | UInt32(lengths[symbol]) << 24
        }
        for symbol in 0...DeflateTables.endOfBlockSymbol {
            literals[symbol] = packed(symbol, in: literalLengthLengths)
        }
        for length in 3...DeflateTables.maxMatchLength {
            let symbol = DeflateTables.lengthSymbol(forLength: length)
            let code = packed(symbol, in: literalLengthLengths)
            guard code != 0 else {
                matchLengths[length] = 0
                continue
            }
            let codeLength = Int(code >> 24)
            let extraBits = DeflateTables.lengthExtraBits[symbol - 257]
            let extra = UInt32(length - DeflateTables.lengthBase[symbol - 257])
            matchLengths[length] = (code & 0xFF_FFFF) | extra << codeLength | UInt32(codeLength + extraBits) << 24
        }

        let distanceShape = DeflateTables.canonicalCodes(lengths: distanceLengths, reversedCodes: reversedCodes)
        guard !distanceShape.isOversubscribed else { throw .invalid("distance code lengths are oversubscribed") }
        for symbol in 0..<DeflateTables.maxDistanceCodes {
            distanceCodes[symbol] = packed(symbol, in: distanceLengths)
        }
    }
}
