public import OTACore

/// Where the decoder reads the old image: a slot file or block device, by offset.
public protocol DeltaSource: AnyObject {
    /// The image's size in bytes.
    var byteCount: Int64 { get }
    /// Exactly `count` bytes at `offset` (the decoder only asks inside `0..<byteCount`).
    func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8]
}

/// An old image in a file, read with `pread`.
public final class FileDeltaSource: DeltaSource {
    public let file: InputFile
    public let byteCount: Int64

    public init(path: String) throws(OTAError) {
        file = try InputFile(path: path)
        byteCount = try file.byteCount()
    }

    public func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        let bytes = try file.read(at: offset, count: count)
        guard bytes.count == count else {
            throw OTAError(.ioShortRead, "\(file.path): the old image ended early (changed while reading?)")
        }
        return bytes
    }
}

/// An old image held in memory (tests, small images).
public final class MemoryDeltaSource: DeltaSource {
    public let bytes: [UInt8]
    public var byteCount: Int64 { Int64(bytes.count) }
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        Array(bytes[Int(offset)..<Int(offset) + count])
    }
}

/// Limits the decoder enforces against a hostile patch.
public struct DeltaLimits: Sendable {
    /// The most memory the four stream decoders may use together (about the sum of their
    /// dictionaries): refuses patches made for a larger budget than the vehicle's.
    public var xzMemoryLimit: UInt64 = 32 << 20

    public init() {}
}

/// The streaming patch applier: feed it the patch's bytes in any pieces; it reads the old image
/// by offset and hands the new image out in order, in pieces of at most 256 KiB.
///
/// Before any output it checks the old image's size and hash against the header; at the end
/// it checks the new image's hash. Frames and ops are bounds-checked against the header's
/// sizes, so a hostile patch cannot read outside the old image, write past the new size or make
/// the decoder allocate more than its fixed buffers (the stream dictionaries, at most
/// `limits.xzMemoryLimit`, 11 MiB by default, plus at most about 5 MiB: one frame of at most
/// 2 MiB of stream bytes, one compressed piece, a 256 KiB old-image cache and output piece).
public final class DeltaDecoder {
    public private(set) var header: DeltaPatchHeader?
    private let source: any DeltaSource
    private let limits: DeltaLimits
    private let output: ([UInt8]) throws(OTAError) -> Void
    private var newHasher: Hasher?

    private enum Phase {
        case header
        case frameHeader
        /// Collecting the compressed piece of stream `index` of the current frame.
        case piece(index: Int)
    }
    private var phase = Phase.header
    /// Bytes of the header, frame header or piece being collected.
    private var pending: [UInt8] = []
    private var decoders: [LZMA2StreamDecoder] = []
    private var rawSizes = [Int](repeating: 0, count: PatchStream.allCases.count)
    private var packedSizes = [Int](repeating: 0, count: PatchStream.allCases.count)
    /// The current frame's decoded streams and how far the ops have read each.
    private var streams = [[UInt8]](repeating: [], count: PatchStream.allCases.count)
    private var cursors = [Int](repeating: 0, count: PatchStream.allCases.count)
    /// Stream bytes of all frames so far (the header declares the total).
    private var rawSeen: UInt64 = 0

    private var oldCursor: Int64 = 0
    /// Output bytes accounted for by the ops run so far.
    private var written: Int64 = 0
    private var outBuffer: [UInt8] = []
    private static let outPiece = 256 << 10

    // A small cache of old bytes so runs of short ops do not each cost a pread.
    private var cache: [UInt8] = []
    private var cacheStart: Int64 = -1
    private static let cacheSize = 256 << 10
    private static let readAhead = 64 << 10

    /// - Parameter output: receives the new image's bytes in order.
    public init(
        source: any DeltaSource, limits: DeltaLimits = DeltaLimits(),
        output: @escaping ([UInt8]) throws(OTAError) -> Void
    ) {
        self.source = source
        self.limits = limits
        self.output = output
    }

    /// Consumes the next bytes of the patch.
    public func update(_ bytes: [UInt8]) throws(OTAError) {
        var index = 0
        while index < bytes.count {
            switch phase {
            case .header:
                let take = min(DeltaPatchHeader.byteCount - pending.count, bytes.count - index)
                pending += bytes[index..<(index + take)]
                index += take
                if pending.count == DeltaPatchHeader.byteCount {
                    try start()
                    pending.removeAll()
                    phase = .frameHeader
                }
            case .frameHeader:
                guard let header, rawSeen < header.bodySize else {
                    throw OTAError(.deltaTrailingData, "data after the end of the patch body")
                }
                pending.append(bytes[index])
                index += 1
                try parseFrameHeader()
            case .piece(let stream):
                let take = min(packedSizes[stream] - pending.count, bytes.count - index)
                pending += bytes[index..<(index + take)]
                index += take
                if pending.count == packedSizes[stream] { try finishPiece(stream) }
            }
        }
    }

