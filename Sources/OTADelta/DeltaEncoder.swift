internal import Dispatch
internal import Foundation
public import OTACore

/// Settings for making a patch.
public struct DeltaOptions: Sendable {
    /// Hash recorded for the old and new images (the bundle suite's hash).
    public var hashAlgorithm: HashAlgorithm = .sha256
    /// LZMA2 dictionary of the inserted bytes (a power of two, 4 KiB...256 MiB): the vehicle's
    /// decoder needs about this much memory, plus up to 3 MiB for the other streams.
    public var dictionarySize: UInt32 = 8 << 20
    /// xz preset 0...9 and extreme mode (measured no smaller on our corpus once ADD payloads
    /// were run-length coded); the dictionary size above overrides the preset's.
    public var preset: UInt32 = 9
    public var extreme = false
    /// Old bytes indexed by one suffix array (4 bytes of memory per byte). Larger old images are
    /// matched in half-overlapping windows of this size, plus whole-image block matching.
    public var windowSize = 1 << 30
    /// Block size of the whole-image block pass (the filesystem block size).
    public var blockSize = 4096
    /// Shortest run of whole blocks the block pass keeps (shorter ones go to the matcher).
    public var minimumBlockRun = 32 << 10
    /// Estimated compressed bytes a cover must save to be kept (`CoverMatcher`); 12-20 gave
    /// the smallest patches on the benchmark corpus (HDiffPatch uses 6 with its own estimate).
    public var minimumCoverScore = 16
    /// When block copies use at least this fraction of the old image, the suffix array indexes
    /// only the old bytes they do not use (see `OldIndexSpace`); above 1 never.
    public var packedIndexThreshold = 0.5
    /// The executable transform (patch format 3): when both images hold x86-64 or AArch64 ELF
    /// code, match with reference fields masked and let ADD ops predict the new references
    /// (`ReferenceTransform`); an op uses the prediction only where it leaves fewer differing
    /// bytes. Without ELF code the patch is format 2, whatever this says.
    public var referenceTransform = true
    /// Most address map entries the transform may carry (the decoder's default limit).
    public var maxTransformMapEntries = DeltaLimits().maxTransformMapEntries
    /// Tests: regions to use instead of the ELF programs found in the images.
    var forcedTransformRegions: (old: [ReferenceTransform.Region], new: [ReferenceTransform.Region])?

    public init() {}
}

/// Progress of a long operation: a phase name and a fraction in 0...1.
public typealias DeltaProgress = (_ phase: String, _ fraction: Double) -> Void

/// Makes a patch from two images held in memory (or mapped).
///
/// Time: linear in the image sizes for the block pass and the suffix sorting, plus
/// O(n log n) for the match search of the bytes the block pass leaves. Memory: the two images,
/// plus 4 bytes per old byte of one window (default 1 GiB windows, so at most ~4.2 GiB extra),
/// plus a 64 MiB lookup table and the op list.
struct DeltaEncoder {
    let options: DeltaOptions
    /// The inserted bytes' LZMA2 compression is the longest single task of a diff; nice length
    /// 48 instead of the preset's 64 made it ~9% faster for +0.02% on libpython (32: +0.2%).
    static let insertsNiceLength: UInt32 = 48
    /// Gaps longer than this are matched in pieces, in parallel.
    static let matchPiece = 4 << 20

    /// Where each stretch of the new image comes from, in new order: a block run (a COPY), or a
    /// piece the cover matcher fills.
    enum Segment {
        case run(BlockMatcher.Run)
        case piece(Int)
    }

    /// A stretch the cover matcher fills: new `[start, end)`, `seed` the packed old position its
    /// alignment predicts, matched against window `window` of the packed old bytes.
    struct Piece {
        var start: Int
        var end: Int
        var seed: Int
        var window = 0
    }

    /// The block pass, and the pieces left for the matcher.
    struct Plan {
        var segments: [Segment] = []
        var pieces: [Piece] = []
        var windows: [Range<Int>] = []
        var space: OldIndexSpace
    }

