/// The second pass of the encoder: chooses "covers" (stretches of new bytes explained by old
/// bytes at one alignment, possibly with a few differing bytes) for the bytes the block pass
/// left over, against a window of the old image indexed by a `SuffixIndex`.
///
/// Four steps, after the design HDiffPatch made the size leader:
/// 1. *search*: walk the new bytes, look up the longest exact match at each position and keep
///    it when it saves more than its control bytes; a match close to the previous cover whose
///    bytes the previous alignment explains about as cheaply extends that cover instead (a
///    recompiled function with shifted addresses stays one cover).
/// 2. *extend* each cover byte-wise into its neighbourhood while at least ~46% of the bytes
///    still agree (the differences cost little in an ADD).
/// 3. *select*: keep a cover only if an estimate of its compressed cost (differences plus
///    control) beats the estimate for storing its bytes literally (`CompressionCostModel`).
/// 4. *extend* again, into the room the dropped covers left.
///
/// Every step is linear in the stretch, plus one suffix-index probe per searched position;
/// probes thin out (up to every `maxStride` bytes) where nothing matches, and a match found
/// late is recovered by the backward extension.
final class CoverMatcher: @unchecked Sendable {
    // Safe: every stored property is a constant and the images and the index are only read, so
    // stretches of one piece can be searched on several threads at once.
    /// New bytes `[newStart, newStart + length)` explained by old `[oldStart, ...)`.
    struct Cover: Equatable {
        var newStart: Int
        var oldStart: Int
        var length: Int
        var newEnd: Int { newStart + length }
        var oldEnd: Int { oldStart + length }
        /// Same alignment (old - new offset) as `other`.
        func isCollinear(with other: Cover) -> Bool { oldStart - newStart == other.oldStart - other.newStart }
    }

    private let index: SuffixIndex
    private let old: UnsafeBufferPointer<UInt8>
    private let new: UnsafeBufferPointer<UInt8>
    /// Estimated saving (bytes) a cover must reach to survive selection: one set of ops per
    /// score, from one search (the search does not depend on it).
    private let minimumScores: [Int]
    /// Collinear covers at most this far apart are joined into one (the gap becomes differences).
    static let maxLinkGap = 511
    /// A probe must save this many bytes over its control cost to become a cover candidate.
    static let minimumSearchScore = 2
    /// Where nothing matches, probes thin out to one every this many bytes.
    static let maxStride = 8
    /// Extension keeps going while agreeing bytes / (length + 4) stays at or above this.
    static let extendRatio = 0.463

    init(index: SuffixIndex, minimumScores: [Int]) {
        precondition(!minimumScores.isEmpty)
        self.index = index
        self.old = index.old
        self.new = index.new
        self.minimumScores = minimumScores
    }

    /// Ops covering `new[start ..< end]` exactly, one list per minimum score; `seed` is the old
    /// position that would follow the previous op (its alignment is tried first). Positions are
    /// absolute in `old`/`new`.
    /// With `growSeed` (the previous op is a block run), the seed's alignment is also grown into
    /// the stretch like a found cover; so is `endSeed`'s (the old position that would end at
    /// `end` in the alignment of a block run that follows): a run ends at the first differing
    /// byte, and the bytes after it often still agree in its alignment.
    /// `searched`, when given, is the search's result, run by the caller in stretches
    /// (`searchStretch`), in order.
    func match(
        from start: Int, to end: Int, seed: Int, growSeed: Bool = false, endSeed: Int? = nil, searched: [Cover]? = nil
    ) -> [[DeltaOperation]] {
        let seedCover = seedCover(at: start, pieceStart: start, seed: seed)
        var found = searched ?? search(from: start, to: end, seed: seedCover)
        if growSeed { found.insert(seedCover, at: 0) }
        if let endSeed, endSeed >= 0, endSeed <= old.count {
            found.append(Cover(newStart: end, oldStart: endSeed, length: 0))
        }
        extend(&found, from: start, to: end)
        return minimumScores.map { score in
            var covers = found
            select(&covers, from: start, seed: seedCover, minimumScore: score)
            extend(&covers, from: start, to: end)
            return ops(covers, from: start, to: end)
        }
    }

    /// The ops of the chosen covers: INSERTs between them, each a COPY when its bytes are equal,
    /// else an ADD.
    private func ops(_ covers: [Cover], from start: Int, to end: Int) -> [DeltaOperation] {
        var ops: [DeltaOperation] = []
        var cursor = start
        for cover in covers {
            if cover.newStart > cursor { ops.append(.insert(length: cover.newStart - cursor)) }
            let same = memcmpEqual(old.baseAddress! + cover.oldStart, new.baseAddress! + cover.newStart, cover.length)
            ops.append(
                same
                    ? .copy(oldStart: cover.oldStart, length: cover.length)
                    : .add(oldStart: cover.oldStart, length: cover.length))
            cursor = cover.newEnd
        }
        if end > cursor { ops.append(.insert(length: end - cursor)) }
        return ops
    }

