/// Takes a deflate stream apart into a `PuffedStream` (see there for the format).
package enum DeflatePuff {
    /// Puffs the deflate stream in `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: Starts at the container's first byte and may extend past the stream's end.
    ///   - prefixLength: Container bytes before the raw deflate stream, copied verbatim
    ///     (2 for zlib, 10 for a gzip header without optional fields, 0 for raw deflate).
    ///   - suffixLength: Container bytes after the deflate stream's last byte, copied verbatim
    ///     (4 for zlib, 8 for gzip).
    ///   - maxData: Largest decompressed size accepted, a guard against decompression bombs.
    /// - Returns: The puffed stream and the number of bytes it covers (prefix + deflate + suffix).
    /// - Throws: `DeflateStreamError` for truncated or invalid input (checked as strictly as zlib),
    ///   for output over `maxData`, and as `notReproducible` for a length 258 coded as symbol 284.
    package static func puff(
        _ bytes: UnsafeRawBufferPointer, prefixLength: Int, suffixLength: Int, maxData: Int
    ) throws(DeflateStreamError) -> (stream: PuffedStream, consumed: Int) {
        guard prefixLength >= 0, suffixLength >= 0, maxData >= 0 else {
            throw .invalid(
                "negative argument: prefixLength \(prefixLength), suffixLength \(suffixLength), maxData \(maxData)")
        }
        guard bytes.count >= prefixLength else {
            throw .truncated("input of \(bytes.count) bytes is shorter than the \(prefixLength)-byte prefix")
        }
        var puffer = StreamPuffer(bytes, prefixLength: prefixLength, maxData: maxData)
        let consumed = try puffer.puffStream(suffixLength: suffixLength)
        return (puffer.result(), consumed)
    }
}

/// The state of one puff: the bit reader, the three outputs and the decoding tables.
private struct StreamPuffer: ~Copyable {
    private let bytes: UnsafeRawBufferPointer
    private let prefixLength: Int
    private let maxData: Int
    private var reader: DeflateBitReader
    private var headers = DeflateOutputBuffer(capacity: 256)
    private var tokens: DeflateOutputBuffer
    private var data: DeflateOutputBuffer
    private var literalLengths = HuffmanDecodingTable(.literalLength, primaryBits: 10, symbolCapacity: 288)
    private var distances = HuffmanDecodingTable(.distance, primaryBits: 8, symbolCapacity: 32)
    private var codeLengths = HuffmanDecodingTable(.codeLength, primaryBits: 7, symbolCapacity: 19)
    /// Code lengths of a dynamic block's literal/length then distance codes.
    private let dynamicLengths = UnsafeMutableBufferPointer<UInt8>.allocate(
        capacity: DeflateTables.maxLiteralLengthCodes + DeflateTables.maxDistanceCodes)

    init(_ bytes: UnsafeRawBufferPointer, prefixLength: Int, maxData: Int) {
        self.bytes = bytes
        self.prefixLength = prefixLength
        self.maxData = maxData
        reader = DeflateBitReader(bytes, start: prefixLength)
        // `bytes` may run far past the stream (a scanner's candidate reaches the image's end):
        // start small, and let the buffers grow with what the stream really holds.
        let compressedSize = min(bytes.count - prefixLength, Self.initialCapacity)
        let expectedData = min(maxData, 4 * compressedSize)
        data = DeflateOutputBuffer(capacity: max(0, expectedData) + Self.matchSlack)
        tokens = DeflateOutputBuffer(capacity: compressedSize)
        dynamicLengths.initialize(repeating: 0)
    }

    deinit { dynamicLengths.deallocate() }

    /// The compressed bytes the buffers are first sized for.
    private static let initialCapacity = 4 << 10

    /// Room kept free past the data for one longest match plus an 8-byte over-copy.
    private static let matchSlack = DeflateTables.maxMatchLength + 8

    func result() -> PuffedStream {
        PuffedStream(headers: headers.array(), tokens: tokens.array(), data: data.array())
    }

