/// One instruction of the op stream; together the ops cover the new image front to back.
///
/// Old positions are absolute here; on the wire they are stored relative to the end of the
/// previous COPY/ADD's old range (zigzag varint), which compresses far better.
enum DeltaOperation: Equatable {
    /// new = old[oldStart ..< oldStart + length]
    case copy(oldStart: Int, length: Int)
    /// new[i] = old[oldStart + i] &+ diff[i]; the differences follow, run-length coded
    /// (`DeltaEncoder.addPayload`).
    case add(oldStart: Int, length: Int)
    /// new = the `length` bytes that follow in the stream (taken from the new image here).
    case insert(length: Int)
    /// new = the next `length` bytes the recompressed-streams block rebuilt (`RecompressedStreams`):
    /// one of its streams, whole (`RebuiltRangeCutter`); written as RECOMPRESSED ops.
    case rebuilt(length: Int)

    static let copyCode: UInt8 = 1
    static let addCode: UInt8 = 2
    static let insertCode: UInt8 = 3
    /// An ADD whose old bytes first have their references predicted (format 3 only).
    static let predictedAddCode: UInt8 = 4
    /// The next bytes the recompressed-streams block rebuilt (`RecompressedStreams`; body
    /// compression with the 0x80 bit only).
    static let recompressedCode: UInt8 = 5

    /// `count` of this op's bytes from its `offset`-th on.
    func slice(from offset: Int, count: Int) -> DeltaOperation {
        switch self {
        case .copy(let oldStart, _): .copy(oldStart: oldStart + offset, length: count)
        case .add(let oldStart, _): .add(oldStart: oldStart + offset, length: count)
        case .insert: .insert(length: count)
        case .rebuilt: .rebuilt(length: count)
        }
    }

    var length: Int {
        switch self {
        case .copy(_, let length), .add(_, let length), .insert(let length), .rebuilt(let length): length
        }
    }
}

/// LEB128 varints (7 bits a byte, low first) and zigzag signed mapping.
enum Varint {
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func byteCount(_ value: UInt64) -> Int {
        var v = value
        var count = 1
        while v >= 0x80 {
            v >>= 7
            count += 1
        }
        return count
    }

    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    enum Parse: Equatable {
        case value(UInt64, next: Int)
        case incomplete
    }

    /// Reads a varint at `offset`; a varint longer than 10 bytes or above 2^64 is malformed.
    static func read(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(DeltaFormatError) -> Parse {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var index = offset
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if shift == 63 && byte > 1 { throw .malformedVarint }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return .value(value, next: index) }
            shift += 7
            if shift > 63 { throw .malformedVarint }
        }
        return .incomplete
    }

    /// Reads `count` varints one after another from `offset`: the values and the index after
    /// the last, or nil while `bytes` ends before the last is complete (a block's numbers
    /// collected as the patch's bytes come).
    static func read(_ count: Int, from bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(DeltaFormatError)
        -> (values: [UInt64], next: Int)?
    {
        var values: [UInt64] = []
        var next = offset
        for _ in 0..<count {
            guard case .value(let value, let after) = try read(bytes, at: next) else { return nil }
            values.append(value)
            next = after
        }
        return (values, next)
    }

    static func read(_ count: Int, from bytes: [UInt8], at offset: Int) throws(DeltaFormatError) -> (
        values: [UInt64], next: Int
    )? {
        try bytes.withUnsafeBufferPointer { (bytes) throws(DeltaFormatError) in try read(count, from: bytes, at: offset)
        }
    }
}

enum DeltaFormatError: Error { case malformedVarint }