    func plan(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>) -> Plan {
        let runs = BlockMatcher(blockSize: options.blockSize, minimumRun: options.minimumBlockRun).runs(
            old: old, new: new)
        // What the suffix arrays index: only the old bytes no block copy uses when copies use
        // most of the image (a filesystem image), else all of it.
        let space =
            OldIndexSpace(
                old: old, used: runs.map { $0.oldStart..<$0.oldEnd }, minimumUsedFraction: options.packedIndexThreshold)
            ?? OldIndexSpace(old: old)
        var plan = Plan(space: space)
        let indexed = space.bytes.count

        // Windows of the indexed bytes for the suffix arrays: all, or half-overlapping windows.
        let window = max(options.windowSize, 1 << 16)
        if indexed <= window {
            plan.windows = [0..<indexed]
        } else {
            var start = 0
            while true {
                let end = min(start + window, indexed)
                plan.windows.append(start..<end)
                if end == indexed { break }
                start += window / 2
            }
        }
        // Long gaps between block runs are cut into pieces: so both cores can match at once,
        // so compression can start on the first pieces while later ones are matched, and with
        // several windows so each piece is matched in the window around the old position its
        // alignment predicts. A cover cannot cross a cut; at 2-4 MiB that costs nothing measurable.
        let pieceLength = plan.windows.count > 1 ? max(min(window / 4, Self.matchPiece), 1 << 14) : Self.matchPiece
        func addGap(_ start: Int, _ end: Int, oldSeed: Int) {
            let seed = space.packedPosition(ofOld: oldSeed)
            var position = start
            while position < end {
                let pieceEnd = end - position <= pieceLength + pieceLength / 2 ? end : position + pieceLength
                let packedSeed = seed + (position - start)
                var best = 0
                var bestDistance = Int.max
                for (i, w) in plan.windows.enumerated() {
                    let distance = abs((w.lowerBound + w.upperBound) / 2 - packedSeed)
                    if distance < bestDistance {
                        best = i
                        bestDistance = distance
                    }
                }
                plan.segments.append(.piece(plan.pieces.count))
                plan.pieces.append(Piece(start: position, end: pieceEnd, seed: packedSeed, window: best))
                position = pieceEnd
            }
        }
        var cursor = 0
        var seed = 0
        for run in runs {
            if run.newStart > cursor { addGap(cursor, run.newStart, oldSeed: seed) }
            plan.segments.append(.run(run))
            cursor = run.newEnd
            seed = run.oldEnd
        }
        if cursor < new.count { addGap(cursor, new.count, oldSeed: seed) }
        return plan
    }

    /// Matches every piece of `plan`, window by window (one suffix array at a time), pieces of
    /// a window on all cores; hands each piece's ops (in old positions) to `results`.
    static func matchPieces(
        _ plan: Plan, old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, minimumScore: Int,
        results: PieceResults
    ) {
        let input = SharedMatchInput(plan: plan, new: new, minimumScore: minimumScore)
        for (w, range) in plan.windows.enumerated() {
            let members = plan.pieces.indices.filter { plan.pieces[$0].window == w }
            guard !members.isEmpty else { continue }
            if range.isEmpty {
                for k in members { results.publish(k, [.insert(length: plan.pieces[k].end - plan.pieces[k].start)]) }
                continue
            }
            let index = SuffixIndex(old: UnsafeBufferPointer(rebasing: plan.space.bytes[range]), new: new)
            let shared = SharedIndex(index: index)
            DispatchQueue.concurrentPerform(iterations: members.count) { m in
                let k = members[m]
                let piece = input.plan.pieces[k]
                var found: [DeltaOperation] = []
                CoverMatcher(index: shared.index, minimumScore: input.minimumScore)
                    .match(from: piece.start, to: piece.end, seed: piece.seed - range.lowerBound, into: &found)
                var ops: [DeltaOperation] = []
                for op in found {
                    switch op {
                    case .copy(let o, let l):
                        input.plan.space.appendMapped(.copy(oldStart: o + range.lowerBound, length: l), to: &ops)
                    case .add(let o, let l):
                        input.plan.space.appendMapped(.add(oldStart: o + range.lowerBound, length: l), to: &ops)
                    case .insert: ops.append(op)
                    }
                }
                results.publish(k, ops)
            }
        }
    }

