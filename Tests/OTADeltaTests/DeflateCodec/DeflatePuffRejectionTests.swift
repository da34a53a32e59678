import Testing

@testable import OTADelta

/// puff refuses every invalid or unreproducible stream with a typed error, and never traps.
@Suite struct DeflatePuffRejectionTests {
    /// Expects puff to throw an error of `kind`, returning its message.
    @discardableResult
    func expectPuffError(
        _ kind: DeflateStreamError.Kind, _ bytes: [UInt8], prefixLength: Int = 0, suffixLength: Int = 0,
        maxData: Int = 1 << 20, sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        do {
            _ = try puff(bytes, prefixLength: prefixLength, suffixLength: suffixLength, maxData: maxData)
            Issue.record("puff accepted the stream", sourceLocation: sourceLocation)
            return ""
        } catch {
            #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation)
            return error.message
        }
    }

    /// A final fixed block holding `body`, then end-of-block.
    func fixedBlock(_ body: (inout TestDeflateBitWriter) -> Void) -> [UInt8] {
        var writer = TestDeflateBitWriter()
        writer.write(1, bits: 1)
        writer.write(1, bits: 2)
        body(&writer)
        writer.write(symbol: 256, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.align()
        return writer.bytes
    }

    @Test func `every truncation of a small dynamic-block stream throws truncated`() throws {
        let input = DeflateTestData.text(2_000)
        let compressed = Zlib.deflate(input, level: 9, container: .zlib)
        #expect(try puff(compressed, prefixLength: 2, suffixLength: 4).consumed == compressed.count)
        for length in 0..<compressed.count {
            expectPuffError(.truncated, Array(compressed.prefix(length)), prefixLength: 2, suffixLength: 4)
        }
    }

    @Test func `every truncation of a stored-block stream throws truncated`() {
        let compressed = Zlib.deflate(DeflateTestData.random(300), level: 0)
        for length in 0..<compressed.count {
            expectPuffError(.truncated, Array(compressed.prefix(length)))
        }
    }

    @Test func `block type 3 is rejected`() {
        var compressed = Zlib.deflate(DeflateTestData.text(1_000))
        compressed[0] |= 0b110
        let message = expectPuffError(.invalid, compressed)
        #expect(message.contains("block 0"))
    }

    @Test func `a distance before the stream's start is rejected`() {
        let stream = fixedBlock { writer in
            writer.write(symbol: 0x61, in: TestDeflateBitWriter.fixedLiteralCodes)
            writer.write(symbol: 257, in: TestDeflateBitWriter.fixedLiteralCodes)  // length 3
            writer.write(symbol: 1, in: TestDeflateBitWriter.fixedDistanceCodes)  // distance 2
        }
        let message = expectPuffError(.invalid, stream)
        #expect(message.contains("distance 2 reaches before the stream's start at data byte 1"))
    }

    @Test func `a stored block whose NLEN is not the complement of LEN is rejected`() {
        var writer = TestDeflateBitWriter()
        writer.write(1, bits: 3)
        writer.align()
        writer.writeBytes([5, 0, 0xFA, 0xFE, 1, 2, 3, 4, 5])
        expectPuffError(.invalid, writer.bytes)
    }

    @Test func `output beyond maxData is rejected`() throws {
        let input = DeflateTestData.repetitive(10_000)
        for level: Int32 in [0, 6] {
            let compressed = Zlib.deflate(input, level: level)
            #expect(try puff(compressed, maxData: input.count).stream.data.count == input.count)
            expectPuffError(.tooLarge, compressed, maxData: input.count - 1)
        }
        let literals = Zlib.deflate(DeflateTestData.random(100), level: 9, strategy: 2 /* Z_HUFFMAN_ONLY */)
        expectPuffError(.tooLarge, literals, maxData: 99)
    }

    @Test func `length 258 written as symbol 284 with extra 31 is not reproducible`() {
        let stream = fixedBlock { writer in
            writer.write(symbol: 0x61, in: TestDeflateBitWriter.fixedLiteralCodes)
            writer.write(symbol: 284, in: TestDeflateBitWriter.fixedLiteralCodes)
            writer.write(31, bits: 5)
            writer.write(symbol: 0, in: TestDeflateBitWriter.fixedDistanceCodes)
        }
        expectPuffError(.notReproducible, stream)
    }

    @Test func `length 257 as symbol 284 with extra 30 is reproducible`() throws {
        let stream = fixedBlock { writer in
            writer.write(symbol: 0x61, in: TestDeflateBitWriter.fixedLiteralCodes)
            writer.write(symbol: 284, in: TestDeflateBitWriter.fixedLiteralCodes)
            writer.write(30, bits: 5)
            writer.write(symbol: 0, in: TestDeflateBitWriter.fixedDistanceCodes)
        }
        let (puffed, _) = try puff(stream)
        #expect(puffed.data == [UInt8](repeating: 0x61, count: 258))
        #expect(try huff(puffed) == stream)
    }

    @Test func `fixed-code length symbols 286 and 287 are rejected`() {
        for symbol in [286, 287] {
            let stream = fixedBlock { writer in
                writer.write(symbol: 0x61, in: TestDeflateBitWriter.fixedLiteralCodes)
                writer.write(symbol: symbol, in: TestDeflateBitWriter.fixedLiteralCodes)
                writer.write(symbol: 0, in: TestDeflateBitWriter.fixedDistanceCodes)
            }
            expectPuffError(.invalid, stream)
        }
    }

    @Test func `fixed-code distance symbols 30 and 31 are rejected`() {
        for symbol in [30, 31] {
            let stream = fixedBlock { writer in
                writer.write(symbol: 0x61, in: TestDeflateBitWriter.fixedLiteralCodes)
                writer.write(symbol: 257, in: TestDeflateBitWriter.fixedLiteralCodes)
                writer.write(symbol: symbol, in: TestDeflateBitWriter.fixedDistanceCodes)
            }
            expectPuffError(.invalid, stream)
        }
    }

    @Test func `HLIT above 286 and HDIST above 30 are rejected as zlib does`() {
        for (literalField, distanceField) in [(30, 0), (31, 0), (0, 30), (0, 31)] {
            var writer = TestDeflateBitWriter()
            writer.write(1, bits: 1)
            writer.write(2, bits: 2)
            writer.write(literalField, bits: 5)
            writer.write(distanceField, bits: 5)
            writer.write(15, bits: 4)
            writer.align()
            writer.write(0x55, bits: 320)
            expectPuffError(.invalid, writer.bytes)
        }
    }

    /// A dynamic header with the given code-length code (lengths in transmission order) and
    /// code-length symbols (with their extra values), for HLIT 257 and HDIST 1.
    func dynamicHeader(codeLengthLengths: [Int], symbols: [(symbol: Int, extra: Int)]) -> [UInt8] {
        var writer = TestDeflateBitWriter()
        writer.write(1, bits: 1)
        writer.write(2, bits: 2)
        writer.write(0, bits: 5)
        writer.write(0, bits: 5)
        writer.write(codeLengthLengths.count - 4, bits: 4)
        for length in codeLengthLengths { writer.write(length, bits: 3) }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var lengths = [Int](repeating: 0, count: 19)
        for (index, length) in codeLengthLengths.enumerated() { lengths[order[index]] = length }
        let codes = TestDeflateBitWriter.canonicalCodes(lengths)
        for (symbol, extra) in symbols {
            writer.write(symbol: symbol, in: codes)
            writer.write(extra, bits: [16: 2, 17: 3, 18: 7][symbol] ?? 0)
        }
        writer.write(0, bits: 64)
        return writer.bytes
    }

    @Test func `an oversubscribed or incomplete code-length code is rejected`() {
        let oversubscribed = dynamicHeader(codeLengthLengths: [1, 1, 1, 1], symbols: [])
        #expect(expectPuffError(.invalid, oversubscribed).contains("oversubscribed"))
        let incomplete = dynamicHeader(codeLengthLengths: [0, 0, 1, 0], symbols: [])
        #expect(expectPuffError(.invalid, incomplete).contains("incomplete"))
    }

    @Test func `a repeat of the previous length with none before it is rejected`() {
        // Code-length code: 16 and 18 with one bit each.
        let stream = dynamicHeader(codeLengthLengths: [1, 0, 1, 0], symbols: [(16, 0)])
        #expect(expectPuffError(.invalid, stream).contains("none before it"))
    }

    @Test func `a repeat overrunning HLIT+HDIST is rejected`() {
        let stream = dynamicHeader(codeLengthLengths: [0, 0, 1, 1], symbols: [(18, 127), (18, 127)])
        #expect(expectPuffError(.invalid, stream).contains("overruns"))
    }

    @Test func `a literal/length code without end-of-block is rejected`() {
        var writer = TestDeflateBitWriter()
        var literalLengths = [Int](repeating: 0, count: 257)
        literalLengths[0] = 1
        literalLengths[1] = 1
        _ = writer.writeDynamicHeader(final: true, literalLengths: literalLengths, distanceLengths: [1])
        writer.write(0, bits: 24)
        #expect(expectPuffError(.invalid, writer.bytes).contains("end-of-block"))
    }

    @Test func `oversubscribed and incomplete literal and distance codes are rejected`() {
        var endOnly = [Int](repeating: 0, count: 257)
        endOnly[256] = 1
        var oversubscribed = endOnly
        oversubscribed[0] = 1
        oversubscribed[1] = 1
        var incomplete = endOnly
        incomplete[256] = 2
        incomplete[0] = 2
        for (literalLengths, distanceLengths) in [
            (oversubscribed, [1]), (incomplete, [1]), (endOnly, [1, 1, 1]), (endOnly, [2, 2, 2]),
        ] {
            var writer = TestDeflateBitWriter()
            _ = writer.writeDynamicHeader(final: true, literalLengths: literalLengths, distanceLengths: distanceLengths)
            writer.write(0, bits: 24)
            expectPuffError(.invalid, writer.bytes)
        }
    }

    @Test func `a code missing from an incomplete single-code table is rejected`() {
        var endOnly = [Int](repeating: 0, count: 257)
        endOnly[256] = 1
        var writer = TestDeflateBitWriter()
        _ = writer.writeDynamicHeader(final: true, literalLengths: endOnly, distanceLengths: [0])
        writer.writeCode(1, length: 1)  // only code "0" exists
        writer.write(0, bits: 16)
        #expect(expectPuffError(.invalid, writer.bytes).contains("invalid code in literal/length table"))
    }

    @Test func `a missing prefix or suffix is truncated`() {
        let compressed = Zlib.deflate(DeflateTestData.text(500), container: .gzip)
        expectPuffError(.truncated, Array(compressed.prefix(9)), prefixLength: 10, suffixLength: 8)
        expectPuffError(.truncated, Array(compressed.dropLast()), prefixLength: 10, suffixLength: 8)
        expectPuffError(.truncated, compressed, prefixLength: 10, suffixLength: 9)
        expectPuffError(.invalid, compressed, prefixLength: -1, suffixLength: 8)
    }

    @Test func `an error message names the block and the deflate byte`() {
        var writer = TestDeflateBitWriter()
        writer.write(0, bits: 3)  // block 0: stored, empty
        writer.align()
        writer.writeBytes([0, 0, 0xFF, 0xFF])
        writer.write(0b010, bits: 3)  // block 1: fixed, one literal
        writer.write(symbol: 0x61, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.write(symbol: 256, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.write(0b011, bits: 3)  // block 2: fixed, final, a match too far back
        writer.write(symbol: 257, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.write(symbol: 4, in: TestDeflateBitWriter.fixedDistanceCodes)
        writer.write(0, bits: 1)
        writer.write(symbol: 256, in: TestDeflateBitWriter.fixedLiteralCodes)
        writer.align()
        let message = expectPuffError(.invalid, writer.bytes)
        #expect(message == "block 2: distance 5 reaches before the stream's start at data byte 1")
    }
}
