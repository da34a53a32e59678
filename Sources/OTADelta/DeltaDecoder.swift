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
            throw .io("io.short-read", "\(file.path): the old image ended early (changed while reading?)")
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
    /// The most memory liblzma may use: refuses dictionaries beyond the vehicle's budget.
    public var xzMemoryLimit: UInt64 = 32 << 20

    public init() {}
}

/// The streaming patch applier: feed it the patch's bytes in any pieces; it reads the old image
/// by offset and hands the new image out in order, in pieces of at most 1 MiB.
///
/// Before any output it checks the old image's size and hash against the header; at the end
/// it checks the new image's hash. Every op is bounds-checked against the header's sizes, so a
/// hostile patch cannot read outside the old image, write past the new size or make the
/// decoder allocate more than its fixed buffers (about 10 MiB with the default 8 MiB xz
/// dictionary; at most `limits.xzMemoryLimit` plus 3 MiB).
public final class DeltaDecoder {
    public private(set) var header: DeltaPatchHeader?
    private let source: any DeltaSource
    private let limits: DeltaLimits
    private let output: ([UInt8]) throws(OTAError) -> Void
    private var headerBytes: [UInt8] = []
    private var xz: XZDecoder?
    private var newHasher: Hasher?

    // Op parsing state.
    private enum State {
        case opHeader
        /// Inside an ADD, expecting a (zero count, literal count) pair in `pending`.
        case addRun(oldPosition: Int64, remaining: Int64)
        /// Inside an ADD, `literals` difference bytes to go, then `remaining` more of the ADD.
        case addLiterals(oldPosition: Int64, literals: Int64, remaining: Int64)
        case insert(remaining: Int64)
    }
    private var state = State.opHeader
    private var pending: [UInt8] = []
    private var oldCursor: Int64 = 0
    /// Output bytes accounted for by the ops parsed so far.
    private var written: Int64 = 0
    private var outBuffer: [UInt8] = []
    private static let outPiece = 1 << 20

