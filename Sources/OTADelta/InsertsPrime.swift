internal import OTABase

/// The old-image bytes the inserts stream's LZMA2 dictionary starts with (body compression
/// with the 0x10 bit, docs/FORMAT.md "Inserts primed with old bytes"): `length` bytes from
/// `start`. Inserted code shares many short strings with the old image's code that no op
/// would pay to copy; with them in the dictionary, LZMA2 finds them as matches. Written as two
/// varints right before the first frame.
struct InsertsPrime: Equatable, Sendable {
    var start: UInt64
    var length: UInt64

    /// Most bytes a block takes (two 10-byte varints).
    static let maxEncodedBytes = 20

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        Varint.append(start, to: &bytes)
        Varint.append(length, to: &bytes)
        return bytes
    }

    /// Reads a block from the start of `bytes`: nil while more bytes are needed; the block and
    /// its length once both numbers are read. Throws `delta.malformed` for a bad number or a
    /// range outside the old image or larger than the inserts' dictionary.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, oldSize: UInt64, dictionarySize: UInt32)
        throws(OTAError) -> (prime: InsertsPrime, length: Int)?
    {
        var values: [UInt64] = []
        var offset = 0
        do throws(DeltaFormatError) {
            for _ in 0..<2 {
                guard case .value(let value, let next) = try Varint.read(bytes, at: offset) else { return nil }
                values.append(value)
                offset = next
            }
        } catch {
            throw OTAError(.deltaMalformed, "malformed number in the inserts prime block")
        }
        let prime = InsertsPrime(start: values[0], length: values[1])
        guard prime.length > 0, prime.length <= UInt64(dictionarySize) else {
            throw OTAError(
                .deltaMalformed,
                "the inserts prime block names \(prime.length) bytes; it must be 1...\(dictionarySize) (the inserts' dictionary)"
            )
        }
        guard prime.start <= oldSize, prime.length <= oldSize - prime.start else {
            throw OTAError(
                .deltaMalformed,
                "the inserts prime block names old bytes \(prime.start)..<\(prime.start &+ prime.length) outside the \(oldSize)-byte old image"
            )
        }
        return (prime, offset)
    }
}
