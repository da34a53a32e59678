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
            #expect(try XZDecoder.decompress(compressed, outputLimit: UInt64(data.count)) == data)
        }
    }

    @Test func `an xz bomb stops at the output limit`() throws {
        let bomb = try XZEncoder.compress([UInt8](repeating: 0, count: 20_000_000), preset: 9)
        #expect(bomb.count < 10_000)
        #expect(throws: OTAError(.xzOutputLimit, "")) { try XZDecoder.decompress(bomb, outputLimit: 1_000_000) }
    }

    @Test func `a stream needing more memory than allowed is refused`() throws {
        let large = try XZEncoder.compress([UInt8](repeating: 1, count: 1000), preset: 9)  // 64 MiB dictionary
        #expect(throws: OTAError(.xzMemoryLimit, "")) { try XZDecoder.decompress(large, outputLimit: 10_000, memoryLimit: 1 << 20) }
    }

    @Test func `truncated, corrupt and trailing data are each refused`() throws {
        let compressed = try XZEncoder.compress(Array("hello hello hello hello".utf8))
        #expect(throws: OTAError(.xzTruncated, "")) { try XZDecoder.decompress(Array(compressed.dropLast(5)), outputLimit: 1000) }
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xff
        #expect(throws: (any Error).self) { try XZDecoder.decompress(corrupt, outputLimit: 1000) }
        #expect(throws: OTAError(.xzTrailingData, "")) { try XZDecoder.decompress(compressed + [0x41], outputLimit: 1000) }
        #expect(throws: OTAError(.xzFormat, "")) { try XZDecoder.decompress(Array("not xz at all".utf8), outputLimit: 1000) }
    }
}
