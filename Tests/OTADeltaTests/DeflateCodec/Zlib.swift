import CZlib

/// The container around a deflate stream, with the fixed prefix/suffix sizes zlib writes.
enum DeflateContainer: String, CaseIterable, Sendable {
    case raw, zlib, gzip

    /// zlib's windowBits argument selecting this container.
    func windowBits(_ bits: Int32) -> Int32 {
        switch self {
        case .raw: -bits
        case .zlib: bits
        case .gzip: bits + 16
        }
    }

    var prefixLength: Int {
        switch self {
        case .raw: 0
        case .zlib: 2
        case .gzip: 10
        }
    }

    var suffixLength: Int {
        switch self {
        case .raw: 0
        case .zlib: 4
        case .gzip: 8
        }
    }
}

/// Deflate and inflate through the system zlib, to produce and check test streams.
enum Zlib {
    struct Flush: Sendable {
        var offset: Int
        var mode: Int32
    }

    static func deflate(
        _ input: [UInt8], level: Int32 = 6, windowBits: Int32 = 15, memLevel: Int32 = 8,
        strategy: Int32 = Z_DEFAULT_STRATEGY, container: DeflateContainer = .raw, flushes: [Flush] = []
    ) -> [UInt8] {
        var stream = z_stream()
        let status = deflateInit2_(
            &stream, level, Z_DEFLATED, container.windowBits(windowBits), memLevel, strategy,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
        defer { deflateEnd(&stream) }

        var segments: [(range: Range<Int>, mode: Int32)] = []
        var start = 0
        for flush in flushes {
            segments.append((start..<flush.offset, flush.mode))
            start = flush.offset
        }
        segments.append((start..<input.count, Z_FINISH))

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var input = input
        input.withUnsafeMutableBufferPointer { source in
            for segment in segments {
                stream.next_in = source.baseAddress.map { $0 + segment.range.lowerBound }
                stream.avail_in = UInt32(segment.range.count)
                while true {
                    let (status, produced) = buffer.withUnsafeMutableBufferPointer { out in
                        stream.next_out = out.baseAddress
                        stream.avail_out = UInt32(out.count)
                        let status = CZlib.deflate(&stream, segment.mode)
                        return (status, out.count - Int(stream.avail_out))
                    }
                    output.append(contentsOf: buffer[0..<produced])
                    if segment.mode == Z_FINISH {
                        if status == Z_STREAM_END { break }
                        precondition(status == Z_OK || status == Z_BUF_ERROR, "deflate failed: \(status)")
                    } else if produced < buffer.count && stream.avail_in == 0 {
                        break
                    }
                }
            }
        }
        return output
    }

    /// The decompressed bytes, or nil if zlib rejects the stream.
    static func inflate(_ compressed: [UInt8], container: DeflateContainer) -> [UInt8]? {
        var stream = z_stream()
        guard
            inflateInit2_(&stream, container.windowBits(15), zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var compressed = compressed
        return compressed.withUnsafeMutableBufferPointer { source -> [UInt8]? in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            while true {
                let (status, produced) = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                output.append(contentsOf: buffer[0..<produced])
                if status == Z_STREAM_END { return output }
                if status != Z_OK { return nil }
            }
        }
    }
}
