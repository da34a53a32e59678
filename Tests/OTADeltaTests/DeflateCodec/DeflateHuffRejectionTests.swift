import Testing

@testable import OTADelta

/// huff treats its three inputs as hostile: every out-of-range value, inconsistency, truncation
/// or leftover byte is an error, never a trap.
@Suite struct DeflateHuffRejectionTests {
    /// Transmission order of the code-length code lengths.
    static let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Headers of one final dynamic block (HLIT-257, HDIST-1 given; HCLEN from `codeLengthCode`,
    /// which maps code-length symbols to their code lengths), with zero trailing pad and no suffix.
    static func dynamicHeaders(
        literalField: UInt8 = 1, distanceField: UInt8 = 0, codeLengthCode: [Int: UInt8], symbols: [UInt8]
    ) -> [UInt8] {
        let lengthsInOrder = order.map { codeLengthCode[$0] ?? 0 }
        let count = (lengthsInOrder.lastIndex { $0 != 0 } ?? 0) + 1
        let codeLengthCount = max(4, count)
        return [0, 5, literalField, distanceField, UInt8(codeLengthCount - 4)]
            + lengthsInOrder.prefix(codeLengthCount) + symbols + [0, 0]
    }

    /// Literal/length lengths: 'a' (97) → 1, end-of-block → 2, length symbol 257 → 2; distance 0 → 1.
    static let validSymbols: [UInt8] = [18, 86, 1, 18, 127, 18, 9, 2, 2, 1]
    static let validCodeLengthCode: [Int: UInt8] = [18: 1, 1: 2, 2: 2]
    /// "a", then a 3-byte match at distance 1, then end of block.
    static let validTokens: [UInt8] = [1, 1, 0, 0, 0]
    static let validData: [UInt8] = Array("aaaa".utf8)
    static let validHeaders = dynamicHeaders(codeLengthCode: validCodeLengthCode, symbols: validSymbols)

    /// Expects huff to throw an error of `kind` (`nil`: any kind) and leave its output untouched.
    @discardableResult
    func expectHuffError(
        _ kind: DeflateStreamError.Kind?, headers: [UInt8] = validHeaders, tokens: [UInt8] = validTokens,
        data: [UInt8] = validData, sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        var output: [UInt8] = [1, 2, 3]
        let result = headers.withUnsafeBytes { headers in
            tokens.withUnsafeBytes { tokens in
                data.withUnsafeBytes { data in
                    Result { () throws(DeflateStreamError) in
                        try DeflateHuff.huff(headers: headers, tokens: tokens, data: data, into: &output)
                    }
                }
            }
        }
        #expect(output == [1, 2, 3], sourceLocation: sourceLocation)
        switch result {
        case .success:
            Issue.record("huff accepted the input", sourceLocation: sourceLocation)
            return ""
        case .failure(let error):
            if let kind { #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation) }
            return error.message
        }
    }

    @Test func `the hand-built dynamic block huffs and puffs back to the same parts`() throws {
        let bytes = try huff(headers: Self.validHeaders, tokens: Self.validTokens, data: Self.validData)
        let (stream, consumed) = try puff(bytes)
        #expect(consumed == bytes.count)
        #expect(stream == PuffedStream(headers: Self.validHeaders, tokens: Self.validTokens, data: Self.validData))
    }

    @Test func `block header bytes other than BFINAL | BTYPE << 1 with BTYPE 0-2 are rejected`() {
        for header: UInt8 in [6, 7, 8, 0xFF] {
            var headers = Self.validHeaders
            headers[1] = header
            expectHuffError(.invalid, headers: headers)
        }
    }

    @Test func `HLIT, HDIST and HCLEN out of range are rejected`() {
        for (offset, value): (Int, UInt8) in [(2, 30), (2, 255), (3, 30), (4, 16)] {
            var headers = Self.validHeaders
            headers[offset] = value
            #expect(expectHuffError(.invalid, headers: headers).contains("out of range"))
        }
    }

    @Test func `code-length code lengths above 7 are rejected`() {
        var headers = Self.validHeaders
        headers[5 + 2] = 8
        #expect(expectHuffError(.invalid, headers: headers).contains("exceeds 7"))
    }

    @Test func `an oversubscribed code-length code is rejected`() {
        var code = Self.validCodeLengthCode
        code[16] = 1
        let headers = Self.dynamicHeaders(codeLengthCode: code, symbols: Self.validSymbols)
        #expect(expectHuffError(.invalid, headers: headers).contains("oversubscribed"))
    }

    @Test func `code-length symbols above 18 or without a code are rejected`() {
        var symbols = Self.validSymbols
        symbols[0] = 19
        let above = Self.dynamicHeaders(codeLengthCode: Self.validCodeLengthCode, symbols: symbols)
        #expect(expectHuffError(.invalid, headers: above).contains("exceeds 18"))
        symbols[0] = 3
        let uncoded = Self.dynamicHeaders(codeLengthCode: Self.validCodeLengthCode, symbols: symbols)
        #expect(expectHuffError(.invalid, headers: uncoded).contains("has no code"))
    }

    @Test func `repeat counts that do not fit their extra bits are rejected`() {
        let code: [Int: UInt8] = [16: 2, 17: 2, 18: 2, 1: 3, 2: 3]
        for symbols: [UInt8] in [[1, 16, 4], [17, 8], [18, 128], [18, 255]] {
            let headers = Self.dynamicHeaders(codeLengthCode: code, symbols: symbols)
            #expect(expectHuffError(.invalid, headers: headers).contains("does not fit"))
        }
    }

    @Test func `a repeat of the previous length at the start is rejected`() {
        let headers = Self.dynamicHeaders(codeLengthCode: [16: 1, 18: 1], symbols: [16, 0])
        #expect(expectHuffError(.invalid, headers: headers).contains("none before it"))
    }

    @Test func `code lengths must fill exactly HLIT+HDIST`() {
        let overrun = Self.dynamicHeaders(codeLengthCode: [18: 1, 1: 1], symbols: [18, 127, 18, 127])
        #expect(expectHuffError(.invalid, headers: overrun).contains("overrun"))
        // Too few: the header runs out while lengths are still expected.
        let short = Array(Self.validHeaders.dropLast(3))
        expectHuffError(.truncated, headers: short)
    }

    @Test func `oversubscribed literal/length and distance code lengths are rejected`() {
        let literals = Self.dynamicHeaders(
            codeLengthCode: [18: 1, 1: 1], symbols: [1, 1, 1, 18, 127, 18, 107])
        #expect(expectHuffError(.invalid, headers: literals).contains("literal/length code lengths are oversubscribed"))
        let distances = Self.dynamicHeaders(
            distanceField: 2, codeLengthCode: Self.validCodeLengthCode,
            symbols: [18, 86, 1, 18, 127, 18, 9, 2, 2, 1, 1, 1])
        #expect(expectHuffError(.invalid, headers: distances).contains("distance code lengths are oversubscribed"))
    }

    @Test func `symbols whose code length is 0 are rejected`() {
        // End-of-block without a code.
        let noEnd = Self.dynamicHeaders(
            codeLengthCode: Self.validCodeLengthCode, symbols: [18, 86, 1, 18, 127, 18, 10, 2, 1])
        #expect(expectHuffError(.invalid, headers: noEnd).contains("end-of-block"))
        // Literal 'b', length 4 (symbol 258), distance 2 (symbol 1): none has a code.
        #expect(expectHuffError(.invalid, data: Array("baaa".utf8)).contains("literal 98"))
        #expect(expectHuffError(.invalid, tokens: [1, 2, 0, 0, 0], data: Array("aaaaa".utf8)).contains("length 4"))
        #expect(expectHuffError(.invalid, tokens: [2, 1, 1, 0, 0], data: Array("aaaaa".utf8)).contains("distance 2"))
    }

    @Test func `literal runs and matches must stay inside data`() {
        #expect(expectHuffError(.invalid, tokens: [5, 0]).contains("passes the end of data"))
        #expect(expectHuffError(.invalid, data: Array("aaa".utf8)).contains("passes the end of data"))
    }

    @Test func `lengths outside 3-258 and distances outside 1-32768 are rejected`() {
        #expect(expectHuffError(.invalid, tokens: [1, 0x81, 0x02, 0, 0, 0]).contains("length 259"))
        #expect(expectHuffError(.invalid, tokens: [1, 1] + varint(32768) + [0, 0]).contains("distance 32769"))
        #expect(
            expectHuffError(.invalid, tokens: [1, 1] + varint(Int.max) + [0, 0]).contains("outside 1...32768"))
    }

    @Test func `a distance before the stream's start is rejected`() {
        let message = expectHuffError(.invalid, tokens: [1, 1, 1, 0, 0])
        #expect(message == "block 0: distance 2 reaches before the stream's start at data byte 1")
    }

    @Test func `every part must be consumed exactly`() {
        #expect(
            expectHuffError(.invalid, headers: Self.validHeaders + [0]).contains("leftover bytes at the end of headers")
        )
        #expect(
            expectHuffError(.invalid, tokens: Self.validTokens + [0]).contains("leftover bytes at the end of tokens"))
        #expect(expectHuffError(.invalid, data: Self.validData + [0x61]).contains("leftover bytes at the end of data"))
        for length in 0..<Self.validHeaders.count {
            expectHuffError(nil, headers: Array(Self.validHeaders.prefix(length)))
        }
        for length in 0..<Self.validTokens.count {
            expectHuffError(nil, tokens: Array(Self.validTokens.prefix(length)))
        }
        for length in 0..<Self.validData.count {
            expectHuffError(nil, data: Array(Self.validData.prefix(length)))
        }
    }

    @Test func `truncated, overlong and out-of-range varints are rejected`() {
        #expect(expectHuffError(.truncated, tokens: [0x80]).contains("inside a varint"))
        let eleven = [UInt8](repeating: 0x80, count: 10) + [0]
        #expect(expectHuffError(.invalid, tokens: eleven).contains("longer than 10 bytes"))
        let aboveIntMax = [UInt8](repeating: 0xFF, count: 9) + [0x01]
        #expect(expectHuffError(.invalid, tokens: aboveIntMax).contains("exceeds Int.max"))
        // Int.max itself is a valid varint (and then a run far past the data).
        #expect(expectHuffError(.invalid, tokens: varint(Int.max) + [0]).contains("passes the end of data"))
        // A prefix length larger than the headers.
        expectHuffError(.truncated, headers: varint(Int.max) + [1])
    }

    /// A final fixed block with one literal 'a': 3 + 8 + 7 bits, so 6 bits of trailing pad.
    static let fixedHeaders: [UInt8] = [0, 3, 0, 0]

    @Test func `pad values must fit in the pad bits`() throws {
        var headers = Self.fixedHeaders
        headers[2] = 63
        let padded = try huff(headers: headers, tokens: [1, 0], data: [0x61])
        #expect(padded.last! >> 2 == 63)
        headers[2] = 64
        #expect(
            expectHuffError(.invalid, headers: headers, tokens: [1, 0], data: [0x61]).contains("does not fit in 6 bits")
        )

        // Stored block: 3 header bits, then 5 pad bits.
        let stored: [UInt8] = [0, 1, 31, 2, 0, 0]
        #expect(try huff(headers: stored, tokens: [2, 0], data: [9, 8]) == [0xF9, 2, 0, 0xFD, 0xFF, 9, 8])
        var badPad = stored
        badPad[2] = 32
        expectHuffError(.invalid, headers: badPad, tokens: [2, 0], data: [9, 8])
    }

    @Test func `stored blocks need LEN up to 65535 and tokens LEN, 0`() {
        let tooLong: [UInt8] = [0, 1, 0] + varint(65536) + [0, 0]
        #expect(
            expectHuffError(
                .invalid, headers: tooLong, tokens: varint(65536) + [0], data: [UInt8](repeating: 0, count: 65536)
            ).contains("exceeds 65535"))
        let stored: [UInt8] = [0, 1, 0, 2, 0, 0]
        expectHuffError(.invalid, headers: stored, tokens: [3, 0], data: [9, 8])
        expectHuffError(.invalid, headers: stored, tokens: [2, 1], data: [9, 8])
        expectHuffError(.truncated, headers: stored, tokens: [2, 0], data: [9])
    }

    @Test func `prefix and suffix must be present in headers`() {
        expectHuffError(.truncated, headers: [5, 1, 2], tokens: [], data: [])
        expectHuffError(.truncated, headers: [0, 1, 0, 0, 0, 3, 1], tokens: [0, 0], data: [])
    }
}
