/// Decodes one canonical Huffman code (literal/length, distance or code-length) for puff.
///
/// A primary table indexed by the next `primaryBits` input bits resolves every code up to that
/// length in one lookup; longer codes (rare, since they belong to rare symbols) take a canonical
/// walk over the per-length code counts, one bit at a time.
struct HuffmanDecodingTable: ~Copyable {
    /// A decoded symbol with what the decoder needs next, packed in 32 bits:
    /// code length (bits 0-3, 0 = not in the primary table), extra-bit count (4-7),
    /// symbol (8-16) and base value of a length or distance symbol (17-31).
    struct Entry {
        var raw: UInt32

        init(raw: UInt32) { self.raw = raw }

        init(symbol: Int, extraBits: Int, base: Int) {
            raw = UInt32(extraBits) << 4 | UInt32(symbol) << 8 | UInt32(base) << 17
        }

        @inline(__always) var codeLength: Int { Int(raw & 0xF) }
        @inline(__always) var extraBits: Int { Int(raw >> 4 & 0xF) }
        @inline(__always) var symbol: Int { Int(raw >> 8 & 0x1FF) }
        @inline(__always) var base: Int { Int(raw >> 17) }

        func withCodeLength(_ length: Int) -> Entry { Entry(raw: raw & ~0xF | UInt32(length)) }
    }

    /// Which alphabet the table decodes; decides each symbol's extra bits and base value.
    enum Alphabet {
        case literalLength, distance, codeLength

        var name: String {
            switch self {
            case .literalLength: "literal/length"
            case .distance: "distance"
            case .codeLength: "code-length"
            }
        }

        /// The entry payload for `symbol`; symbols the format forbids (length 286-287,
        /// distance 30-31) get zero extra bits and are rejected by the decoder after lookup.
        func entry(for symbol: Int) -> Entry {
            switch self {
            case .literalLength where symbol > DeflateTables.endOfBlockSymbol && symbol <= 285:
                let index = symbol - 257
                return Entry(
                    symbol: symbol, extraBits: DeflateTables.lengthExtraBits[index],
                    base: DeflateTables.lengthBase[index])
            case .distance where symbol < DeflateTables.maxDistanceCodes:
                return Entry(
                    symbol: symbol, extraBits: DeflateTables.distanceExtraBits[symbol],
                    base: DeflateTables.distanceBase[symbol])
            default:
                return Entry(symbol: symbol, extraBits: 0, base: 0)
            }
        }
    }

    let alphabet: Alphabet
    private let primaryBits: Int
    private let primaryMask: UInt64
    private let entries: UnsafeMutablePointer<UInt32>
    /// Number of codes of each length 0...15, for the long-code walk.
    private let lengthCounts: UnsafeMutablePointer<Int>
    /// Symbols ordered by (code length, symbol): canonical code order.
    private let sortedSymbols: UnsafeMutablePointer<UInt16>
    private let reversedCodes: UnsafeMutablePointer<UInt16>
    private let symbolCapacity: Int

    init(_ alphabet: Alphabet, primaryBits: Int, symbolCapacity: Int) {
        self.alphabet = alphabet
        self.primaryBits = primaryBits
        primaryMask = (1 << UInt64(primaryBits)) - 1
        self.symbolCapacity = symbolCapacity
        entries = .allocate(capacity: 1 << primaryBits)
        entries.initialize(repeating: 0, count: 1 << primaryBits)
        lengthCounts = .allocate(capacity: 16)
        lengthCounts.initialize(repeating: 0, count: 16)
        sortedSymbols = .allocate(capacity: symbolCapacity)
        sortedSymbols.initialize(repeating: 0, count: symbolCapacity)
        reversedCodes = .allocate(capacity: symbolCapacity)
        reversedCodes.initialize(repeating: 0, count: symbolCapacity)
    }

    deinit {
        entries.deallocate()
        lengthCounts.deallocate()
        sortedSymbols.deallocate()
        reversedCodes.deallocate()
    }

    /// Rebuilds the table for `lengths` (each 0...15, at most `symbolCapacity` of them) and
    /// reports their shape; when oversubscribed the table is left unusable and must not be used.
    mutating func build(lengths: UnsafeBufferPointer<UInt8>) -> DeflateTables.CodeShape {
        precondition(lengths.count <= symbolCapacity)
        let shape = DeflateTables.canonicalCodes(lengths: lengths, reversedCodes: reversedCodes)
        guard !shape.isOversubscribed else { return shape }

        entries.update(repeating: 0, count: 1 << primaryBits)
        for symbol in lengths.indices {
            let length = Int(lengths[symbol])
            guard length != 0, length <= primaryBits else { continue }
            let entry = alphabet.entry(for: symbol).withCodeLength(length).raw
            var index = Int(reversedCodes[symbol])
            while index < 1 << primaryBits {
                entries[index] = entry
                index += 1 << length
            }
        }

        // Canonical order for the long-code walk: by length, then by symbol.
        var offsets = InlineArray<16, Int>(repeating: 0)
        lengthCounts[0] = 0
        for length in 1...DeflateTables.maxCodeLength {
            lengthCounts[length] = shape.lengthCounts[length]
            if length > 1 { offsets[length] = offsets[length - 1] + lengthCounts[length - 1] }
        }
        for symbol in lengths.indices where lengths[symbol] != 0 {
            let length = Int(lengths[symbol])
            sortedSymbols[offsets[length]] = UInt16(symbol)
            offsets[length] += 1
        }
        return shape
    }

    /// Decodes the next symbol. The caller refills `reader` first; if fewer bits than the code
    /// needs are left the input is truncated.
    @inline(__always)
    func decode(_ reader: inout DeflateBitReader) throws(DeflateStreamError) -> Entry {
        let entry = Entry(raw: entries[Int(truncatingIfNeeded: reader.window & primaryMask)])
        let length = entry.codeLength
        if length != 0 && length <= reader.available {
            reader.consume(length)
            return entry
        }
        return try decodeLongCode(&reader)
    }

    /// Walks the canonical code one bit at a time (RFC 1951 3.2.2 ordering, as zlib's puff.c):
    /// codes of each length form a consecutive range that follows the previous length's range.
    @inline(never)
    private func decodeLongCode(_ reader: inout DeflateBitReader) throws(DeflateStreamError) -> Entry {
        reader.refill()
        var bits = reader.window
        var code = 0  // bits read so far, first bit most significant
        var firstCode = 0  // first canonical code of the current length
        var index = 0  // position of that first code's symbol in sortedSymbols
        for length in 1...DeflateTables.maxCodeLength {
            guard length <= reader.available else {
                throw .truncated(
                    "input ends inside a \(alphabet.name) code at deflate byte \(reader.deflateByteOffset)")
            }
            code |= Int(bits & 1)
            bits >>= 1
            let count = lengthCounts[length]
            if code - firstCode < count {
                let symbol = Int(sortedSymbols[index + code - firstCode])
                reader.consume(length)
                return alphabet.entry(for: symbol).withCodeLength(length)
            }
            index += count
            firstCode = (firstCode + count) << 1
            code <<= 1
        }
        throw .invalid("invalid code in \(alphabet.name) table at deflate byte \(reader.deflateByteOffset)")
    }
}