    /// Confirms the patch ended exactly after the last frame and the new image's hash matches.
    public func finish() throws(OTAError) -> DeltaPatchHeader {
        guard let header, let newHasher else {
            throw OTAError(.deltaTruncated, "patch ends inside its header")
        }
        guard case .frameHeader = phase, pending.isEmpty, rawSeen == header.bodySize else {
            throw OTAError(
                .deltaTruncated, "patch body ends early (\(rawSeen) of \(header.bodySize) stream bytes decoded)")
        }
        guard written == Int64(header.newSize) else {
            throw OTAError(
                .deltaShortOutput, "patch ops produce \(written) bytes, header declares \(header.newSize)")
        }
        try flush()
        guard newHasher.finalize().constantTimeEquals(header.newHash) else {
            throw OTAError(
                .deltaResultMismatch,
                "the rebuilt image's \(header.hashAlgorithm.rawValue) does not match the patch header")
        }
        return header
    }

    private func start() throws(OTAError) {
        let header = try DeltaPatchHeader.decode(pending)
        let memory = header.dictionarySizes.reduce(UInt64(0)) { $0 + UInt64($1) }
        guard memory <= limits.xzMemoryLimit else {
            throw OTAError(
                .deltaMemoryLimit,
                "patch streams need \(memory >> 20) MiB of decoder dictionaries, more than the \(limits.xzMemoryLimit >> 20) MiB allowed"
            )
        }
        guard source.byteCount == Int64(header.oldSize) else {
            throw OTAError(
                .deltaSourceMismatch,
                "the old image has \(source.byteCount) bytes, the patch expects \(header.oldSize)")
        }
        // Verify the whole old image before writing anything.
        let hasher = try Hasher(header.hashAlgorithm)
        var offset: Int64 = 0
        while offset < source.byteCount {
            let count = Int(min(Int64(Self.cacheSize), source.byteCount - offset))
            hasher.update(try source.read(at: offset, count: count))
            offset += Int64(count)
        }
        guard hasher.finalize().constantTimeEquals(header.oldHash) else {
            throw OTAError(
                .deltaSourceMismatch,
                "the old image's \(header.hashAlgorithm.rawValue) does not match the patch's source hash")
        }
        do {
            decoders = try header.dictionarySizes.map { (size) throws(OTAError) in
                try LZMA2StreamDecoder(dictionarySize: size)
            }
        } catch {
            throw Self.translate(error)
        }
        self.header = header
        newHasher = try Hasher(header.hashAlgorithm)
        outBuffer.reserveCapacity(Self.outPiece)
    }

    /// Maps LZMA2 failures to delta codes, so a caller sees one family.
    private static func translate(_ error: OTAError) -> OTAError {
        switch error.code {
        case .xzOutputLimit:
            return OTAError(
                .deltaBodyTooLarge, "a patch stream decompresses to more than its frame declares (xz bomb?)",
                cause: error.message)
        case .xzTruncated:
            return OTAError(.deltaCorrupt, "a patch stream piece decodes to less than its frame declares", cause: error.message)
        case .xzTrailingData, .xzCorrupt, .xzFormat, .xzOptions, .xzFailed, .xzMemoryLimit:
            return OTAError(.deltaCorrupt, "patch body is not valid LZMA2 data", cause: error.message)
        default:
            return error
        }
    }

    // MARK: - Frames

