import CZlib
import Testing

@testable import OTADelta

/// huff(puff(x)) == x bit for bit on every kind of stream zlib writes.
@Suite struct DeflateZlibRoundTripTests {
    static let inputs: [(name: String, bytes: [UInt8])] = [
        ("empty", []),
        ("one byte", [0x41]),
        ("random", DeflateTestData.random(40_000)),
        ("text", DeflateTestData.text(120_000)),
        ("repetitive", DeflateTestData.repetitive(60_000)),
    ]

    static let strategies: [Int32] = [Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED]

    @Test(arguments: 0...9, strategies)
    func `every zlib level and strategy round-trips bit for bit`(level: Int32, strategy: Int32) throws {
        for input in Self.inputs {
            let compressed = Zlib.deflate(input.bytes, level: level, strategy: strategy)
            try expectRoundTrip(
                compressed, container: .raw, original: input.bytes,
                "\(input.name), level \(level), strategy \(strategy)")
        }
    }

    @Test(arguments: DeflateContainer.allCases, 8...15)
    func `every window size and container round-trips with memLevel 1 and 9`(
        container: DeflateContainer, windowBits: Int32
    ) throws {
        // zlib accepts an 8-bit window only with the zlib container (and then uses 9).
        guard container == .zlib || windowBits > 8 else { return }
        let inputs = [
            DeflateTestData.text(50_000, seed: 7), DeflateTestData.repetitive(20_000), DeflateTestData.random(3_000),
        ]
        for memLevel: Int32 in [1, 9] {
            for input in inputs {
                let compressed = Zlib.deflate(
                    input, level: 9, windowBits: windowBits, memLevel: memLevel, container: container)
                try expectRoundTrip(
                    compressed, container: container, original: input,
                    "\(container), windowBits \(windowBits), memLevel \(memLevel)")
            }
        }
    }

    @Test(arguments: [1, 6, 9] as [Int32])
    func `a two megabyte mix splits into many blocks of every type and round-trips`(level: Int32) throws {
        let input = DeflateTestData.mixed(2_000_000)
        let compressed = Zlib.deflate(input, level: level, container: .zlib)
        try expectRoundTrip(compressed, container: .zlib, original: input, "level \(level)")

        let blockTypes = try Self.blockTypes(puff(compressed, prefixLength: 2, suffixLength: 4).stream)
        #expect(blockTypes.count > 20)
        #expect(blockTypes.contains(0))
        #expect(blockTypes.contains(2))
    }

    @Test(arguments: [Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_PARTIAL_FLUSH, Z_BLOCK] as [Int32])
    func `flushes mid-stream add empty stored and fixed blocks that round-trip`(mode: Int32) throws {
        let input = DeflateTestData.text(30_000, seed: 11)
        let flushes = [0, 1, 1, 500, 7_000, 7_001, 29_999].map { Zlib.Flush(offset: $0, mode: mode) }
        for container in DeflateContainer.allCases {
            for level: Int32 in [0, 1, 6] {
                let compressed = Zlib.deflate(input, level: level, container: container, flushes: flushes)
                try expectRoundTrip(compressed, container: container, original: input, "\(container) level \(level)")
            }
        }
    }

    @Test func `sync flushes appear as empty stored blocks`() throws {
        let input = DeflateTestData.text(5_000)
        let compressed = Zlib.deflate(input, flushes: [Zlib.Flush(offset: 2_000, mode: Z_SYNC_FLUSH)])
        let (stream, _) = try puff(compressed)
        // Header bytes for a non-final stored block followed by its pad varint and LEN 0.
        let hasEmptyStoredBlock = stream.headers.indices.dropLast(2).contains { index in
            stream.headers[index] == 0 && stream.headers[index + 2] == 0
        }
        #expect(hasEmptyStoredBlock)
        #expect(stream.tokens.suffix(4).contains(0))
    }

    @Test func `long runs become 258-byte matches recorded as L = 256`() throws {
        let input = [UInt8](repeating: 7, count: 10_000)
        let (stream, _) = try puff(Zlib.deflate(input, level: 9))
        // After the first literals, matches of L = 256 (varint 0x80 0x02) with distance - 1 = 0.
        let longestMatch: [UInt8] = [0, 0x80, 0x02, 0]
        let matchCount = (0..<stream.tokens.count - 3).filter { Array(stream.tokens[$0..<$0 + 4]) == longestMatch }
            .count
        #expect(matchCount > 30)
    }

    @Test func `consumed is exact when more bytes follow the stream`() throws {
        let input = DeflateTestData.text(20_000)
        for container in DeflateContainer.allCases {
            for level: Int32 in [0, 1, 9] {
                let compressed = Zlib.deflate(input, level: level, container: container)
                let followed = compressed + DeflateTestData.random(100, seed: 99)
                let (stream, consumed) = try puff(
                    followed, prefixLength: container.prefixLength, suffixLength: container.suffixLength)
                #expect(consumed == compressed.count, "\(container) level \(level)")
                let rebuilt = try huff(stream)
                let same = rebuilt == compressed
                #expect(same)
            }
        }
    }

    @Test func `two concatenated streams puff one at a time`() throws {
        let first = Zlib.deflate(DeflateTestData.text(9_000, seed: 1), container: .gzip)
        let second = Zlib.deflate(DeflateTestData.repetitive(9_000), container: .gzip)
        let both = first + second
        let (_, firstConsumed) = try puff(both, prefixLength: 10, suffixLength: 8)
        #expect(firstConsumed == first.count)
        let (_, secondConsumed) = try puff(Array(both[firstConsumed...]), prefixLength: 10, suffixLength: 8)
        #expect(secondConsumed == second.count)
    }

    /// BTYPE of each block, read back from the headers by walking the format.
    static func blockTypes(_ stream: PuffedStream) throws -> [UInt8] {
        var reader = HeaderWalker(bytes: stream.headers)
        let prefixLength = reader.varint()
        reader.position += prefixLength
        var types: [UInt8] = []
        while true {
            let header = reader.byte()
            types.append(header >> 1)
            switch header >> 1 {
            case 0:
                _ = reader.varint()
                _ = reader.varint()
            case 2:
                let literalCount = Int(reader.byte()) + 257
                let distanceCount = Int(reader.byte()) + 1
                let codeLengthCount = Int(reader.byte()) + 4
                reader.position += codeLengthCount
                var filled = 0
                while filled < literalCount + distanceCount {
                    let symbol = reader.byte()
                    switch symbol {
                    case 16: filled += 3 + Int(reader.byte())
                    case 17: filled += 3 + Int(reader.byte())
                    case 18: filled += 11 + Int(reader.byte())
                    default: filled += 1
                    }
                }
            default: break
            }
            if header & 1 == 1 { return types }
        }
    }

    struct HeaderWalker {
        var bytes: [UInt8]
        var position = 0
        mutating func byte() -> UInt8 {
            defer { position += 1 }
            return bytes[position]
        }
        mutating func varint() -> Int {
            var value = 0
            var shift = 0
            while true {
                let byte = byte()
                value |= Int(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
    }
}
