internal import OTABase

/// The old-image bytes the inserts stream's LZMA2 dictionary starts with (body compression
/// with the 0x10 bit, docs/FORMAT.md "Inserts primed with old bytes"): `length` bytes from
/// `start`. Inserted code shares many short strings with the old image's code that no op
/// would pay to copy; with them in the dictionary, LZMA2 finds them as matches. Written as two
/// varints right before the first frame.
package struct InsertsPrime: Equatable, Sendable {
    package var start: UInt64
    package var length: UInt64

    package init(start: UInt64, length: UInt64) {
        self.start = start
        self.length = length
    }

    /// Most bytes a block takes (two 10-byte varints).
    static let maxEncodedBytes = 20

    /// A split prime (`DeltaPatchHeader.Prime.oldBytesSplit`) is split in pieces of this many
    /// bytes from its start, the last one shorter: the decoder reads and splits one at a time.
    static let splitPieceBytes = 1 << 16

    /// Appends to `main` the bytes other than operands of `count` old-image bytes at `offset`
    /// (one piece of a split prime), as body coding 5 splits an INSERT's bytes
    /// (`InsertsOperands.split`); the operands are dropped. Inserted x86-64 code in the inserts
    /// stream has no operands: without the old bytes' operands either, LZMA2's matches into the
    /// prime run on across them (0.3-0.8% smaller patches on the Rust tuning corpus's amd64
    /// pairs, 3.3% on held-out cbindgen).
    static func splitPiece(_ bytes: UnsafePointer<UInt8>, count: Int, offset: Int64, main: inout [UInt8]) {
        InsertsOperands.split(bytes, count: count, offset: offset, main: &main) { _, _ in }
    }

    package func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        Varint.append(start, to: &bytes)
        Varint.append(length, to: &bytes)
        return bytes
    }

    /// The old-image ranges the prime is read in, in order: `splitPieceBytes` each from `start`,
    /// the last one shorter. A split prime is split piece by piece, so these are part of the
    /// format; the decoder reads the raw prime in them too.
    var pieces: [(offset: UInt64, count: Int)] {
        stride(from: start, to: start + length, by: Self.splitPieceBytes).map {
            ($0, Int(min(UInt64(Self.splitPieceBytes), start + length - $0)))
        }
    }

    /// This prime's bytes of `old` as a split prime holds them (`splitPiece` over `pieces`), in
    /// a buffer the caller deallocates.
    package func splitOldBytes(_ old: UnsafeBufferPointer<UInt8>) -> UnsafeRawBufferPointer {
        var main: [UInt8] = []
        main.reserveCapacity(Int(length))
        for piece in pieces {
            Self.splitPiece(
                old.baseAddress! + Int(piece.offset), count: piece.count, offset: Int64(piece.offset), main: &main)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(main.count, 1), alignment: 16)
        main.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<main.count])
    }

    /// Reads a block from the start of `bytes`: nil while more bytes are needed; the block and
    /// its length once both numbers are read. Throws `delta.malformed` for a bad number or a
    /// range outside the old image or larger than the inserts' dictionary.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, oldSize: UInt64, dictionarySize: UInt32)
        throws(OTAError) -> (prime: InsertsPrime, length: Int)?
    {
        let read: (values: [UInt64], next: Int)?
        do throws(DeltaFormatError) {
            read = try Varint.read(2, from: bytes, at: 0)
        } catch {
            throw OTAError(.deltaMalformed, "malformed number in the inserts prime block")
        }
        guard let (values, offset) = read else { return nil }
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