    // A small cache of old bytes so runs of short ops do not each cost a pread.
    private var cache: [UInt8] = []
    private var cacheStart: Int64 = -1
    private static let cacheSize = 1 << 20
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
        var input = bytes[...]
        if header == nil {
            let take = min(DeltaPatchHeader.byteCount - headerBytes.count, input.count)
            headerBytes += input.prefix(take)
            input = input.dropFirst(take)
            if headerBytes.count == DeltaPatchHeader.byteCount { try start() }
        }
        guard !input.isEmpty, let xz else { return }
        do {
            try xz.update(Array(input)) { (piece: [UInt8]) throws(OTAError) in try self.consume(piece) }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Confirms the patch ended exactly after the last op and the new image's hash matches.
    public func finish() throws(OTAError) -> DeltaPatchHeader {
        guard let header, let xz, let newHasher else {
            throw .rejected("delta.truncated", "patch ends inside its header")
        }
        do {
            try xz.finish { (piece: [UInt8]) throws(OTAError) in try self.consume(piece) }
        } catch {
            throw Self.translate(error)
        }
        guard case .opHeader = state, pending.isEmpty, xz.totalOut == header.bodySize else {
            throw .rejected("delta.truncated", "patch op stream ends in the middle of an op")
        }
        guard written == Int64(header.newSize) else {
            throw .rejected(
                "delta.short-output", "patch ops produce \(written) bytes, header declares \(header.newSize)")
        }
        try flush()
        guard newHasher.finalize().constantTimeEquals(header.newHash) else {
            throw .rejected(
                "delta.result-mismatch",
                "the rebuilt image's \(header.hashAlgorithm.rawValue) does not match the patch header")
        }
        return header
    }

    private func start() throws(OTAError) {
        let header = try DeltaPatchHeader.decode(headerBytes)
        guard source.byteCount == Int64(header.oldSize) else {
            throw .rejected(
                "delta.source-mismatch",
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
            throw .rejected(
                "delta.source-mismatch",
                "the old image's \(header.hashAlgorithm.rawValue) does not match the patch's source hash")
        }
        self.header = header
        newHasher = try Hasher(header.hashAlgorithm)
        do {
            xz = try XZDecoder(memoryLimit: limits.xzMemoryLimit, outputLimit: header.bodySize)
        } catch {
            throw Self.translate(error)
        }
        outBuffer.reserveCapacity(Self.outPiece)
    }

    /// Maps xz failures to delta codes, so a caller sees one family.
    private static func translate(_ error: OTAError) -> OTAError {
        switch error.code {
        case "xz.output-limit":
            return .rejected(
                "delta.body-too-large", "patch op stream decompresses to more than its header declares (xz bomb?)",
                cause: error.message)
        case "xz.memory-limit":
            return .rejected(
                "delta.memory-limit", "patch body needs more decoder memory than allowed (xz dictionary too large)",
                cause: error.message)
        case "xz.truncated":
            return .rejected("delta.truncated", "patch body ends early", cause: error.message)
        case "xz.trailing-data":
            return .rejected("delta.trailing-data", "data after the end of the patch body", cause: error.message)
        case "xz.corrupt", "xz.format", "xz.options", "xz.failed":
            return .rejected("delta.corrupt", "patch body is not valid xz data", cause: error.message)
        default:
            return error
        }
    }

    private func consume(_ piece: [UInt8]) throws(OTAError) {
        var index = 0
        while index < piece.count {
            switch state {
            case .opHeader:
                pending.append(piece[index])
                index += 1
                try parseOpHeader()
            case .addRun(let oldPosition, let remaining):
                pending.append(piece[index])
                index += 1
                try parseAddRun(oldPosition: oldPosition, remaining: remaining)
            case .addLiterals(let oldPosition, let literals, let remaining):
                let count = Int(min(literals, Int64(piece.count - index)))
                let oldBytes = try readOld(at: oldPosition, count: count)
                let base = oldBytes.startIndex
                for i in 0..<count { outBuffer.append(oldBytes[base + i] &+ piece[index + i]) }
                try emitIfFull()
                index += count
                let position = oldPosition + Int64(count)
                if literals > Int64(count) {
                    state = .addLiterals(oldPosition: position, literals: literals - Int64(count), remaining: remaining)
                } else {
                    state = remaining == 0 ? .opHeader : .addRun(oldPosition: position, remaining: remaining)
                }
            case .insert(let remaining):
                let count = Int(min(remaining, Int64(piece.count - index)))
                outBuffer.append(contentsOf: piece[index..<(index + count)])
                try emitIfFull()
                index += count
                state = remaining == Int64(count) ? .opHeader : .insert(remaining: remaining - Int64(count))
            }
        }
    }

    /// Tries to decode the op header accumulated in `pending`; acts on it once complete.
    private func parseOpHeader() throws(OTAError) {
        guard let header else { return }
        let code = pending[0]
        let fields: [UInt64]
        switch code {
        case DeltaOperation.copyCode, DeltaOperation.addCode:
            guard let parsed = try readVarints(2) else { return }
            fields = parsed
        case DeltaOperation.insertCode:
            guard let parsed = try readVarints(1) else { return }
            fields = parsed
        default:
            throw .rejected("delta.unknown-op", "unknown op code \(code) in patch at output offset \(written)")
        }
        pending.removeAll(keepingCapacity: true)
        let lengthField = fields[fields.count - 1]
        let remainingOutput = Int64(header.newSize) - written
        guard lengthField > 0 else {
            throw .rejected("delta.malformed", "zero-length op in patch at output offset \(written)")
        }
        guard lengthField <= UInt64(remainingOutput) else {
            throw .rejected(
                "delta.output-overflow",
                "patch op writes \(lengthField) bytes at offset \(written), past the declared size \(header.newSize)")
        }
        let length = Int64(lengthField)
        if code == DeltaOperation.insertCode {
            written += length
            state = .insert(remaining: length)
            return
        }
        // old start = cursor + signed delta, checked without overflow.
        let delta = Varint.unzigzag(fields[0])
        let (start, overflow) = oldCursor.addingReportingOverflow(delta)
        guard !overflow, start >= 0, start <= Int64(header.oldSize), length <= Int64(header.oldSize) - start else {
            throw .rejected(
                "delta.out-of-range",
                "patch op reads old bytes outside the old image (cursor \(oldCursor), delta \(delta), length \(length))"
            )
        }
        oldCursor = start + length
        written += length
        if code == DeltaOperation.addCode {
            state = .addRun(oldPosition: start, remaining: length)
        } else {
            try copyOld(at: start, count: length)
        }
    }

    /// Tries to decode an ADD's (zero count, literal count) pair from `pending`.
    private func parseAddRun(oldPosition: Int64, remaining: Int64) throws(OTAError) {
        let pair: [UInt64]
        do throws(DeltaFormatError) {
            var values: [UInt64] = []
            var offset = 0
            for _ in 0..<2 {
                let parse = try pending.withUnsafeBufferPointer { (p) throws(DeltaFormatError) in
                    try Varint.read(p, at: offset)
                }
                guard case .value(let value, let next) = parse else { return }
                values.append(value)
                offset = next
            }
            pair = values
        } catch {
            throw .rejected("delta.malformed", "malformed number in an ADD payload in the patch")
        }
        pending.removeAll(keepingCapacity: true)
        let (zeros, literals) = (pair[0], pair[1])
        guard zeros <= UInt64(remaining), literals <= UInt64(remaining) - zeros, zeros + literals > 0 else {
            throw .rejected(
                "delta.malformed",
                "ADD payload run (\(zeros) + \(literals)) does not fit the \(remaining) bytes left in its op")
        }
        try copyOld(at: oldPosition, count: Int64(zeros))
        let left = remaining - Int64(zeros) - Int64(literals)
        let position = oldPosition + Int64(zeros)
        if literals > 0 {
            state = .addLiterals(oldPosition: position, literals: Int64(literals), remaining: left)
        } else {
            state = left == 0 ? .opHeader : .addRun(oldPosition: position, remaining: left)
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

    private func readVarints(_ count: Int) throws(OTAError) -> [UInt64]? {
        var values: [UInt64] = []
        var offset = 1
        do {
            for _ in 0..<count {
                let parse = try pending.withUnsafeBufferPointer { (p) throws(DeltaFormatError) in
                    try Varint.read(p, at: offset)
                }
                guard case .value(let value, let next) = parse else { return nil }
                values.append(value)
                offset = next
            }
        } catch {
            throw .rejected("delta.malformed", "malformed number in patch op at output offset \(written)")
        }
        return values
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
