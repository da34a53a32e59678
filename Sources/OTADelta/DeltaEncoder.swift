public import OTACore
internal import Dispatch
internal import Foundation

/// Settings for making a patch.
public struct DeltaOptions: Sendable {
    /// Hash recorded for the old and new images (the bundle suite's hash).
    public var hashAlgorithm: HashAlgorithm = .sha256
    /// The xz dictionary: the vehicle's decoder needs about this much memory.
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
    /// Gaps longer than this are matched in pieces, in parallel.
    static let matchPiece = 4 << 20

    /// The ops that rebuild `new` from `old`, in new order, covering every new byte once.
    func operations(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, progress: DeltaProgress?)
        -> [DeltaOperation]
    {
        progress?("blocks", 0)
        let runs = BlockMatcher(blockSize: options.blockSize, minimumRun: options.minimumBlockRun).runs(old: old, new: new)
        // The stretches between block runs, each with the old position its alignment suggests.
        struct Gap {
            var start: Int
            var end: Int
            var seed: Int
            var ops: [DeltaOperation] = []
        }
        var gaps: [Gap] = []
        var cursor = 0
        var seed = 0
        for run in runs {
            if run.newStart > cursor { gaps.append(Gap(start: cursor, end: run.newStart, seed: seed)) }
            cursor = run.newEnd
            seed = run.oldEnd
        }
        if cursor < new.count { gaps.append(Gap(start: cursor, end: new.count, seed: seed)) }

        // What the suffix arrays index: only the old bytes no block copy uses when copies use
        // most of the image (a filesystem image), else all of it.
        let space =
            OldIndexSpace(
                old: old, used: runs.map { $0.oldStart..<$0.oldEnd }, minimumUsedFraction: options.packedIndexThreshold)
            ?? OldIndexSpace(old: old)
        let indexed = space.bytes
        for i in gaps.indices { gaps[i].seed = space.packedPosition(ofOld: gaps[i].seed) }

        // Windows of the indexed bytes for the suffix arrays: all, or half-overlapping windows.
        let window = max(options.windowSize, 1 << 16)
        var windows: [Range<Int>] = []
        if indexed.count <= window {
            windows = [0..<indexed.count]
        } else {
            var start = 0
            while true {
                let end = min(start + window, indexed.count)
                windows.append(start..<end)
                if end == indexed.count { break }
                start += window / 2
            }
        }
        func windowIndex(for expected: Int) -> Int {
            var best = 0
            var bestDistance = Int.max
            for (i, w) in windows.enumerated() {
                let distance = abs((w.lowerBound + w.upperBound) / 2 - expected)
                if distance < bestDistance {
                    best = i
                    bestDistance = distance
                }
            }
            return best
        }
        // Long gaps are cut into pieces: so both cores can match at once, and with several
        // windows so each piece is matched in the window around the old position its alignment
        // predicts. A cover cannot cross a cut; at 4 MiB pieces that costs nothing measurable.
        let piece = windows.count > 1 ? max(min(window / 4, Self.matchPiece), 1 << 14) : Self.matchPiece
        var split: [Gap] = []
        for gap in gaps {
            var start = gap.start
            while start < gap.end {
                let end = gap.end - start <= piece + piece / 2 ? gap.end : start + piece
                split.append(Gap(start: start, end: end, seed: gap.seed + (start - gap.start)))
                start = end
            }
        }
        gaps = split
        var windowOf = gaps.map { windowIndex(for: $0.seed) }
        var gapsByWindow = [[Int]](repeating: [], count: windows.count)
        for i in gaps.indices { gapsByWindow[windowOf[i]].append(i) }
        windowOf.removeAll()

        let gapBytes = gaps.reduce(0) { $0 + $1.end - $1.start }
        let tracker = ProgressTracker(total: gapBytes, progress: progress)
        for (w, members) in gapsByWindow.enumerated() where !members.isEmpty {
            let range = windows[w]
            if range.isEmpty {
                for i in members { gaps[i].ops = [.insert(length: gaps[i].end - gaps[i].start)] }
                continue
            }
            tracker.report("index")
            let shared = SharedMatchInput(
                index: SuffixIndex(old: UnsafeBufferPointer(rebasing: indexed[range]), new: new),
                minimumScore: options.minimumCoverScore,
                pieces: members.map { (gaps[$0].start, gaps[$0].end, gaps[$0].seed - range.lowerBound) })
            let results = UnsafeMutableBufferPointer<[DeltaOperation]>.allocate(capacity: members.count)
            results.initialize(repeating: [])
            defer { results.deinitialize().deallocate() }
            let slots = SendableSlots(results)
            DispatchQueue.concurrentPerform(iterations: members.count) { k in
                let (start, end, seed) = shared.pieces[k]
                var ops: [DeltaOperation] = []
                CoverMatcher(index: shared.index, minimumScore: shared.minimumScore)
                    .match(from: start, to: end, seed: seed, into: &ops)
                slots.buffer[k] = ops
                tracker.finished(piece: end - start)
            }
            for (k, i) in members.enumerated() {
                for op in results[k] {
                    switch op {
                    case .copy(let o, let l):
                        space.appendMapped(.copy(oldStart: o + range.lowerBound, length: l), to: &gaps[i].ops)
                    case .add(let o, let l):
                        space.appendMapped(.add(oldStart: o + range.lowerBound, length: l), to: &gaps[i].ops)
                    case .insert: gaps[i].ops.append(op)
                    }
                }
            }
        }

        // Interleave block runs and gap ops in new order.
        var ops: [DeltaOperation] = []
        var g = 0
        cursor = 0
        var r = 0
        while cursor < new.count {
            if g < gaps.count && gaps[g].start == cursor {
                ops += gaps[g].ops
                cursor = gaps[g].end
                g += 1
            } else {
                let run = runs[r]
                precondition(run.newStart == cursor, "block runs and gaps must tile the new image")
                ops.append(.copy(oldStart: run.oldStart, length: run.length))
                cursor = run.newEnd
                r += 1
            }
        }
        return ops
    }

