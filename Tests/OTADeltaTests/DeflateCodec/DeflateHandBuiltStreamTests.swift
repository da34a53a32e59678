import Testing

@testable import OTADelta

/// Streams zlib never writes but deflate allows still round-trip bit for bit.
@Suite struct DeflateHandBuiltStreamTests {
    func expectRoundTrip(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> PuffedStream {
        let (stream, consumed) = try puff(bytes)
        #expect(consumed == bytes.count, sourceLocation: sourceLocation)
        let rebuilt = try huff(stream)
        let same = rebuilt == bytes
        #expect(same, sourceLocation: sourceLocation)
        return stream
    }

    @Test func `every match length and every distance symbol boundary round-trips`() throws {
        var writer = TestDeflateBitWriter()
        writer.write(0b011, bits: 3)  // final, fixed
        let literals = TestDeflateBitWriter.fixedLiteralCodes
        for byte in DeflateTestData.random(40_000, seed: 5) { writer.write(symbol: Int(byte), in: literals) }
        let lengthBase = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
            227, 258,
        ]
        let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        let distanceBase = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
            6145, 8193, 12289, 16385, 24577,
        ]
        let distanceExtra = [
            0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
        ]
        func writeMatch(length: Int, distance: Int) {
            let lengthSymbol = lengthBase.lastIndex { $0 <= length }!
            writer.write(symbol: 257 + lengthSymbol, in: literals)
            writer.write(length - lengthBase[lengthSymbol], bits: lengthExtra[lengthSymbol])
            let distanceSymbol = distanceBase.lastIndex { $0 <= distance }!
            writer.write(symbol: distanceSymbol, in: TestDeflateBitWriter.fixedDistanceCodes)
            writer.write(distance - distanceBase[distanceSymbol], bits: distanceExtra[distanceSymbol])
        }
        for length in 3...258 { writeMatch(length: length, distance: length % 7 + 1) }
        for base in distanceBase {
            writeMatch(length: 3, distance: base)
            if base > 1 { writeMatch(length: 4, distance: base - 1) }
        }
        writeMatch(length: 258, distance: 32768)
        writer.write(symbol: 256, in: literals)
        writer.align(padValue: 0b101)
        _ = try expectRoundTrip(writer.bytes)
    }

    @Test func `nonzero stored padding and trailing bits round-trip`() throws {
        var writer = TestDeflateBitWriter()
        writer.write(0b000, bits: 3)  // stored, not final
        writer.align(padValue: 0b10110)
        writer.writeBytes([3, 0, 0xFC, 0xFF, 7, 8, 9])
        writer.write(0b011, bits: 3)  // fixed, final
        writer.write(symbol: 0x41, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.write(symbol: 256, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.align(padValue: 0b111111)
        let stream = try expectRoundTrip(writer.bytes)
        #expect(stream.headers == [0, 0, 0b10110, 3, 3, 0b111111, 0])
        #expect(stream.tokens == [3, 0, 1, 0])
        #expect(stream.data == [7, 8, 9, 0x41])
    }

    @Test func `dynamic blocks with one distance code, no distance codes, or one literal code round-trip`() throws {
        var writer = TestDeflateBitWriter()
        // Block 0: literals 'a' and 'b', end-of-block; a single distance code of length 1.
        var literalLengths = [Int](repeating: 0, count: 258)
        literalLengths[0x61] = 2
        literalLengths[0x62] = 2
        literalLengths[256] = 2
        literalLengths[257] = 2
        var codes = writer.writeDynamicHeader(final: false, literalLengths: literalLengths, distanceLengths: [0, 1])
        for symbol in [0x61, 0x62, 257] { writer.write(symbol: symbol, in: codes.literals) }
        writer.write(symbol: 1, in: codes.distances)  // distance 2
        writer.write(symbol: 256, in: codes.literals)
        // Block 1: no distance codes at all.
        literalLengths[257] = 0
        literalLengths[0x63] = 2
        codes = writer.writeDynamicHeader(final: false, literalLengths: literalLengths, distanceLengths: [0])
        for symbol in [0x63, 0x61, 256] { writer.write(symbol: symbol, in: codes.literals) }
        // Block 2: only end-of-block, with a one-bit code.
        var endOnly = [Int](repeating: 0, count: 257)
        endOnly[256] = 1
        codes = writer.writeDynamicHeader(final: true, literalLengths: endOnly, distanceLengths: [0])
        writer.write(symbol: 256, in: codes.literals)
        writer.align()
        let stream = try expectRoundTrip(writer.bytes)
        #expect(stream.data == Array("ababaca".utf8))
        #expect(stream.tokens == [2, 1, 1, 0, 0, 2, 0, 0, 0])
    }

    @Test func `long codes of 15 bits decode through the secondary path`() throws {
        // Lengths 1, 2, ..., 14, 15, 15: a complete code with codes longer than the primary table.
        var literalLengths = [Int](repeating: 0, count: 257)
        for (index, symbol) in [
            0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E,
        ].enumerated() {
            literalLengths[symbol] = index + 1
        }
        literalLengths[256] = 15
        var writer = TestDeflateBitWriter()
        let codes = writer.writeDynamicHeader(final: true, literalLengths: literalLengths, distanceLengths: [0])
        let text = (0..<2_000).map { UInt8(0x20 + ($0 * 7919) % 15) }
        for byte in text { writer.write(symbol: Int(byte), in: codes.literals) }
        writer.write(symbol: 256, in: codes.literals)
        writer.align()
        let stream = try expectRoundTrip(writer.bytes)
        let same = stream.data == text
        #expect(same)
    }

    @Test func `a hundred thousand empty fixed blocks round-trip in linear time`() throws {
        let blockCount = 100_000
        let headers: [UInt8] = [0] + [UInt8](repeating: 2, count: blockCount - 1) + [3, 0, 0]
        let tokens = [UInt8](repeating: 0, count: 2 * blockCount)
        let bytes = try huff(headers: headers, tokens: tokens, data: [])
        #expect(bytes.count == (10 * blockCount + 7) / 8)
        let (stream, consumed) = try puff(bytes)
        #expect(consumed == bytes.count)
        let same = stream == PuffedStream(headers: headers, tokens: tokens, data: [])
        #expect(same)
    }
}
