/// Writes deflate's LSB-first bit stream through a 64-bit accumulator, 32 bits at a time.
struct DeflateBitWriter: ~Copyable {
    private(set) var bytes: DeflateOutputBuffer
    private var accumulator: UInt64 = 0
    /// Bits in `accumulator` not yet stored, always below 32 between writes.
    private var pending = 0

    init(capacity: Int) {
        bytes = DeflateOutputBuffer(capacity: capacity)
    }

    /// Bits left before the next byte boundary.
    var bitsToByteBoundary: Int { (8 - pending & 7) & 7 }

    /// Writes the low `count` (0...32) bits of `bits`; the bits above `count` must be zero.
    @inline(__always)
    mutating func write(_ bits: UInt64, count: Int) {
        accumulator |= bits &<< UInt64(pending)
        pending &+= count
        if pending >= 32 {
            bytes.reserve(4)
            UnsafeMutableRawPointer(bytes.base + bytes.count)
                .storeBytes(of: UInt32(truncatingIfNeeded: accumulator).littleEndian, as: UInt32.self)
            bytes.count &+= 4
            accumulator &>>= 32
            pending &-= 32
        }
    }

    /// Appends whole bytes; the writer must sit on a byte boundary.
    mutating func writeAlignedBytes(_ source: UnsafeRawBufferPointer) {
        precondition(pending & 7 == 0, "aligned bytes written off a byte boundary")
        flushWholeBytes()
        bytes.append(source)
    }

    /// Stores every complete byte in the accumulator; at most 7 bits stay pending.
    mutating func flushWholeBytes() {
        while pending >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: accumulator))
            accumulator >>= 8
            pending -= 8
        }
    }
}
