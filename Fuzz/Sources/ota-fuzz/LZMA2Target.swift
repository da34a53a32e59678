import OTACore

/// The raw LZMA2 piece decoder that delta patches use (`LZMA2StreamDecoder`): one decoder
/// (its dictionary chosen by the input) fed a sequence of pieces, each with a declared output
/// size, as a patch's frames feed it. Input: dictionary exponent, then per piece a 16-bit
/// declared size, a 16-bit length and the piece's bytes.
struct LZMA2Target: FuzzTarget {
    static let name = "lzma2"
    static let summary = "LZMA2StreamDecoder(dictionarySize:).decode(piece, count:) over a sequence of pieces"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        var reader = FuzzInput(input)
        // 4 KiB ... 4 MiB, and now and then a size the decoder must refuse.
        let exponent = reader.byte()
        let dictionarySize: UInt32 = exponent >= 0xf0 ? UInt32(exponent & 0x0f) << 8 : 1 << (12 + UInt32(exponent % 11))
        guard let decoder = try? LZMA2StreamDecoder(dictionarySize: dictionarySize) else { return }
        var output: [UInt8] = []
        while !reader.isEmpty {
            let count = Int(reader.integer(UInt16.self)) * 4
            let length = Int(reader.integer(UInt16.self))
            let piece = reader.bytes(length)
            do throws(OTAError) {
                try decoder.decode(piece, count: count, into: &output)
            } catch {
                return
            }
            if output.count != count {
                FuzzTargets.violated("lzma2: a piece accepted for \(count) bytes gave \(output.count)")
            }
        }
    }
}
