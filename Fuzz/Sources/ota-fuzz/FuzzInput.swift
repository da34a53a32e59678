/// Reads a fuzz input front to back as the parameters of a structured test case (in the manner
/// of LLVM's FuzzedDataProvider): small integers, then byte strings. Running out of bytes gives
/// zeros and empty strings, never a failure, so every input means something.
struct FuzzInput {
    private let bytes: [UInt8]
    private(set) var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }
    var isEmpty: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian integer of `T`'s width.
    mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size { value |= T(byte()) << (8 * index) }
        return value
    }

    /// A value in `range`, from as few bytes as the range needs.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound)
        guard span > 0 else { return range.lowerBound }
        var value: UInt64 = 0
        var width = span
        while width > 0 {
            value = value << 8 | UInt64(byte())
            width >>= 8
        }
        return range.lowerBound + Int(value % (span + 1))
    }

    /// The next `count` bytes (fewer at the end).
    mutating func bytes(_ count: Int) -> [UInt8] {
        let take = max(0, min(count, remaining))
        defer { position += take }
        return Array(bytes[position..<(position + take)])
    }

    /// Everything that is left.
    mutating func rest() -> [UInt8] { bytes(remaining) }
}

/// A small deterministic generator (xorshift64*) for splitting an input into pieces: the same
/// input always splits the same way, so a crash replays.
struct SplitGenerator {
    private var state: UInt64

    init(_ bytes: [UInt8]) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        state = hash | 1
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_f491_4f6c_dd1d
    }

    /// Piece lengths covering `count` bytes: mostly small, sometimes large, never zero.
    mutating func pieces(covering count: Int) -> [Int] {
        var lengths: [Int] = []
        var left = count
        while left > 0 {
            let roll = next()
            let limit = roll % 4 == 0 ? 4096 : roll % 4 == 1 ? 512 : 17
            let length = min(left, 1 + Int((roll >> 8) % UInt64(limit)))
            lengths.append(length)
            left -= length
        }
        return lengths
    }
}
