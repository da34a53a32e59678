import Testing

@testable import OTADelta

/// Puffs `bytes` (a whole container stream, possibly followed by more bytes).
func puff(
    _ bytes: [UInt8], prefixLength: Int = 0, suffixLength: Int = 0, maxData: Int = 1 << 30
) throws(DeflateStreamError) -> (stream: PuffedStream, consumed: Int) {
    // Array.withUnsafeBytes rethrows untyped errors, so carry the typed error out in a Result.
    try bytes.withUnsafeBytes { buffer in
        Result { () throws(DeflateStreamError) in
            try DeflatePuff.puff(buffer, prefixLength: prefixLength, suffixLength: suffixLength, maxData: maxData)
        }
    }.get()
}

/// Huffs a puffed stream into fresh bytes.
func huff(_ stream: PuffedStream) throws(DeflateStreamError) -> [UInt8] {
    try huff(headers: stream.headers, tokens: stream.tokens, data: stream.data)
}

func huff(headers: [UInt8], tokens: [UInt8], data: [UInt8]) throws(DeflateStreamError) -> [UInt8] {
    var output: [UInt8] = []
    try headers.withUnsafeBytes { headers in
        tokens.withUnsafeBytes { tokens in
            data.withUnsafeBytes { data in
                Result { () throws(DeflateStreamError) in
                    try DeflateHuff.huff(headers: headers, tokens: tokens, data: data, into: &output)
                }
            }
        }
    }.get()
    return output
}

/// Checks that a zlib-made stream puffs to zlib's decompression and huffs back bit for bit.
/// Large arrays are compared outside `#expect`, which would diff them quadratically.
func expectRoundTrip(
    _ compressed: [UInt8], container: DeflateContainer, original: [UInt8], _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let (stream, consumed) = try puff(
        compressed, prefixLength: container.prefixLength, suffixLength: container.suffixLength,
        maxData: original.count)
    #expect(consumed == compressed.count, comment, sourceLocation: sourceLocation)
    let inflated = Zlib.inflate(compressed, container: container)
    let dataIsZlibsDecompression = inflated == stream.data
    #expect(dataIsZlibsDecompression, comment, sourceLocation: sourceLocation)
    let rebuilt = try huff(stream)
    let sameBits = rebuilt == compressed
    #expect(sameBits, comment, sourceLocation: sourceLocation)
}

/// Unsigned LEB128, written independently of the library's encoder.
func varint(_ value: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    var rest = UInt64(value)
    repeat {
        let group = UInt8(rest & 0x7F)
        rest >>= 7
        bytes.append(rest == 0 ? group : group | 0x80)
    } while rest != 0
    return bytes
}

/// Writes deflate bits by hand to craft streams zlib would never produce.
struct TestDeflateBitWriter {
    private(set) var bytes: [UInt8] = []
    private var bitCount = 0

    /// Writes `count` bits of `value`, least significant first (deflate's fields and extra bits).
    mutating func write(_ value: Int, bits count: Int) {
        for bit in 0..<count {
            if bitCount % 8 == 0 { bytes.append(0) }
            if (value >> bit) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(1 << (bitCount % 8)) }
            bitCount += 1
        }
    }

    /// Writes a Huffman code, most significant code bit first.
    mutating func writeCode(_ code: Int, length: Int) {
        for bit in stride(from: length - 1, through: 0, by: -1) { write((code >> bit) & 1, bits: 1) }
    }

    /// Writes a symbol of a canonical code given by `codes`.
    mutating func write(symbol: Int, in codes: [(code: Int, length: Int)]) {
        writeCode(codes[symbol].code, length: codes[symbol].length)
    }

    /// Pads to a byte boundary with `value`.
    mutating func align(padValue value: Int = 0) {
        write(value, bits: (8 - bitCount % 8) % 8)
    }

    mutating func writeBytes(_ data: [UInt8]) {
        precondition(bitCount % 8 == 0)
        bytes += data
        bitCount += 8 * data.count
    }

    /// The RFC 1951 3.2.2 canonical code for `lengths`, computed independently of the library.
    static func canonicalCodes(_ lengths: [Int]) -> [(code: Int, length: Int)] {
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths where length > 0 { counts[length] += 1 }
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for bits in 1...15 {
            code = (code + counts[bits - 1]) << 1
            next[bits] = code
        }
        return lengths.map { length in
            guard length > 0 else { return (0, 0) }
            defer { next[length] += 1 }
            return (next[length], length)
        }
    }

    static let fixedLiteralCodes = canonicalCodes(
        Array(repeating: 8, count: 144) + Array(repeating: 9, count: 112) + Array(repeating: 7, count: 24)
            + Array(repeating: 8, count: 8))
    static let fixedDistanceCodes = canonicalCodes(Array(repeating: 5, count: 32))

    /// Writes a dynamic block header that sends every code length with a flat 4-bit code-length
    /// code (symbols 0-15), and returns the literal/length and distance codes.
    mutating func writeDynamicHeader(
        final: Bool, literalLengths: [Int], distanceLengths: [Int]
    ) -> (literals: [(code: Int, length: Int)], distances: [(code: Int, length: Int)]) {
        write(final ? 1 : 0, bits: 1)
        write(2, bits: 2)
        write(literalLengths.count - 257, bits: 5)
        write(distanceLengths.count - 1, bits: 5)
        write(19 - 4, bits: 4)
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        for symbol in order { write(symbol < 16 ? 4 : 0, bits: 3) }
        for length in literalLengths + distanceLengths { writeCode(length, length: 4) }
        return (Self.canonicalCodes(literalLengths), Self.canonicalCodes(distanceLengths))
    }
}
