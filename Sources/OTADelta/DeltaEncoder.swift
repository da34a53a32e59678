public import OTACore

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
    /// Bytes a new match must gain over the current alignment to start a new op. bsdiff uses
    /// 8; 20 gave 9% smaller patches on shared libraries (fewer, longer ops; see PERFORMANCE.md).
    public var minimumGain = 20
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
        // With several windows, long gaps are cut into pieces so each piece is matched in the
        // window around the old position its alignment predicts.
        if windows.count > 1 {
            let piece = max(window / 4, 1 << 14)
            var split: [Gap] = []
            for gap in gaps {
                var start = gap.start
                while start < gap.end {
                    let end = min(start + piece, gap.end)
                    split.append(Gap(start: start, end: end, seed: gap.seed + (start - gap.start)))
                    start = end
                }
            }
            gaps = split
        }
        var windowOf = gaps.map { windowIndex(for: $0.seed) }
        var gapsByWindow = [[Int]](repeating: [], count: windows.count)
        for i in gaps.indices { gapsByWindow[windowOf[i]].append(i) }
        windowOf.removeAll()

        let gapBytes = gaps.reduce(0) { $0 + $1.end - $1.start }
        var done = 0
        for (w, members) in gapsByWindow.enumerated() where !members.isEmpty {
            let range = windows[w]
            if range.isEmpty {
                for i in members { gaps[i].ops = [.insert(length: gaps[i].end - gaps[i].start)] }
                continue
            }
            progress?("index", Double(done) / Double(max(gapBytes, 1)))
            let oldWindow = UnsafeBufferPointer(rebasing: indexed[range])
            let matcher = SuffixMatcher(old: oldWindow, new: new, minimumGain: options.minimumGain)
            var previous: (index: Int, next: Int)? = nil
            for i in members {
                var ops: [DeltaOperation] = []
                // A piece right after one matched in this window continues its real alignment.
                var seed = gaps[i].seed - range.lowerBound
                if let previous, previous.index == i - 1, gaps[i - 1].end == gaps[i].start { seed = previous.next }
                let doneBefore = done
                let next = matcher.match(from: gaps[i].start, to: gaps[i].end, seed: seed, into: &ops) { bytes in
                    progress?("match", Double(doneBefore + bytes) / Double(max(gapBytes, 1)))
                }
                previous = (i, next)
                for op in ops {
                    switch op {
                    case .copy(let o, let l):
                        space.appendMapped(.copy(oldStart: o + range.lowerBound, length: l), to: &gaps[i].ops)
                    case .add(let o, let l):
                        space.appendMapped(.add(oldStart: o + range.lowerBound, length: l), to: &gaps[i].ops)
                    case .insert: gaps[i].ops.append(op)
                    }
                }
                done += gaps[i].end - gaps[i].start
                progress?("match", Double(done) / Double(max(gapBytes, 1)))
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

    /// Writes the patch (header, then the xz-compressed op stream) to `sink`.
    func encode(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, progress: DeltaProgress?,
        sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) -> DeltaStatistics {
        progress?("hash", 0)
        let oldHash = try Hasher.hash(options.hashAlgorithm, old)
        let newHash = try Hasher.hash(options.hashAlgorithm, new)
        let ops = operations(old: old, new: new, progress: progress)

        var bodySize: UInt64 = 0
        var oldCursor = 0
        var statistics = DeltaStatistics()
        var sizePosition = 0
        for op in ops {
            defer { sizePosition += op.length }
            switch op {
            case .copy(let o, let l), .add(let o, let l):
                let delta = Varint.zigzag(Int64(o - oldCursor))
                bodySize += UInt64(1 + Varint.byteCount(delta) + Varint.byteCount(UInt64(l)))
                if case .add = op {
                    var counted = 0
                    Self.addPayload(old: old, new: new, oldStart: o, newStart: sizePosition, length: l) {
                        counted += $0.count
                    }
                    bodySize += UInt64(counted)
                    statistics.addBytes += Int64(l)
                } else {
                    statistics.copyBytes += Int64(l)
                }
                oldCursor = o + l
            case .insert(let l):
                bodySize += UInt64(1 + Varint.byteCount(UInt64(l)) + l)
                statistics.insertBytes += Int64(l)
            }
        }
        statistics.operations = ops.count
        let header = DeltaPatchHeader(
            hashAlgorithm: options.hashAlgorithm, oldSize: UInt64(old.count), newSize: UInt64(new.count),
            bodySize: bodySize, oldHash: oldHash, newHash: newHash)
        try sink(try header.encoded())

        progress?("compress", 0)
        // lc=1, pb=0: the op stream is not 4-byte structured; 0.5-0.8% smaller than lc=3, pb=2.
        let encoder = try XZEncoder(
            preset: options.preset, extreme: options.extreme, dictionarySize: options.dictionarySize,
            literalContextBits: 1, positionBits: 0)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var newPos = 0
        func flush() throws(OTAError) {
            try encoder.update(buffer, emit: sink)
            buffer.removeAll(keepingCapacity: true)
            progress?("compress", Double(newPos) / Double(max(new.count, 1)))
        }
        oldCursor = 0
        for op in ops {
            switch op {
            case .copy(let o, let l):
                buffer.append(DeltaOperation.copyCode)
                Varint.append(Varint.zigzag(Int64(o - oldCursor)), to: &buffer)
                Varint.append(UInt64(l), to: &buffer)
                oldCursor = o + l
            case .add(let o, let l):
                buffer.append(DeltaOperation.addCode)
                Varint.append(Varint.zigzag(Int64(o - oldCursor)), to: &buffer)
                Varint.append(UInt64(l), to: &buffer)
                var failure: OTAError? = nil
                Self.addPayload(old: old, new: new, oldStart: o, newStart: newPos, length: l) { piece in
                    buffer.append(contentsOf: piece)
                    if buffer.count >= 1 << 20 && failure == nil {
                        do throws(OTAError) { try flush() } catch { failure = error }
                    }
                }
                if let failure { throw failure }
                oldCursor = o + l
            case .insert(let l):
                buffer.append(DeltaOperation.insertCode)
                Varint.append(UInt64(l), to: &buffer)
                var done = 0
                while done < l {
                    let step = min(l - done, 1 << 20)
                    buffer.append(
                        contentsOf: UnsafeBufferPointer(rebasing: new[(newPos + done)..<(newPos + done + step)]))
                    done += step
                    if buffer.count >= 1 << 20 { try flush() }
                }
            }
            newPos += op.length
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
        try encoder.finish(emit: sink)
        progress?("compress", 1)
        return statistics
    }
}

extension DeltaEncoder {
    /// Zero runs shorter than this stay inside a literal stretch of an ADD payload.
    static let minimumZeroRun = 2

    /// The payload of an ADD: pairs of (varint zero count, varint literal count, that many
    /// difference bytes) until `length` bytes are covered. Recompiled code differs from its old
    /// version in a few bytes per hundred, so most of an ADD is zero runs, which cost xz time
    /// (and some size) when spelled out.
    static func addPayload(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, oldStart: Int, newStart: Int, length: Int,
        emit: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        var scratch: [UInt8] = []
        scratch.reserveCapacity(4096)
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
            scratch.removeAll(keepingCapacity: true)
            Varint.append(UInt64(zeros), to: &scratch)
            Varint.append(UInt64(end - i - zeros), to: &scratch)
            scratch.withUnsafeBufferPointer { emit($0) }
            var j = i + zeros
            while j < end {
                let step = min(end - j, 4096)
                scratch.removeAll(keepingCapacity: true)
                for k in j..<(j + step) { scratch.append(n[k] &- o[k]) }
                scratch.withUnsafeBufferPointer { emit($0) }
                j += step
            }
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