    /// Puffs prefix, blocks, trailing pad and suffix; returns the bytes consumed.
    mutating func puffStream(suffixLength: Int) throws(DeflateStreamError) -> Int {
        headers.appendVarint(prefixLength)
        headers.append(UnsafeRawBufferPointer(rebasing: bytes[0..<prefixLength]))

        var blockIndex = 0
        var isFinal = false
        while !isFinal {
            do throws(DeflateStreamError) {
                let header = try reader.read(3, "a block header")
                headers.append(UInt8(header))
                isFinal = header & 1 == 1
                switch header >> 1 {
                case 0:
                    try puffStoredBlock()
                case 1:
                    buildFixedTables()
                    try puffCodes()
                case 2:
                    try readDynamicTables()
                    try puffCodes()
                default:
                    throw .invalid(
                        "reserved block type 3 at deflate byte \(reader.deflateByteOffset)")
                }
            } catch {
                throw error.within("block \(blockIndex)")
            }
            blockIndex += 1
        }

        headers.appendVarint(try reader.read(reader.bitsToByteBoundary, "the final byte"))
        let deflateEnd = reader.endOffset
        guard bytes.count - deflateEnd >= suffixLength else {
            throw .truncated(
                "input ends \(bytes.count - deflateEnd) bytes after the deflate stream, inside the \(suffixLength)-byte suffix"
            )
        }
        headers.appendVarint(suffixLength)
        headers.append(UnsafeRawBufferPointer(rebasing: bytes[deflateEnd..<deflateEnd + suffixLength]))
        return deflateEnd + suffixLength
    }

    private mutating func puffStoredBlock() throws(DeflateStreamError) {
        headers.appendVarint(try reader.read(reader.bitsToByteBoundary, "stored block padding"))
        let length = try reader.read(16, "a stored block's LEN")
        let complement = try reader.read(16, "a stored block's NLEN")
        guard complement == length ^ 0xFFFF else {
            throw .invalid(
                "stored block NLEN \(complement) is not the complement of LEN \(length) at deflate byte \(reader.deflateByteOffset - 4)"
            )
        }
        headers.appendVarint(length)
        try checkRoom(for: length)
        try reader.copyAlignedBytes(length, to: &data)
        tokens.appendVarint(length)
        tokens.appendVarint(0)
    }

    /// Whether the tables currently hold the fixed codes, so runs of fixed blocks (such as
    /// partial flushes) do not rebuild them each time.
    private var tablesAreFixed = false

    private mutating func buildFixedTables() {
        guard !tablesAreFixed else { return }
        tablesAreFixed = true
        _ = DeflateTables.fixedLiteralLengthLengths.withUnsafeBufferPointer { literalLengths.build(lengths: $0) }
        _ = DeflateTables.fixedDistanceLengths.withUnsafeBufferPointer { distances.build(lengths: $0) }
    }

    /// Reads a dynamic block's code descriptions, recording them in `headers`, and builds the tables.
    private mutating func readDynamicTables() throws(DeflateStreamError) {
        tablesAreFixed = false
        let literalCount = try reader.read(5, "HLIT") + 257
        let distanceCount = try reader.read(5, "HDIST") + 1
        let codeLengthCount = try reader.read(4, "HCLEN") + 4
        guard literalCount <= DeflateTables.maxLiteralLengthCodes, distanceCount <= DeflateTables.maxDistanceCodes
        else {
            throw .invalid(
                "HLIT \(literalCount) or HDIST \(distanceCount) too large at deflate byte \(reader.deflateByteOffset)")
        }
        headers.append(UInt8(literalCount - 257))
        headers.append(UInt8(distanceCount - 1))
        headers.append(UInt8(codeLengthCount - 4))

        var codeLengthLengths = InlineArray<19, UInt8>(repeating: 0)
        for index in 0..<codeLengthCount {
            let length = UInt8(try reader.read(3, "code-length code lengths"))
            codeLengthLengths[DeflateTables.codeLengthOrder[index]] = length
            headers.append(length)
        }
        let codeLengthShape = codeLengthLengths.span.withUnsafeBufferPointer { codeLengths.build(lengths: $0) }
        guard codeLengthShape.isComplete else {
            throw .invalid(
                "code-length code is \(codeLengthShape.isOversubscribed ? "oversubscribed" : "incomplete") at deflate byte \(reader.deflateByteOffset)"
            )
        }

        let total = literalCount + distanceCount
        var filled = 0
        while filled < total {
            reader.refill()
            let symbol = try codeLengths.decode(&reader).symbol
            headers.append(UInt8(symbol))
            if symbol < 16 {
                dynamicLengths[filled] = UInt8(symbol)
                filled += 1
                continue
            }
            let rule = DeflateTables.repeatRule(forSymbol: symbol)
            let extra = try reader.read(rule.extraBits, "a code-length repeat count")
            headers.append(UInt8(extra))
            try DeflateTables.applyRepeat(
                symbol: symbol, extra: extra, to: dynamicLengths, filled: &filled, total: total,
                at: "deflate byte \(reader.deflateByteOffset)")
        }

        guard dynamicLengths[DeflateTables.endOfBlockSymbol] != 0 else {
            throw .invalid("literal/length code has no end-of-block code at deflate byte \(reader.deflateByteOffset)")
        }
        let literalShape = literalLengths.build(
            lengths: UnsafeBufferPointer(rebasing: dynamicLengths[0..<literalCount]))
        guard literalShape.isAcceptableForData else {
            throw .invalid(
                "literal/length code is \(literalShape.isOversubscribed ? "oversubscribed" : "incomplete") at deflate byte \(reader.deflateByteOffset)"
            )
        }
        let distanceShape = distances.build(
            lengths: UnsafeBufferPointer(rebasing: dynamicLengths[literalCount..<total]))
        guard distanceShape.isAcceptableForData else {
            throw .invalid(
                "distance code is \(distanceShape.isOversubscribed ? "oversubscribed" : "incomplete") at deflate byte \(reader.deflateByteOffset)"
            )
        }
    }