    /// Writes the patch (header, then the framed streams) to `sink`.
    func encode(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, progress: DeltaProgress?,
        sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) -> DeltaStatistics {
        progress?("hash", 0)
        let oldHash = try Hasher.hash(options.hashAlgorithm, old)
        let newHash = try Hasher.hash(options.hashAlgorithm, new)
        let ops = operations(old: old, new: new, progress: progress)

        // The header declares the streams' total size: a first pass counts it.
        let counter = try PatchFrameWriter(settings: [])
        var statistics = try writeStreams(ops, old: old, new: new, to: counter, progress: nil) { _ throws(OTAError) in }
        statistics.operations = ops.count
        let settings = streamSettings
        let header = DeltaPatchHeader(
            hashAlgorithm: options.hashAlgorithm, oldSize: UInt64(old.count), newSize: UInt64(new.count),
            bodySize: counter.totalRawBytes, dictionarySizes: settings.map(\.dictionarySize), oldHash: oldHash,
            newHash: newHash)
        try sink(try header.encoded())
        progress?("compress", 0)
        _ = try writeStreams(ops, old: old, new: new, to: try PatchFrameWriter(settings: settings), progress: progress, sink: sink)
        progress?("compress", 1)
        return statistics
    }

    /// LZMA2 settings of the four streams: the inserts get the configured dictionary (the
    /// vehicle's budget); the others are small streams that gain nothing beyond 1 MiB.
    var streamSettings: [LZMA2Settings] {
        PatchStream.allCases.map { stream in
            LZMA2Settings(
                preset: options.preset, extreme: options.extreme,
                dictionarySize: stream == .inserts ? options.dictionarySize : min(options.dictionarySize, 1 << 20),
                literalContextBits: stream.literalContextBits, positionBits: 0)
        }
    }

    /// Feeds the ops' bytes to `writer`'s streams, cutting long ADD and INSERT ops so each
    /// op's data stays inside one frame, and closing frames as they fill.
    private func writeStreams(
        _ ops: [DeltaOperation], old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>,
        to writer: PatchFrameWriter, progress: DeltaProgress?, sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) -> DeltaStatistics {
        var statistics = DeltaStatistics()
        var oldCursor = 0
        var newPosition = 0
        func endFrameIfFull() throws(OTAError) {
            guard writer.pendingBytes >= PatchFrame.target else { return }
            try writer.endFrame(sink: sink)
            progress?("compress", Double(newPosition) / Double(max(new.count, 1)))
        }
        for op in ops {
            switch op {
            case .copy(let oldStart, let length):
                writer.append(.control, DeltaOperation.copyCode)
                writer.appendVarint(.control, Varint.zigzag(Int64(oldStart - oldCursor)))
                writer.appendVarint(.control, UInt64(length))
                oldCursor = oldStart + length
                newPosition += length
                statistics.copyBytes += Int64(length)
                try endFrameIfFull()
            case .add(let oldStart, let length):
                var done = 0
                while done < length {
                    let piece = min(length - done, PatchFrame.maxOpLength)
                    writer.append(.control, DeltaOperation.addCode)
                    writer.appendVarint(.control, Varint.zigzag(Int64(oldStart + done - oldCursor)))
                    writer.appendVarint(.control, UInt64(piece))
                    Self.addPayload(
                        old: old, new: new, oldStart: oldStart + done, newStart: newPosition, length: piece, to: writer)
                    oldCursor = oldStart + done + piece
                    newPosition += piece
                    done += piece
                    try endFrameIfFull()
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
                    try endFrameIfFull()
                }
                statistics.insertBytes += Int64(length)
            }
        }
        try writer.endFrame(sink: sink)
        return statistics
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
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, oldStart: Int, newStart: Int, length: Int,
        to writer: PatchFrameWriter
    ) {
        let o = old.baseAddress! + oldStart
        let n = new.baseAddress! + newStart
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
}


/// What the parallel match tasks share: read-only after construction.
private struct SharedMatchInput: @unchecked Sendable {
    let index: SuffixIndex
    let minimumScore: Int
    let pieces: [(start: Int, end: Int, seed: Int)]
}

/// Result slots the parallel match tasks fill, one each.
private struct SendableSlots: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<[DeltaOperation]>
    init(_ buffer: UnsafeMutableBufferPointer<[DeltaOperation]>) { self.buffer = buffer }
}

/// Match progress summed over parallel tasks, reported under a lock.
private final class ProgressTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private let progress: DeltaProgress?
    private var done = 0

    init(total: Int, progress: DeltaProgress?) {
        self.total = max(total, 1)
        self.progress = progress
    }

    func report(_ phase: String) {
        lock.withLock { progress?(phase, Double(done) / Double(total)) }
    }

    func finished(piece bytes: Int) {
        lock.withLock {
            done += bytes
            progress?("match", Double(done) / Double(total))
        }
    }
}
