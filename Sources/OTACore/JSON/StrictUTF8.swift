/// One multi-byte UTF-8 sequence read strictly: a lead byte of 2-4 bytes, continuation bytes,
/// no overlong form, no surrogate, nothing past U+10FFFF. The JSON readers (`StrictJSON`, the
/// record log's `JSONDocument`) both use it, so they refuse exactly the same bytes with the
/// same words.
package enum StrictUTF8 {
    package enum Sequence: Equatable {
        case scalar(Unicode.Scalar, length: Int)
        /// What is wrong, for the reader's error at the sequence's first byte.
        case invalid(String)
    }

    /// The sequence starting at `index` (a byte ≥ 0x80).
    package static func sequence(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Sequence {
        let lead = bytes[index]
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07)
        default: return .invalid("invalid UTF-8")
        }
        guard bytes.count - index >= length else { return .invalid("invalid UTF-8 (truncated sequence)") }
        for offset in 1..<length {
            let next = bytes[index + offset]
            guard next & 0xC0 == 0x80 else { return .invalid("invalid UTF-8") }
            value = value << 6 | UInt32(next & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, value <= 0x10FFFF, let scalar = Unicode.Scalar(value) else {
            return .invalid("invalid UTF-8 (overlong or surrogate)")
        }
        return .scalar(scalar, length: length)
    }
}
