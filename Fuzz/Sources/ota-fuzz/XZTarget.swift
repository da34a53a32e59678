import OTACore

/// The xz decoder that unpacks payloads (`XZDecoder`, bounded output and memory): the input
/// decompressed whole, then streamed in pieces of varying sizes. Whether a stream is accepted,
/// and what it decompresses to, must not depend on how it was split.
struct XZTarget: FuzzTarget {
    static let name = "xz"
    static let summary = "XZDecoder.decompress and XZDecoder.update/finish in pieces (same verdict, same bytes)"

    /// Small limits keep iterations fast; the limits themselves are part of what is tested.
    static let outputLimit: UInt64 = 4 << 20
    static let memoryLimit: UInt64 = 16 << 20

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        let whole = try? XZDecoder.decompress(input, outputLimit: Self.outputLimit, memoryLimit: Self.memoryLimit)
        var generator = SplitGenerator(input)
        let split = try? Self.streamed(input, pieces: generator.pieces(covering: input.count))
        if whole != split {
            FuzzTargets.violated(
                "xz: whole input gives \(whole.map { "\($0.count) bytes" } ?? "a refusal"), split input gives \(split.map { "\($0.count) bytes" } ?? "a refusal")"
            )
        }
    }

    static func streamed(_ input: [UInt8], pieces: [Int]) throws(OTAError) -> [UInt8] {
        let decoder = try XZDecoder(memoryLimit: memoryLimit, outputLimit: outputLimit)
        var out: [UInt8] = []
        var start = 0
        for length in pieces {
            try decoder.update(Array(input[start..<(start + length)])) { out += $0 }
            start += length
        }
        try decoder.finish { out += $0 }
        return out
    }
}