    // MARK: - Search

    /// Stretches shorter than this are not cut for `searchStretches`.
    static let minimumSearchStretch = 512 << 10

    /// `[start, end)` cut into up to `count` equal stretches of at least `minimumSearchStretch`
    /// bytes, for searches run at once (`searchStretch`) when a few long pieces would leave a
    /// core idle.
    static func searchStretches(from start: Int, to end: Int, count: Int) -> [Range<Int>] {
        let cuts = max(min(count, (end - start) / minimumSearchStretch), 1)
        let length = (end - start) / cuts
        return (0..<cuts).map { k in (start + k * length)..<(k == cuts - 1 ? end : start + (k + 1) * length) }
    }

    /// The search of one stretch of the piece `match(from: start, ..., seed:)` fills: the first
    /// stretch is seeded as `match` seeds it, a later one with the same alignment (the covers
    /// before it are not known yet). A match running over a cut is found again from the cut in
    /// the same alignment, and selection joins the two. The stretches' covers in order are what
    /// `match` takes as `searched`.
    func searchStretch(_ stretch: Range<Int>, pieceStart start: Int, seed: Int) -> [Cover] {
        search(
            from: stretch.lowerBound, to: stretch.upperBound,
            seed: seedCover(at: stretch.lowerBound, pieceStart: start, seed: seed))
    }

    /// An empty cover at new `position` in the alignment that puts the piece's start at old
    /// `seed`, clamped into the old bytes.
    private func seedCover(at position: Int, pieceStart start: Int, seed: Int) -> Cover {
        Cover(newStart: position, oldStart: min(max(seed + (position - start), 0), old.count), length: 0)
    }

    private func search(from start: Int, to end: Int, seed: Cover) -> [Cover] {
        var covers: [Cover] = []
        var last = seed
        var position = start
        var misses = 0
        while position + Self.minimumSearchScore <= end {
            let (length, oldPosition) = index.longestMatch(position, end)
            let candidate = Cover(newStart: position, oldStart: oldPosition, length: length)
            if length - controlCost(candidate, after: last) < Self.minimumSearchScore {
                misses += 1
                position += min(1 + misses >> 2, Self.maxStride)
                continue
            }
            misses = 0
            if last.length > 0, let linked = linkExtending(last, to: candidate, end: end) {
                covers[covers.count - 1] = linked
            } else {
                if let previous = covers.last { covers[covers.count - 1] = collinearIfCheaper(previous, candidate) }
                covers.append(candidate)
            }
            last = covers[covers.count - 1]
            position = max(position + 1, last.newEnd)
        }
        return covers
    }

    /// `last` grown over `candidate` when that is collinear and near, or when `last`'s alignment
    /// explains the candidate's bytes for no more than the candidate's control bytes.
    private func linkExtending(_ last: Cover, to candidate: Cover, end: Int) -> Cover? {
        let gap = candidate.newStart - last.newEnd
        guard gap <= Self.maxLinkGap else { return nil }
        var linked = last
        if last.isCollinear(with: candidate) {
            linked.length = candidate.newEnd - last.newStart
            return linked
        }
        let linkOld = last.oldEnd + gap
        guard linkOld + candidate.length <= old.count,
            differenceCost(newStart: candidate.newStart, oldStart: linkOld, length: candidate.length)
                <= controlCost(candidate, after: last)
        else { return nil }
        // Take most of the candidate and what still matches exactly; leave the rest to `extend`.
        var length = last.length + gap + candidate.length * 2 / 3
        let limit = min(end - (last.newStart + length), old.count - (last.oldStart + length))
        length += commonPrefixLength(
            old.baseAddress! + last.oldStart + length, new.baseAddress! + last.newStart + length, max(limit, 0))
        while length > 0 && new[last.newStart + length - 1] != old[last.oldStart + length - 1] { length -= 1 }
        linked.length = length
        return linked
    }

    /// `previous` moved onto `candidate`'s alignment when its bytes cost no more there, so the
    /// two can later be joined.
    private func collinearIfCheaper(_ previous: Cover, _ candidate: Cover) -> Cover {
        guard !previous.isCollinear(with: candidate) else { return previous }
        let movedOld = candidate.oldStart - (candidate.newStart - previous.newStart)
        guard movedOld >= 0, movedOld + previous.length <= old.count else { return previous }
        let here = differenceCost(newStart: previous.newStart, oldStart: previous.oldStart, length: previous.length)
        let there = differenceCost(newStart: previous.newStart, oldStart: movedOld, length: previous.length)
        guard there <= here else { return previous }
        var moved = previous
        moved.oldStart = movedOld
        return moved
    }

    // MARK: - Extend