    /// Writes the patch to `sink`: a 108-byte placeholder, then the framed streams. Returns the
    /// header, which the caller puts over the placeholder (its body size is known only at the
    /// end: compression starts on the first pieces while the matcher works on later ones).
    func encode(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, progress: DeltaProgress?,
        sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) -> (header: [UInt8], statistics: DeltaStatistics) {
        let size = options.dictionarySize
        guard size.nonzeroBitCount == 1, DeltaPatchHeader.dictionaryExponents.contains(UInt8(size.trailingZeroBitCount))
        else {
            throw OTAError(
                .deltaDictionary, "the patch dictionary must be a power of two, 4 KiB...256 MiB (got \(size))")
        }
        progress?("index", 0)
        // The executable transform: match on copies with reference fields cleared.
        let analysis =
            options.referenceTransform
            ? ReferenceAnalysis(old: old, new: new, regions: options.forcedTransformRegions) : nil
        let matchOld = analysis.map { UnsafeBufferPointer($0.maskedOld) } ?? old
        let matchNew = analysis.map { UnsafeBufferPointer($0.maskedNew) } ?? new
        let plan = plan(old: matchOld, new: matchNew)
        let results = PieceResults(count: plan.pieces.count)
        let input = SharedMatchInput(plan: plan, new: matchNew, minimumScore: options.minimumCoverScore)
        let oldInput = SharedBuffer(matchOld)
        let matching = DispatchGroup()
        DispatchQueue.global().async(group: matching) {
            Self.matchPieces(
                input.plan, old: oldInput.buffer, new: input.new, minimumScore: input.minimumScore, results: results)
        }
        defer { matching.wait() }
        // Hashing overlaps the suffix sort.
        let oldHash = try Hasher.hash(options.hashAlgorithm, old)
        let newHash = try Hasher.hash(options.hashAlgorithm, new)

        try sink([UInt8](repeating: 0, count: DeltaPatchHeader.byteCount))
        let settings = streamSettings(newSize: new.count)
        let writer = try PatchFrameWriter(settings: settings)
        var statistics = DeltaStatistics()
        var stream = OpStreamWriter(old: old, new: new, writer: writer)
        var transform: ReferenceTransform?
        var segmentOps: [[DeltaOperation]] = []
        if let analysis {
            // The map needs every op's alignment before the first op is written.
            var pairs: [(old: Int, new: Int, length: Int)] = []
            var position = 0
            for segment in plan.segments {
                let ops: [DeltaOperation]
                switch segment {
                case .run(let run): ops = [.copy(oldStart: run.oldStart, length: run.length)]
                case .piece(let k): ops = results.take(k)
                }
                for op in ops {
                    switch op {
                    case .copy(let o, let l), .add(let o, let l): pairs.append((o, position, l))
                    case .insert: break
                    }
                    position += op.length
                }
                segmentOps.append(ops)
            }
            let made = analysis.transform(pairs: pairs, maxEntries: options.maxTransformMapEntries)
            try Self.writeTransformBlock(made, sink: sink)
            stream.prediction = OpStreamWriter.Prediction(transform: made, analysis: analysis)
            statistics.transformMapEntries = made.map.count
            transform = made
        }
        for (s, segment) in plan.segments.enumerated() {
            let ops: [DeltaOperation]
            if transform != nil {
                ops = segmentOps[s]
                segmentOps[s] = []
            } else {
                switch segment {
                case .run(let run): ops = [.copy(oldStart: run.oldStart, length: run.length)]
                case .piece(let k): ops = results.take(k)
                }
            }
            for op in ops { try stream.write(op, statistics: &statistics, sink: sink) }
            progress?("delta", Double(stream.newPosition) / Double(max(new.count, 1)))
        }
        try writer.endFrame(sink: sink)
        progress?("delta", 1)
        var header = DeltaPatchHeader(
            hashAlgorithm: options.hashAlgorithm, oldSize: UInt64(old.count), newSize: UInt64(new.count),
            bodySize: writer.totalRawBytes, dictionarySizes: settings.map(\.dictionarySize), oldHash: oldHash,
            newHash: newHash)
        if transform != nil { header.version = DeltaPatchHeader.transformVersion }
        return (try header.encoded(), statistics)
    }