    /// Tries to read the frame header collected in `pending`: raw then packed size per stream.
    private func parseFrameHeader() throws(OTAError) {
        guard let header else { return }
        var values: [UInt64] = []
        var offset = 0
        do throws(DeltaFormatError) {
            for _ in 0..<PatchFrame.headerFields {
                let parse = try pending.withUnsafeBufferPointer { (p) throws(DeltaFormatError) in
                    try Varint.read(p, at: offset)
                }
                guard case .value(let value, let next) = parse else { return }
                values.append(value)
                offset = next
            }
        } catch {
            throw OTAError(.deltaMalformed, "malformed number in a frame header at output offset \(written)")
        }
        pending.removeAll(keepingCapacity: true)
        let count = PatchStream.allCases.count
        let raw = values[0..<count]
        let packed = values[count...]
        let total = raw.reduce(UInt64(0)) { $0 &+ min($1, UInt64(PatchFrame.maxRawBytes) + 1) }
        guard raw.allSatisfy({ $0 <= UInt64(PatchFrame.maxRawBytes) }), total <= UInt64(PatchFrame.maxRawBytes) else {
            throw OTAError(
                .deltaMalformed, "a frame declares more than \(PatchFrame.maxRawBytes) stream bytes (\(Array(raw)))")
        }
        guard total > 0 else { throw OTAError(.deltaMalformed, "empty frame in patch at output offset \(written)") }
        guard total <= header.bodySize - rawSeen else {
            throw OTAError(
                .deltaBodyTooLarge,
                "frames declare more stream bytes than the header's \(header.bodySize) (xz bomb?)")
        }
        for (r, p) in zip(raw, packed) {
            guard p <= UInt64(PatchFrame.maxPacked(raw: Int(r))), (p == 0) == (r == 0) else {
                throw OTAError(
                    .deltaMalformed, "a frame declares \(p) compressed bytes for \(r) stream bytes")
            }
        }
        rawSizes = raw.map { Int($0) }
        packedSizes = packed.map { Int($0) }
        rawSeen += total
        try nextPiece(after: -1)
    }

    /// Moves to the next stream with a non-empty piece, or runs the frame when none is left.
    private func nextPiece(after stream: Int) throws(OTAError) {
        var next = stream + 1
        while next < PatchStream.allCases.count && packedSizes[next] == 0 {
            streams[next].removeAll(keepingCapacity: true)
            next += 1
        }
        if next < PatchStream.allCases.count {
            phase = .piece(index: next)
        } else {
            phase = .frameHeader
            try runFrame()
        }
    }

    private func finishPiece(_ stream: Int) throws(OTAError) {
        do {
            try decoders[stream].decode(pending, count: rawSizes[stream], into: &streams[stream])
        } catch {
            throw Self.translate(error)
        }
        pending.removeAll(keepingCapacity: true)
        try nextPiece(after: stream)
    }

    // MARK: - Ops

    /// Runs the ops of the current frame; every stream must be used up exactly.
    private func runFrame() throws(OTAError) {
        for i in cursors.indices { cursors[i] = 0 }
        let control = PatchStream.control.rawValue
        while cursors[control] < streams[control].count {
            try runOp()
        }
        for stream in PatchStream.allCases where cursors[stream.rawValue] != streams[stream.rawValue].count {
            throw OTAError(
                .deltaMalformed,
                "a frame's \(stream) stream holds \(streams[stream.rawValue].count - cursors[stream.rawValue]) bytes no op uses"
            )
        }
    }

    /// The next varint of `stream` in this frame; its absence is a malformed patch.
    private func varint(_ stream: PatchStream, _ what: String) throws(OTAError) -> UInt64 {
        let parse: Varint.Parse
        do throws(DeltaFormatError) {
            parse = try streams[stream.rawValue].withUnsafeBufferPointer { (p) throws(DeltaFormatError) in
                try Varint.read(p, at: cursors[stream.rawValue])
            }
        } catch {
            throw OTAError(.deltaMalformed, "malformed number (\(what)) in patch at output offset \(written)")
        }
        guard case .value(let value, let next) = parse else {
            throw OTAError(.deltaMalformed, "\(what) missing from its frame at output offset \(written)")
        }
        cursors[stream.rawValue] = next
        return value
    }