    /// Grows each cover backwards and forwards into the bytes between its neighbours.
    private func extend(_ covers: inout [Cover], from start: Int, to end: Int) {
        var previousEnd = start
        for i in covers.indices {
            let nextStart = i + 1 < covers.count ? covers[i + 1].newStart : end
            var cover = covers[i]
            let back = extendableLength(
                oldFrom: cover.oldStart - 1, newFrom: cover.newStart - 1, step: -1,
                newBound: cover.newStart - previousEnd)
            cover.newStart -= back
            cover.oldStart -= back
            cover.length += back
            let forward = extendableLength(
                oldFrom: cover.oldEnd, newFrom: cover.newEnd, step: 1, newBound: nextStart - cover.newEnd)
            cover.length += forward
            covers[i] = cover
            previousEnd = cover.newEnd
        }
    }

    /// How far (at most `newBound` bytes) an alignment stays worth extending from the given
    /// positions in direction `step`: the length with the best agreeing ratio, if that ratio is
    /// at least `extendRatio`.
    private func extendableLength(oldFrom: Int, newFrom: Int, step: Int, newBound: Int) -> Int {
        let available = step > 0 ? min(newBound, old.count - oldFrom) : min(newBound, oldFrom + 1)
        guard available > 0 else { return 0 }
        var same = 0
        var bestRatio = 0.0
        var bestLength = 0
        var o = oldFrom
        var n = newFrom
        for length in 1...available {
            if old[o] == new[n] {
                same += 1
                let ratio = Double(same) / Double(length + 4)
                if ratio >= bestRatio {
                    bestRatio = ratio
                    bestLength = length
                }
            } else if length - bestLength > 4096 && Double(same) / Double(length + 4) < Self.extendRatio / 2 {
                break  // far past the best and falling: nothing better ahead worth scanning for
            }
            o += step
            n += step
        }
        return bestRatio >= Self.extendRatio && bestLength > 2 ? bestLength : 0
    }

    // MARK: - Select

    /// Drops covers whose estimated compressed cost is not `minimumScore` below storing their
    /// bytes literally; joins collinear covers that are close.
    private func select(_ covers: inout [Cover], from start: Int, seed: Cover, minimumScore: Int) {
        let literal = CompressionCostModel()
        let difference = CompressionCostModel()
        var kept: [Cover] = []
        kept.reserveCapacity(covers.count)
        var last = seed
        var i = 0
        while i < covers.count {
            var cover = covers[i]
            i += 1
            // Collinear followers close behind join this cover.
            while i < covers.count && cover.isCollinear(with: covers[i])
                && covers[i].newStart - cover.newEnd <= Self.maxLinkGap
            {
                cover.length = covers[i].newEnd - cover.newStart
                i += 1
            }
            if let previous = kept.last, previous.isCollinear(with: cover),
                cover.newStart - previous.newEnd <= Self.maxLinkGap
            {
                // Joins the previous cover: its gap and bytes become differences.
                difference.add(
                    new: new.baseAddress! + previous.newEnd, old: old.baseAddress! + previous.oldEnd,
                    count: cover.newEnd - previous.newEnd)
                kept[kept.count - 1].length = cover.newEnd - previous.newStart
                last = kept[kept.count - 1]
                continue
            }
            let literalCost = literal.cost(new: new.baseAddress! + cover.newStart, old: nil, count: cover.length)
            let coverCost = difference.cost(
                new: new.baseAddress! + cover.newStart, old: old.baseAddress! + cover.oldStart, count: cover.length)
            guard literalCost - coverCost - controlCost(cover, after: last) >= minimumScore else { continue }
            literal.add(new: new.baseAddress! + last.newEnd, old: nil, count: cover.newStart - last.newEnd)
            difference.add(
                new: new.baseAddress! + cover.newStart, old: old.baseAddress! + cover.oldStart, count: cover.length)
            kept.append(cover)
            last = cover
        }
        covers = kept
    }

    // MARK: - Costs (estimates in bytes)

    /// Control bytes of an op for `cover` after `last`: op code, old offset, length, and the
    /// INSERT before it when there is a gap.
    private func controlCost(_ cover: Cover, after last: Cover) -> Int {
        let gap = cover.newStart - last.newEnd
        let offset = Varint.zigzag(Int64(cover.oldStart - last.oldEnd))
        return 1 + Varint.byteCount(offset) + Varint.byteCount(UInt64(cover.length))
            + (gap > 0 ? 1 + Varint.byteCount(UInt64(gap)) : 0)
    }

    /// Rough uncompressed cost of the differences of new bytes against old ones at an alignment:
    /// a byte per run of equal difference values, two for a longer run of a nonzero value.
    private func differenceCost(newStart: Int, oldStart: Int, length: Int) -> Int {
        CompressionCostModel.runCost(new: new.baseAddress! + newStart, old: old.baseAddress! + oldStart, count: length)
    }
}
