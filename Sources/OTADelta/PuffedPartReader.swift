/// Reads one part of a puffed stream (headers, tokens or data), checking every access.
struct PuffedPartReader {
    let bytes: UnsafeRawBufferPointer
    /// The part's name for error messages.
    let part: StaticString
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer, part: StaticString) {
        self.bytes = bytes
        self.part = part
    }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position == bytes.count }

    mutating func byte(_ what: @autoclosure () -> String) throws(DeflateStreamError) -> Int {
        guard position < bytes.count else {
            throw .truncated("\(part) end where \(what()) should be, at \(part) byte \(position)")
        }
        defer { position += 1 }
        return Int(bytes[position])
    }

    @inline(__always)
    mutating func varint() throws(DeflateStreamError) -> Int {
        // Fast paths for the one- and two-byte varints that make up most tokens.
        if bytes.count &- position >= 2 {
            let first = bytes[position]
            if first < 0x80 {
                position &+= 1
                return Int(first)
            }
            let second = bytes[position &+ 1]
            if second < 0x80 {
                position &+= 2
                return Int(first & 0x7F) | Int(second) << 7
            }
        }
        return try PuffedVarint.decode(bytes, at: &position, part: part)
    }

    /// The next `count` bytes, which must be present.
    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(DeflateStreamError)
        -> UnsafeRawBufferPointer
    {
        guard count <= remaining else {
            throw .truncated("\(what()) of \(count) bytes runs past the \(part) end at \(part) byte \(position)")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    /// Moves past `count` bytes the caller has checked are present.
    mutating func skip(_ count: Int) {
        precondition(count <= remaining)
        position += count
    }

    /// Fails unless every byte has been read.
    func expectEnd() throws(DeflateStreamError) {
        guard isAtEnd else {
            throw .invalid("\(remaining) leftover bytes at the end of \(part), from \(part) byte \(position)")
        }
    }
}
