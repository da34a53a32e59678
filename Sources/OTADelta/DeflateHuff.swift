/// Writes a `PuffedStream` back into the exact container and deflate bytes it was puffed from.
package enum DeflateHuff {
    /// Appends the original bytes described by `headers`, `tokens` and `data` to `output`.
    ///
    /// The three parts are treated as hostile: every value is range-checked, every part must be
    /// consumed exactly, and the work is bounded by the parts' sizes. On error `output` is unchanged.
    package static func huff(
        headers: UnsafeRawBufferPointer, tokens: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer,
        into output: inout [UInt8]
    ) throws(DeflateStreamError) {
        var huffer = StreamHuffer(headers: headers, tokens: tokens, data: data)
        try huffer.huffStream()
        huffer.appendOutput(to: &output)
    }
}

/// The state of one huff: readers over the three parts, the bit writer and the block's codes.
private struct StreamHuffer: ~Copyable {
    private var headers: PuffedPartReader
    private var tokens: PuffedPartReader
    private var data: PuffedPartReader
    private var writer: DeflateBitWriter
    private var codes = HuffmanEncodingTable()
    /// Code lengths of a dynamic block's literal/length then distance codes.
    private let dynamicLengths = UnsafeMutableBufferPointer<UInt8>.allocate(
        capacity: DeflateTables.maxLiteralLengthCodes + DeflateTables.maxDistanceCodes)

    init(headers: UnsafeRawBufferPointer, tokens: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) {
        self.headers = PuffedPartReader(headers, part: "headers")
        self.tokens = PuffedPartReader(tokens, part: "tokens")
        self.data = PuffedPartReader(data, part: "data")
        writer = DeflateBitWriter(capacity: headers.count + tokens.count + data.count / 2 + 64)
        dynamicLengths.initialize(repeating: 0)
        codeLengthCodes.initialize(repeating: 0, count: DeflateTables.codeLengthCodes)
    }

    /// Bit-reversed codes of a dynamic block's code-length code.
    private let codeLengthCodes = UnsafeMutablePointer<UInt16>.allocate(capacity: DeflateTables.codeLengthCodes)

    deinit {
        dynamicLengths.deallocate()
        codeLengthCodes.deallocate()
    }