    /// The transform block after the header: dictionary exponent, raw and packed sizes, the
    /// block compressed as one raw LZMA2 piece.
    static func writeTransformBlock(_ transform: ReferenceTransform, sink: ([UInt8]) throws(OTAError) -> Void)
        throws(OTAError)
    {
        let raw = transform.encoded()
        var exponent: UInt8 = 12
        while exponent < DeltaPatchHeader.transformDictionaryExponents.upperBound && 1 << Int(exponent) < raw.count {
            exponent += 1
        }
        let encoder = try LZMA2StreamEncoder(
            LZMA2Settings(preset: 9, dictionarySize: 1 << UInt32(exponent), literalContextBits: 0, positionBits: 0))
        var packed: [UInt8] = []
        let result: Result<Void, OTAError> = raw.withUnsafeBytes { bytes in
            do throws(OTAError) {
                try encoder.update(bytes) { packed += $0 }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        try encoder.flush { packed += $0 }
        var block: [UInt8] = [exponent]
        Varint.append(UInt64(raw.count), to: &block)
        Varint.append(UInt64(packed.count), to: &block)
        try sink(block + packed)
    }

    /// LZMA2 settings of the four streams: the inserts get the configured dictionary (the
    /// vehicle's budget); the others are small streams that gain nothing beyond 1 MiB.
    /// No stream gets a dictionary larger than the new image (rounded up to a power of two):
    /// it would only cost the encoder set-up time and the vehicle memory.
    func streamSettings(newSize: Int) -> [LZMA2Settings] {
        var fit: UInt32 = 4096
        while Int(fit) < newSize && fit < options.dictionarySize { fit <<= 1 }
        return PatchStream.allCases.map { stream in
            LZMA2Settings(
                preset: options.preset, extreme: options.extreme,
                dictionarySize: min(
                    stream == .inserts ? options.dictionarySize : min(options.dictionarySize, 1 << 20), fit),
                literalContextBits: stream.literalContextBits, positionBits: 0,
                niceLength: stream == .inserts ? Self.insertsNiceLength : nil)
        }
    }

}

/// Feeds ops' bytes to a `PatchFrameWriter`'s streams, cutting long ADD and INSERT ops so each
/// op's data stays inside one frame, and closing frames as they fill.
struct OpStreamWriter {
    /// The transform and the old image's sites, when the patch carries one.
    struct Prediction {
        let transform: ReferenceTransform
        let analysis: ReferenceAnalysis
        let mapIndex: ReferenceTransform.MapIndex

        init(transform: ReferenceTransform, analysis: ReferenceAnalysis) {
            self.transform = transform
            self.analysis = analysis
            mapIndex = ReferenceTransform.MapIndex(transform.map)
        }
    }

    let old: UnsafeBufferPointer<UInt8>
    let new: UnsafeBufferPointer<UInt8>
    let writer: PatchFrameWriter
    var prediction: Prediction?
    private var oldCursor = 0
    private(set) var newPosition = 0

    init(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, writer: PatchFrameWriter) {
        self.old = old
        self.new = new
        self.writer = writer
    }

    mutating func write(
        _ op: DeltaOperation, statistics: inout DeltaStatistics, sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) {
        switch op {
        case .copy(let oldStart, let length)
        where prediction != nil
            && !memcmpEqual(old.baseAddress! + oldStart, new.baseAddress! + newPosition, length):
            // Equal only with reference fields masked: an ADD (with prediction, as chosen below).
            try write(.add(oldStart: oldStart, length: length), statistics: &statistics, sink: sink)
        case .copy(let oldStart, let length):
            writer.append(.control, DeltaOperation.copyCode)
            writer.appendVarint(.control, Varint.zigzag(Int64(oldStart - oldCursor)))
            writer.appendVarint(.control, UInt64(length))
            oldCursor = oldStart + length
            newPosition += length
            statistics.copyBytes += Int64(length)
            statistics.operations += 1
            try endFrameIfFull(sink)
        case .add(let oldStart, let length):
            var done = 0
            while done < length {
                let piece = min(length - done, PatchFrame.maxOpLength)
                let base = basis(oldStart: oldStart + done, length: piece)
                if base == nil {
                    writer.append(.control, DeltaOperation.addCode)
                } else {
                    writer.append(.control, DeltaOperation.predictedAddCode)
                    statistics.predictedAddBytes += Int64(piece)
                }
                writer.appendVarint(.control, Varint.zigzag(Int64(oldStart + done - oldCursor)))
                writer.appendVarint(.control, UInt64(piece))
                if let base {
                    DeltaEncoder.addPayload(base: base, new: new.baseAddress! + newPosition, length: piece, to: writer)
                } else {
                    DeltaEncoder.addPayload(
                        base: old.baseAddress! + oldStart + done, new: new.baseAddress! + newPosition, length: piece,
                        to: writer)
                }
                oldCursor = oldStart + done + piece
                newPosition += piece
                done += piece
                statistics.operations += 1
                try endFrameIfFull(sink)
            }
            statistics.addBytes += Int64(length)
        case .insert(let length):
            var done = 0
            while done < length {
                let piece = min(length - done, PatchFrame.maxOpLength)
                writer.append(.control, DeltaOperation.insertCode)
                writer.appendVarint(.control, UInt64(piece))
                writer.append(.inserts, UnsafeBufferPointer(rebasing: new[newPosition..<(newPosition + piece)]))
                newPosition += piece
                done += piece
                statistics.operations += 1
                try endFrameIfFull(sink)
            }
            statistics.insertBytes += Int64(length)
        }
    }

    private func endFrameIfFull(_ sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        if writer.pendingBytes >= PatchFrame.target { try writer.endFrame(sink: sink) }
    }

    /// The predicted old bytes for an ADD of old `[oldStart, +length)` written at the current
    /// new position, when they differ from the new bytes in fewer places than the plain old
    /// bytes do (then the op is an ADDP); nil for a plain ADD.
    private func basis(oldStart: Int, length: Int) -> UnsafePointer<UInt8>? {
        guard let prediction else { return nil }
        let sites = prediction.analysis.sites(from: Int64(oldStart), to: Int64(oldStart + length))
        guard !sites.isEmpty else { return nil }
        let o = old.baseAddress! + oldStart
        let n = new.baseAddress! + newPosition
        let p = prediction.analysis.scratch
        p.baseAddress!.update(from: o, count: length)
        prediction.transform.predict(
            UnsafeMutableBufferPointer(rebasing: p[0..<length]), oldStart: Int64(oldStart),
            newStart: Int64(newPosition),
            sites: sites, index: prediction.mapIndex)
        // Only the site bytes can differ between the two bases.
        var plainMisses = 0
        var predictedMisses = 0
        for site in sites {
            let at = Int(site.offset) - oldStart
            guard at >= 0, at + 4 <= length else { continue }
            for k in at..<(at + 4) {
                if o[k] != n[k] { plainMisses += 1 }
                if p[k] != n[k] { predictedMisses += 1 }
            }
        }
        return predictedMisses < plainMisses ? UnsafePointer(p.baseAddress!) : nil
    }
}

extension DeltaEncoder {
    /// Zero runs shorter than this stay inside a literal stretch of an ADD payload.
    static let minimumZeroRun = 2

    /// The payload of an ADD, as runs of (zero differences, literal differences) until `length`
    /// bytes are covered: a token per run in `runs` and the literal difference bytes in
    /// `differences`. Recompiled code differs from its old version in a few bytes per hundred,
    /// so most of an ADD is zero runs.
    static func addPayload(
        base o: UnsafePointer<UInt8>, new n: UnsafePointer<UInt8>, length: Int, to writer: PatchFrameWriter
    ) {
        var i = 0
        while i < length {
            let zeros = commonPrefixLength(o + i, n + i, length - i)
            var end = i + zeros
            // Literals run until a zero run of `minimumZeroRun` (or the end) starts.
            while end < length {
                if n[end] == o[end] {
                    let run = commonPrefixLength(o + end, n + end, min(minimumZeroRun, length - end))
                    if run >= minimumZeroRun || end + run == length { break }
                    end += run
                } else {
                    end += 1
                }
            }
            let literals = end - i - zeros
            writer.appendVarint(.runs, UInt64(zeros) << 3 | UInt64(min(literals, 7)))
            if literals >= 7 { writer.appendVarint(.runs, UInt64(literals - 7)) }
            for k in (i + zeros)..<end { writer.append(.differences, n[k] &- o[k]) }
            i = end
        }
    }
}

/// What a patch is made of, for reports.
public struct DeltaStatistics: Sendable, Codable, Equatable {
    public var operations = 0
    public var copyBytes: Int64 = 0
    public var addBytes: Int64 = 0
    public var insertBytes: Int64 = 0
    /// ADD bytes whose differences are taken against predicted references (ADDP ops).
    public var predictedAddBytes: Int64 = 0
    /// Entries of the reference transform's address map (0: no transform).
    public var transformMapEntries = 0
}

/// What the matching task shares with the writer: read-only after construction.
struct SharedMatchInput: @unchecked Sendable {
    let plan: DeltaEncoder.Plan
    let new: UnsafeBufferPointer<UInt8>
    let minimumScore: Int
}

struct SharedIndex: @unchecked Sendable {
    let index: SuffixIndex
}

struct SharedBuffer: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
}

/// Each piece's ops, published by the matching tasks and taken in order by the writer.
final class PieceResults: @unchecked Sendable {
    private let condition = NSCondition()
    private var ops: [[DeltaOperation]?]

    init(count: Int) { ops = Array(repeating: nil, count: count) }

    func publish(_ index: Int, _ value: [DeltaOperation]) {
        condition.lock()
        ops[index] = value
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for piece `index` and hands its ops over (freeing them here).
    func take(_ index: Int) -> [DeltaOperation] {
        condition.lock()
        defer { condition.unlock() }
        while ops[index] == nil { condition.wait() }
        let value = ops[index]!
        ops[index] = []
        return value
    }
}
