/// Unsigned LEB128 integers: 7 bits per byte, low group first, high bit set when more bytes follow.
enum PuffedVarint {
    /// Ten bytes hold 70 bits, enough for any `Int`.
    static let maxByteCount = 10

    /// Decodes a varint at `position` in `bytes` and advances past it.
    /// Rejects truncation, encodings longer than 10 bytes, and values above `Int.max`.
    /// `part` names the byte string in error messages.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, at position: inout Int, part: StaticString
    ) throws(DeflateStreamError) -> Int {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position - start < maxByteCount else {
                throw .invalid("varint longer than \(maxByteCount) bytes at \(part) byte \(start)")
            }
            guard position < bytes.count else {
                throw .truncated("\(part) end inside a varint that starts at \(part) byte \(start)")
            }
            let byte = bytes[position]
            position += 1
            let group = UInt64(byte & 0x7F)
            // The tenth group starts at bit 63: any bit there exceeds Int.max.
            guard shift < 63 || group == 0 else {
                throw .invalid("varint at \(part) byte \(start) exceeds Int.max")
            }
            value |= group << shift
            if byte < 0x80 { return Int(value) }
            shift += 7
        }
    }
}
