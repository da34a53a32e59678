/// Reads deflate's LSB-first bit stream through a 64-bit window.
///
/// `window` holds `available` unread bits, lowest first; bits above them may hold the following
/// input bits or zeros, so lookups mask what they use and check code lengths against `available`.
struct DeflateBitReader {
    private let bytes: UnsafeRawBufferPointer
    /// Offset in `bytes` where the deflate stream starts (after the container prefix).
    private let start: Int
    /// Next byte of `bytes` to load into the window.
    private var position: Int
    private(set) var window: UInt64 = 0
    private(set) var available = 0

    init(_ bytes: UnsafeRawBufferPointer, start: Int) {
        self.bytes = bytes
        self.start = start
        position = start
    }

    /// Whether every input byte has been loaded into the window.
    var isInputExhausted: Bool { position == bytes.count }

    /// Offset from the deflate stream's start of the byte holding the next unread bit, for messages.
    var deflateByteOffset: Int { (position - start) - (available + 7) / 8 }

    /// Offset in the whole input just past the last partly or fully read byte; exact once the
    /// reader sits on a byte boundary.
    var endOffset: Int { position - available / 8 }

    /// Bits left before the next byte boundary.
    var bitsToByteBoundary: Int { available & 7 }

    /// Tops the window up to at least 57 bits, or as many as the input still has.
    @inline(__always)
    mutating func refill() {
        if bytes.count &- position >= 8 {
            let word = bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
            window |= UInt64(littleEndian: word) &<< UInt64(available)
            position &+= (63 &- available) &>> 3
            available |= 56
        } else {
            while available <= 56 && position < bytes.count {
                window |= UInt64(bytes[position]) &<< UInt64(available)
                position &+= 1
                available &+= 8
            }
        }
    }

    /// Drops `count` bits that the caller has already checked are available.
    @inline(__always)
    mutating func consume(_ count: Int) {
        window &>>= UInt64(count)
        available &-= count
    }

    /// Reads the next `count` (0...32) bits as an integer, first bit least significant.
    @inline(__always)
    mutating func read(_ count: Int, _ what: @autoclosure () -> String) throws(DeflateStreamError) -> Int {
        if available < count {
            refill()
            guard available >= count else {
                throw .truncated("input ends inside \(what()) at deflate byte \(deflateByteOffset)")
            }
        }
        let value = Int(truncatingIfNeeded: window & ((1 &<< UInt64(count)) &- 1))
        consume(count)
        return value
    }

    /// Copies `count` whole bytes to `output`; the reader must sit on a byte boundary.
    mutating func copyAlignedBytes(_ count: Int, to output: inout DeflateOutputBuffer) throws(DeflateStreamError) {
        precondition(available & 7 == 0, "stored bytes must start on a byte boundary")
        guard available / 8 + (bytes.count - position) >= count else {
            throw .truncated(
                "input ends inside \(count) stored bytes that start at deflate byte \(deflateByteOffset)")
        }
        output.reserve(count)
        var remaining = count
        while remaining > 0 && available > 0 {
            output.base[output.count] = UInt8(truncatingIfNeeded: window)
            output.count += 1
            consume(8)
            remaining -= 1
        }
        if available == 0 { window = 0 }
        output.append(UnsafeRawBufferPointer(rebasing: bytes[position..<position + remaining]))
        position += remaining
    }
}