    private func runOp() throws(OTAError) {
        guard let header else { return }
        let control = PatchStream.control.rawValue
        let code = streams[control][cursors[control]]
        cursors[control] += 1
        guard code == DeltaOperation.copyCode || code == DeltaOperation.addCode || code == DeltaOperation.insertCode else {
            throw OTAError(.deltaUnknownOp, "unknown op code \(code) in patch at output offset \(written)")
        }
        let delta = code == DeltaOperation.insertCode ? 0 : Varint.unzigzag(try varint(.control, "op offset"))
        let lengthField = try varint(.control, "op length")
        guard lengthField > 0 else {
            throw OTAError(.deltaMalformed, "zero-length op in patch at output offset \(written)")
        }
        guard lengthField <= UInt64(Int64(header.newSize) - written) else {
            throw OTAError(
                .deltaOutputOverflow,
                "patch op writes \(lengthField) bytes at offset \(written), past the declared size \(header.newSize)")
        }
        let length = Int64(lengthField)
        if code == DeltaOperation.insertCode {
            let inserts = PatchStream.inserts.rawValue
            guard length <= Int64(streams[inserts].count - cursors[inserts]) else {
                throw OTAError(.deltaMalformed, "INSERT of \(length) bytes runs past its frame's inserted bytes")
            }
            let from = cursors[inserts]
            outBuffer.append(contentsOf: streams[inserts][from..<(from + Int(length))])
            cursors[inserts] += Int(length)
            written += length
            try emitIfFull()
            return
        }
        // old start = cursor + signed delta, checked without overflow.
        let (start, overflow) = oldCursor.addingReportingOverflow(delta)
        guard !overflow, start >= 0, start <= Int64(header.oldSize), length <= Int64(header.oldSize) - start else {
            throw OTAError(
                .deltaOutOfRange,
                "patch op reads old bytes outside the old image (cursor \(oldCursor), delta \(delta), length \(length))"
            )
        }
        oldCursor = start + length
        written += length
        if code == DeltaOperation.copyCode {
            try copyOld(at: start, count: length)
        } else {
            try runAdd(at: start, length: length)
        }
    }

    /// An ADD's runs: old bytes unchanged for each zero run, old + difference for literals.
    private func runAdd(at start: Int64, length: Int64) throws(OTAError) {
        let differences = PatchStream.differences.rawValue
        var position = start
        var remaining = length
        while remaining > 0 {
            let token = try varint(.runs, "ADD run")
            let zeros = token >> 3
            var literals = token & 7
            if literals == 7 {
                let more = try varint(.runs, "ADD run length")
                guard more <= UInt64(remaining) else {
                    throw OTAError(.deltaMalformed, "ADD run of \(more) literals does not fit its op")
                }
                literals += more
            }
            guard zeros <= UInt64(remaining), literals <= UInt64(remaining) - zeros, zeros + literals > 0 else {
                throw OTAError(
                    .deltaMalformed,
                    "ADD payload run (\(zeros) + \(literals)) does not fit the \(remaining) bytes left in its op")
            }
            try copyOld(at: position, count: Int64(zeros))
            position += Int64(zeros)
            let count = Int(literals)
            guard count <= streams[differences].count - cursors[differences] else {
                throw OTAError(.deltaMalformed, "ADD run of \(count) literals runs past its frame's difference bytes")
            }
            var done = 0
            while done < count {
                let step = min(count - done, Self.readAhead)
                let oldBytes = try readOld(at: position, count: step)
                let base = oldBytes.startIndex
                let from = cursors[differences]
                streams[differences].withUnsafeBufferPointer { diff in
                    for i in 0..<step { outBuffer.append(oldBytes[base + i] &+ diff[from + i]) }
                }
                cursors[differences] += step
                position += Int64(step)
                done += step
                try emitIfFull()
            }
            remaining -= Int64(zeros) + Int64(literals)
        }
    }

    /// Appends old bytes unchanged (already bounds-checked against the op).
    private func copyOld(at start: Int64, count: Int64) throws(OTAError) {
        var done: Int64 = 0
        while done < count {
            let step = Int(min(count - done, Int64(Self.outPiece)))
            outBuffer.append(contentsOf: try readOld(at: start + done, count: step))
            try emitIfFull()
            done += Int64(step)
        }
    }

    /// Old bytes `[offset, offset + count)`, already bounds-checked; served from the cache.
    private func readOld(at offset: Int64, count: Int) throws(OTAError) -> ArraySlice<UInt8> {
        if count > Self.cacheSize {
            return try source.read(at: offset, count: count)[...]
        }
        if cacheStart < 0 || offset < cacheStart || offset + Int64(count) > cacheStart + Int64(cache.count) {
            // Ops jump around the old image: read what is needed plus a little read-ahead.
            let size = Int(min(Int64(max(count, Self.readAhead)), source.byteCount - offset))
            cache = try source.read(at: offset, count: size)
            cacheStart = offset
        }
        let from = Int(offset - cacheStart)
        return cache[from..<(from + count)]
    }

    private func emitIfFull() throws(OTAError) {
        if outBuffer.count >= Self.outPiece { try flush() }
    }

    private func flush() throws(OTAError) {
        guard !outBuffer.isEmpty else { return }
        newHasher?.update(outBuffer)
        try output(outBuffer)
        outBuffer.removeAll(keepingCapacity: true)
    }
}
