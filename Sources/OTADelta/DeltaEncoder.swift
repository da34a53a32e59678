public import OTACore

/// Settings for making a patch.
public struct DeltaOptions: Sendable {
    /// Hash recorded for the old and new images (the bundle suite's hash).
    public var hashAlgorithm: HashAlgorithm = .sha256
    /// The xz dictionary: the vehicle's decoder needs about this much memory.
    public var dictionarySize: UInt32 = 8 << 20
    /// xz preset 0...9 and extreme mode (30% smaller patches of recompiled code, whose ADD
    /// differences are mostly zeros, at 2-3x the xz time); the dictionary
    /// size above overrides the preset's.
    public var preset: UInt32 = 9
    public var extreme = true
    /// Old bytes indexed by one suffix array (4 bytes of memory per byte). Larger old images are
    /// matched in half-overlapping windows of this size, plus whole-image block matching.
    public var windowSize = 1 << 30
    /// Block size of the whole-image block pass (the filesystem block size).
    public var blockSize = 4096
    /// Bytes a new match must gain over the current alignment to start a new op. bsdiff uses
    /// 8; 20 gave 9% smaller patches on shared libraries (fewer, longer ops; see PERFORMANCE.md).
    public var minimumGain = 20

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
    func operations(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, progress: DeltaProgress?) -> [DeltaOperation] {
        progress?("blocks", 0)
        let runs = BlockMatcher(blockSize: options.blockSize).runs(old: old, new: new)
        // The stretches between block runs, each with the old position its alignment suggests.
        struct Gap { var start: Int; var end: Int; var seed: Int; var ops: [DeltaOperation] = [] }
        var gaps: [Gap] = []
        var cursor = 0
        var seed = 0
        for run in runs {
            if run.newStart > cursor { gaps.append(Gap(start: cursor, end: run.newStart, seed: seed)) }
            cursor = run.newEnd
            seed = run.oldEnd
        }
        if cursor < new.count { gaps.append(Gap(start: cursor, end: new.count, seed: seed)) }

        // Windows of old for the suffix arrays: the whole image, or half-overlapping windows.
        let window = max(options.windowSize, 1 << 16)
        var windows: [Range<Int>] = []
        if old.count <= window {
            windows = [0..<old.count]
        } else {
            var start = 0
            while true {
                let end = min(start + window, old.count)
                windows.append(start..<end)
                if end == old.count { break }
                start += window / 2
            }
        }
        func windowIndex(for expected: Int) -> Int {
            var best = 0, bestDistance = Int.max
            for (i, w) in windows.enumerated() {
                let distance = abs((w.lowerBound + w.upperBound) / 2 - expected)
                if distance < bestDistance { best = i; bestDistance = distance }
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
            let oldWindow = UnsafeBufferPointer(rebasing: old[range])
            let matcher = SuffixMatcher(old: oldWindow, new: new, minimumGain: options.minimumGain)
            var previous: (index: Int, next: Int)? = nil
            for i in members {
                var ops: [DeltaOperation] = []
                // A piece right after one matched in this window continues its real alignment.
                var seed = gaps[i].seed - range.lowerBound
                if let previous, previous.index == i - 1, gaps[i - 1].end == gaps[i].start { seed = previous.next }
                let next = matcher.match(from: gaps[i].start, to: gaps[i].end, seed: seed, into: &ops)
                previous = (i, next)
                gaps[i].ops = ops.map { op in
                    switch op {
                    case .copy(let o, let l): .copy(oldStart: o + range.lowerBound, length: l)
                    case .add(let o, let l): .add(oldStart: o + range.lowerBound, length: l)
                    case .insert: op
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
        for op in ops {
            switch op {
            case .copy(let o, let l), .add(let o, let l):
                let delta = Varint.zigzag(Int64(o - oldCursor))
                bodySize += UInt64(1 + Varint.byteCount(delta) + Varint.byteCount(UInt64(l)))
                if case .add = op { bodySize += UInt64(l); statistics.addBytes += Int64(l) } else { statistics.copyBytes += Int64(l) }
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
        let encoder = try XZEncoder(preset: options.preset, extreme: options.extreme, dictionarySize: options.dictionarySize)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        func flush() throws(OTAError) {
            try encoder.update(buffer, emit: sink)
            buffer.removeAll(keepingCapacity: true)
        }
        var newPos = 0
        oldCursor = 0
        for (index, op) in ops.enumerated() {
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
                var done = 0
                while done < l {
                    let step = min(l - done, 1 << 20)
                    for i in 0..<step { buffer.append(new[newPos + done + i] &- old[o + done + i]) }
                    done += step
                    if buffer.count >= 1 << 20 { try flush() }
                }
                oldCursor = o + l
            case .insert(let l):
                buffer.append(DeltaOperation.insertCode)
                Varint.append(UInt64(l), to: &buffer)
                var done = 0
                while done < l {
                    let step = min(l - done, 1 << 20)
                    buffer.append(contentsOf: UnsafeBufferPointer(rebasing: new[(newPos + done)..<(newPos + done + step)]))
                    done += step
                    if buffer.count >= 1 << 20 { try flush() }
                }
            }
            newPos += op.length
            if buffer.count >= 1 << 20 {
                try flush()
                progress?("compress", Double(index) / Double(max(ops.count, 1)))
            }
        }
        try flush()
        try encoder.finish(emit: sink)
        progress?("compress", 1)
        return statistics
    }
}

/// What a patch is made of, for reports.
public struct DeltaStatistics: Sendable, Codable, Equatable {
    public var operations = 0
    public var copyBytes: Int64 = 0
    public var addBytes: Int64 = 0
    public var insertBytes: Int64 = 0
}