    @inline(__always)
    private func checkRoom(for count: Int) throws(DeflateStreamError) {
        guard count <= maxData - data.count else {
            throw DeflateStreamError(
                .tooLarge, "output exceeds maxData \(maxData) at deflate byte \(reader.deflateByteOffset)")
        }
    }

    /// Decodes a fixed or dynamic block's literals and matches until its end-of-block symbol.
    private mutating func puffCodes() throws(DeflateStreamError) {
        // A local copy of the reader lets its window live in registers across the output stores.
        var reader = self.reader
        defer { self.reader = reader }
        var literalRun = 0
        while true {
            reader.refill()
            let entry = try literalLengths.decode(&reader)
            let symbol = entry.symbol
            if symbol < 256 {
                try checkRoom(for: 1)
                data.reserve(1)
                data.base[data.count] = UInt8(truncatingIfNeeded: symbol)
                data.count &+= 1
                literalRun &+= 1
                continue
            }
            if symbol == DeflateTables.endOfBlockSymbol { break }
            guard symbol <= 285 else {
                throw .invalid("invalid length symbol \(symbol) at deflate byte \(reader.deflateByteOffset)")
            }
            let lengthExtra = try reader.read(entry.extraBits, "a length's extra bits")
            let length = entry.base + lengthExtra
            if symbol == 284 && length == DeflateTables.maxMatchLength {
                throw DeflateStreamError(
                    .notReproducible,
                    "length 258 coded as symbol 284 with extra bits 31 at deflate byte \(reader.deflateByteOffset)")
            }

            if reader.available < DeflateTables.maxCodeLength { reader.refill() }
            let distanceEntry = try distances.decode(&reader)
            guard distanceEntry.symbol < DeflateTables.maxDistanceCodes else {
                throw .invalid(
                    "invalid distance symbol \(distanceEntry.symbol) at deflate byte \(reader.deflateByteOffset)")
            }
            let distance = distanceEntry.base + (try reader.read(distanceEntry.extraBits, "a distance's extra bits"))
            guard distance <= data.count else {
                throw .invalid(
                    "distance \(distance) reaches before the stream's start at data byte \(data.count)")
            }
            try checkRoom(for: length)
            copyMatch(length: length, distance: distance)

            tokens.reserve(3 * PuffedVarint.maxByteCount)
            tokens.appendVarint(literalRun)
            tokens.appendVarint(length - 2)
            tokens.appendVarint(distance - 1)
            literalRun = 0
        }
        tokens.appendVarint(literalRun)
        tokens.appendVarint(0)
    }

    /// Appends `length` bytes copied from `distance` bytes back (1...data.count), which may overlap.
    @inline(__always)
    private mutating func copyMatch(length: Int, distance: Int) {
        data.reserve(Self.matchSlack)
        let destination = data.base + data.count
        let source = destination - distance
        if distance >= 8 {
            // 8 bytes at a time; may write up to 7 bytes into the slack past the match.
            var offset = 0
            while offset < length {
                let word = UnsafeRawPointer(source + offset).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(destination + offset).storeBytes(of: word, as: UInt64.self)
                offset &+= 8
            }
        } else if distance == 1 {
            destination.update(repeating: source.pointee, count: length)
        } else {
            for offset in 0..<length { destination[offset] = source[offset] }
        }
        data.count &+= length
    }
}
