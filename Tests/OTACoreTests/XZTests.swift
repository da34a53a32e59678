import OTACore
import Testing

@Suite("xz streams")
struct XZTests {
    @Test func `compress then decompress, single and multi-threaded`() throws {
        let data = (0..<1_000_000).map { UInt8(truncatingIfNeeded: ($0 / 100) &* 7) }
        for threads in [1, 2] {
            let encoder = try XZEncoder(preset: 3, threads: threads)
            var compressed: [UInt8] = []
            for start in stride(from: 0, to: data.count, by: 70_000) {
                try encoder.update(data[start..<min(start + 70_000, data.count)]) { compressed += $0 }
            }
            try encoder.finish { compressed += $0 }
            #expect(compressed.count < data.count / 10)
            for decoderThreads in [1, 2] {
                #expect(
                    try XZDecoder.decompress(compressed, outputLimit: UInt64(data.count), threads: decoderThreads)
                        == data)
            }
        }
    }

    @Test func `the multi-threaded decoder gives the same bytes, fed in pieces of any size`() throws {
        // Blocks of 1 MiB (preset 0, multi-threaded encoder), so two decoder threads have work.
        let data = (0..<5_000_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) & 0x3f }
        let compressed = try XZEncoder(preset: 0, threads: 2).compressAll(data)
        for threads in [1, 2] {
            for piece in [1, 4093, 1 << 20] {
                let decoder = try XZDecoder(outputLimit: UInt64(data.count), threads: threads)
                var out: [UInt8] = []
                for start in stride(from: 0, to: compressed.count, by: piece) {
                    try decoder.update(compressed[start..<min(start + piece, compressed.count)]) { out += $0 }
                }
                try decoder.finish { out += $0 }
                #expect(out == data, "threads \(threads), pieces of \(piece)")
            }
        }
    }

    @Test func `a multi-block xz bomb stops at the output limit with two decoder threads`() throws {
        let bomb = try XZEncoder(preset: 0, threads: 2).compressAll([UInt8](repeating: 0, count: 20_000_000))
        #expect(throws: OTAError(.xzOutputLimit, "")) {
            try XZDecoder.decompress(bomb, outputLimit: 1_000_000, threads: 2)
        }
    }

    @Test func `an xz bomb stops at the output limit`() throws {
        let bomb = try XZEncoder.compress([UInt8](repeating: 0, count: 20_000_000), preset: 9)
        #expect(bomb.count < 10_000)
        #expect(throws: OTAError(.xzOutputLimit, "")) { try XZDecoder.decompress(bomb, outputLimit: 1_000_000) }
    }

    @Test func `a stream needing more memory than allowed is refused`() throws {
        let large = try XZEncoder.compress([UInt8](repeating: 1, count: 1000), preset: 9)  // 64 MiB dictionary
        for threads in [1, 2] {
            #expect(throws: OTAError(.xzMemoryLimit, "")) {
                try XZDecoder.decompress(large, outputLimit: 10_000, memoryLimit: 1 << 20, threads: threads)
            }
        }
    }

    @Test(arguments: [1, 2]) func `truncated, corrupt and trailing data are each refused`(threads: Int) throws {
        for compressed in [
            try XZEncoder.compress(Array("hello hello hello hello".utf8)),
            try XZEncoder(preset: 0, threads: 2).compressAll(Array(repeating: 7, count: 3 << 20)),
        ] {
            let limit = UInt64(4 << 20)
            #expect(throws: OTAError(.xzTruncated, "")) {
                try XZDecoder.decompress(Array(compressed.dropLast(5)), outputLimit: limit, threads: threads)
            }
            var corrupt = compressed
            corrupt[corrupt.count / 2] ^= 0xff
            #expect(throws: (any Error).self) {
                try XZDecoder.decompress(corrupt, outputLimit: limit, threads: threads)
            }
            #expect(throws: OTAError(.xzTrailingData, "")) {
                try XZDecoder.decompress(compressed + [0x41], outputLimit: limit, threads: threads)
            }
        }
        #expect(throws: OTAError(.xzFormat, "")) {
            try XZDecoder.decompress(Array("not xz at all".utf8), outputLimit: 1000, threads: threads)
        }
    }
}

extension XZEncoder {
    func compressAll(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        try update(data) { out += $0 }
        try finish { out += $0 }
        return out
    }
}