    func appendOutput(to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: writer.bytes.base, count: writer.bytes.count))
    }

    mutating func huffStream() throws(DeflateStreamError) {
        let prefixLength = try headers.varint()
        writer.writeAlignedBytes(try headers.bytes(prefixLength, "the prefix"))

        var blockIndex = 0
        var isFinal = false
        while !isFinal {
            do throws(DeflateStreamError) {
                let header = try headers.byte("a block header")
                guard header <= 5 else {
                    throw .invalid(
                        "block header byte \(header) is not BFINAL | BTYPE << 1 with BTYPE 0...2 at headers byte \(headers.position - 1)"
                    )
                }
                isFinal = header & 1 == 1
                writer.write(UInt64(header), count: 3)
                switch header >> 1 {
                case 0:
                    try huffStoredBlock()
                case 1:
                    try buildFixedCodes()
                    try huffCodes()
                default:
                    try writeDynamicTables()
                    try huffCodes()
                }
            } catch {
                throw error.within("block \(blockIndex)")
            }
            blockIndex += 1
        }

        try writePad("the final byte's padding")
        let suffixLength = try headers.varint()
        writer.writeAlignedBytes(try headers.bytes(suffixLength, "the suffix"))
        try headers.expectEnd()
        try tokens.expectEnd()
        try data.expectEnd()
    }

    /// Writes the bits up to the next byte boundary from a varint that must fit in them.
    private mutating func writePad(_ what: String) throws(DeflateStreamError) {
        let padBits = writer.bitsToByteBoundary
        let position = headers.position
        let pad = try headers.varint()
        guard pad < 1 << padBits else {
            throw .invalid("\(what) value \(pad) does not fit in \(padBits) bits at headers byte \(position)")
        }
        writer.write(UInt64(pad), count: padBits)
    }

    private mutating func huffStoredBlock() throws(DeflateStreamError) {
        try writePad("stored block padding")
        let position = headers.position
        let length = try headers.varint()
        guard length <= 0xFFFF else {
            throw .invalid("stored block LEN \(length) exceeds 65535 at headers byte \(position)")
        }
        writer.write(UInt64(length | (length ^ 0xFFFF) << 16), count: 32)
        let tokenPosition = tokens.position
        let run = try tokens.varint()
        let end = try tokens.varint()
        guard run == length, end == 0 else {
            throw .invalid(
                "stored block of \(length) bytes has tokens \(run), \(end) instead of \(length), 0 at tokens byte \(tokenPosition)"
            )
        }
        writer.writeAlignedBytes(try data.bytes(length, "a stored block"))
    }

    /// Whether `codes` currently holds the fixed codes, so runs of fixed blocks do not rebuild them.
    private var codesAreFixed = false

    private mutating func buildFixedCodes() throws(DeflateStreamError) {
        guard !codesAreFixed else { return }
        codesAreFixed = true
        try DeflateTables.fixedLiteralLengthLengths.withUnsafeBufferPointer {
            (literalLengths) throws(DeflateStreamError) in
            try DeflateTables.fixedDistanceLengths.withUnsafeBufferPointer {
                (distanceLengths) throws(DeflateStreamError) in
                try codes.build(literalLengthLengths: literalLengths, distanceLengths: distanceLengths)
            }
        }
    }

    /// Writes a dynamic block's code descriptions from `headers` and builds its codes.
    private mutating func writeDynamicTables() throws(DeflateStreamError) {
        codesAreFixed = false
        let position = headers.position
        let literalCount = try headers.byte("HLIT") + 257
        let distanceCount = try headers.byte("HDIST") + 1
        let codeLengthCount = try headers.byte("HCLEN") + 4
        guard literalCount <= DeflateTables.maxLiteralLengthCodes, distanceCount <= DeflateTables.maxDistanceCodes,
            codeLengthCount <= DeflateTables.codeLengthCodes
        else {
            throw .invalid(
                "HLIT \(literalCount), HDIST \(distanceCount) or HCLEN \(codeLengthCount) out of range at headers byte \(position)"
            )
        }
        writer.write(UInt64(literalCount - 257 | (distanceCount - 1) << 5 | (codeLengthCount - 4) << 10), count: 14)

        var codeLengthLengths = InlineArray<19, UInt8>(repeating: 0)
        for index in 0..<codeLengthCount {
            let length = try headers.byte("a code-length code length")
            guard length <= DeflateTables.maxCodeLengthCodeLength else {
                throw .invalid("code-length code length \(length) exceeds 7 at headers byte \(headers.position - 1)")
            }
            codeLengthLengths[DeflateTables.codeLengthOrder[index]] = UInt8(length)
            writer.write(UInt64(length), count: 3)
        }
        let shape = codeLengthLengths.span.withUnsafeBufferPointer { lengths in
            DeflateTables.canonicalCodes(lengths: lengths, reversedCodes: codeLengthCodes)
        }
        guard !shape.isOversubscribed else {
            throw .invalid("code-length code lengths are oversubscribed at headers byte \(position + 3)")
        }

        let total = literalCount + distanceCount
        var filled = 0
        while filled < total {
            let symbol = try headers.byte("a code-length symbol")
            guard symbol <= 18 else {
                throw .invalid("code-length symbol \(symbol) exceeds 18 at headers byte \(headers.position - 1)")
            }
            let codeLength = Int(codeLengthLengths[symbol])
            guard codeLength != 0 else {
                throw .invalid("code-length symbol \(symbol) has no code at headers byte \(headers.position - 1)")
            }
            writer.write(UInt64(codeLengthCodes[symbol]), count: codeLength)
            if symbol < 16 {
                dynamicLengths[filled] = UInt8(symbol)
                filled += 1
                continue
            }
            let rule = DeflateTables.repeatRule(forSymbol: symbol)
            let extra = try headers.byte("a code-length repeat count")
            guard extra < 1 << rule.extraBits else {
                throw .invalid(
                    "repeat count \(extra) of code-length symbol \(symbol) does not fit in \(rule.extraBits) bits at headers byte \(headers.position - 1)"
                )
            }
            writer.write(UInt64(extra), count: rule.extraBits)
            try DeflateTables.applyRepeat(
                symbol: symbol, extra: extra, to: dynamicLengths, filled: &filled, total: total,
                at: "headers byte \(headers.position - 2)")
        }

        do throws(DeflateStreamError) {
            try codes.build(
                literalLengthLengths: UnsafeBufferPointer(rebasing: dynamicLengths[0..<literalCount]),
                distanceLengths: UnsafeBufferPointer(rebasing: dynamicLengths[literalCount..<total]))
        } catch {
            throw error.within("dynamic header at headers byte \(position)")
        }
    }

    /// Writes a fixed or dynamic block's literals and matches from `tokens` and `data`, through
    /// its end-of-block symbol.
    private mutating func huffCodes() throws(DeflateStreamError) {
        while true {
            let run = try tokens.varint()
            guard run <= data.remaining else {
                throw .invalid(
                    "literal run of \(run) bytes passes the end of data at data byte \(data.position)")
            }
            if run > 0 {
                try writeLiterals(try data.bytes(run, "a literal run"))
            }

            let tokenPosition = tokens.position
            let lengthToken = try tokens.varint()
            if lengthToken == 0 {
                let code = codes.endOfBlock
                guard code != 0 else {
                    throw .invalid("end-of-block symbol has code length 0 at tokens byte \(tokenPosition)")
                }
                writer.write(HuffmanEncodingTable.bits(code), count: HuffmanEncodingTable.bitCount(code))
                return
            }
            guard lengthToken <= DeflateTables.maxMatchLength - 2 else {
                throw .invalid(
                    "match length \(lengthToken.addingReportingOverflow(2).partialValue) outside 3...258 at tokens byte \(tokenPosition)"
                )
            }
            let length = lengthToken + 2
            let distanceToken = try tokens.varint()
            guard distanceToken < DeflateTables.maxDistance else {
                throw .invalid(
                    "distance \(distanceToken.addingReportingOverflow(1).partialValue) outside 1...32768 at tokens byte \(tokenPosition)"
                )
            }
            let distance = distanceToken + 1
            guard distance <= data.position else {
                throw .invalid(
                    "distance \(distance) reaches before the stream's start at data byte \(data.position)")
            }
            guard length <= data.remaining else {
                throw .invalid("match of \(length) bytes passes the end of data at data byte \(data.position)")
            }

            let lengthCode = codes.matchLength(length)
            guard lengthCode != 0 else {
                throw .invalid(
                    "length \(length) uses symbol \(DeflateTables.lengthSymbol(forLength: length)) with code length 0 at tokens byte \(tokenPosition)"
                )
            }
            writer.write(HuffmanEncodingTable.bits(lengthCode), count: HuffmanEncodingTable.bitCount(lengthCode))

            let distanceSymbol = DeflateTables.distanceSymbol(forDistance: distance)
            let distanceCode = codes.distanceCode(distanceSymbol)
            guard distanceCode != 0 else {
                throw .invalid(
                    "distance \(distance) uses symbol \(distanceSymbol) with code length 0 at tokens byte \(tokenPosition)"
                )
            }
            writer.write(HuffmanEncodingTable.bits(distanceCode), count: HuffmanEncodingTable.bitCount(distanceCode))
            let extra = distance - DeflateTables.distanceBase[distanceSymbol]
            writer.write(UInt64(extra), count: DeflateTables.distanceExtraBits[distanceSymbol])
            data.skip(length)
        }
    }

    @inline(__always)
    private mutating func writeLiterals(_ literals: UnsafeRawBufferPointer) throws(DeflateStreamError) {
        for index in literals.indices {
            let code = codes.literal(literals[index])
            guard code != 0 else {
                throw .invalid(
                    "literal \(literals[index]) has code length 0 at data byte \(data.position - literals.count + index)"
                )
            }
            writer.write(HuffmanEncodingTable.bits(code), count: HuffmanEncodingTable.bitCount(code))
        }
    }
}
