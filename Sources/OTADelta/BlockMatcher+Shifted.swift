extension BlockMatcher {
    /// Base of the rolling block hash (odd, so every byte position weighs in).
    private static let rollBase: UInt64 = 0x0000_0100_0000_01B3

    /// Runs of at least `minimumRun` equal bytes inside the new ranges `gaps`, found at any new
    /// offset against the aligned old blocks (a rolling hash over the new bytes, HDiffPatch's
    /// way): recompiled code shifts by amounts no block alignment predicts, but with reference
    /// fields masked most of it is unchanged. A run stays inside its gap; runs come in new order.
    ///
    /// Time: one hash update and a filter probe per new byte, a block comparison per filter hit.
    /// Memory: 16 bytes per old block, and a filter of 8-16 bytes per old block (a hit rate of
    /// about 1/64 where nothing matches).
    func shiftedRuns(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, within gaps: [Range<Int>])
        -> [Run]
    {
        let size = blockSize
        let blocks = old.count / size
        guard blocks > 0, gaps.contains(where: { $0.count >= max(minimumRun, size) }) else { return [] }
        var entries: [(hash: UInt64, block: Int32)] = []
        entries.reserveCapacity(blocks)
        for block in 0..<blocks {
            entries.append((Self.blockHash(old.baseAddress! + block * size, size), Int32(block)))
        }
        entries.sort { $0.hash < $1.hash || ($0.hash == $1.hash && $0.block < $1.block) }
        var filterBits = 16
        while 1 << filterBits < blocks * 64 && filterBits < 34 { filterBits += 1 }
        let filter = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: (1 << filterBits) / 64)
        defer { filter.deallocate() }
        filter.initialize(repeating: 0)
        let shift = UInt64(64 - filterBits)
        for entry in entries {
            let bit = Int(entry.hash >> shift)
            filter[bit >> 6] |= 1 << UInt64(bit & 63)
        }
        var outPower: UInt64 = 1
        for _ in 0..<size { outPower = outPower &* Self.rollBase }

        let o = old.baseAddress!
        let n = new.baseAddress!
        var runs: [Run] = []
        for gap in gaps where gap.count >= max(minimumRun, size) {
            var lastEnd = gap.lowerBound
            var p = gap.lowerBound
            var h = Self.blockHash(n + p, size)
            while true {
                let bit = Int(h >> shift)
                if filter[bit >> 6] & (1 << UInt64(bit & 63)) != 0,
                    let found = candidate(
                        hash: h, at: p, limit: gap.upperBound, entries: entries, old: old, new: new, after: runs.last)
                {
                    let (q, forward) = (found.oldStart, found.forward)
                    var back = 0
                    while p - back > lastEnd && q - back > 0 && n[p - back - 1] == o[q - back - 1] { back += 1 }
                    let run = Run(newStart: p - back, oldStart: q - back, length: back + forward)
                    if run.length >= minimumRun {
                        runs.append(run)
                        lastEnd = run.newEnd
                        p = run.newEnd
                    } else {
                        // Too short: skip the stretch it explains, and at least a block (a long
                        // repeat hits at every byte). A run of `minimumRun` still gets a later hit:
                        // its aligned blocks come every `blockSize` bytes, and each hit grows back.
                        p += max(size, forward - size + 1)
                    }
                    guard p + size <= gap.upperBound else { break }
                    h = Self.blockHash(n + p, size)
                    continue
                }
                guard p + size < gap.upperBound else { break }
                h = h &* Self.rollBase &+ UInt64(n[p + size]) &- UInt64(n[p]) &* outPower
                p += 1
            }
        }
        return runs
    }

    /// The aligned old block equal to `new[p ..< p + blockSize]` (whose hash is `hash`) from which
    /// the equal bytes reach furthest towards `limit`, and how far: among the block continuing the
    /// previous run's alignment (preferred on a tie) and the first few of the equal hashes, so
    /// that a block repeated in old (duplicated code, padding) is taken where it continues.
    private func candidate(
        hash: UInt64, at p: Int, limit: Int, entries: [(hash: UInt64, block: Int32)], old: UnsafeBufferPointer<UInt8>,
        new: UnsafeBufferPointer<UInt8>, after last: Run?
    ) -> (oldStart: Int, forward: Int)? {
        let size = blockSize
        var best: (oldStart: Int, forward: Int)?
        func consider(_ q: Int) {
            guard q + size <= old.count, memcmpEqual(old.baseAddress! + q, new.baseAddress! + p, size) else { return }
            let forward =
                size
                + commonPrefixLength(
                    old.baseAddress! + q + size, new.baseAddress! + p + size, min(limit - p, old.count - q) - size)
            if forward > best?.forward ?? 0 { best = (q, forward) }
        }
        if let last {
            let q = p + last.oldStart - last.newStart
            if q >= 0, q % size == 0 { consider(q) }
        }
        let lo = entries.partitioningIndex { $0.hash >= hash }
        var i = lo
        while i < entries.count && entries[i].hash == hash && i < lo + 8 {
            consider(Int(entries[i].block) * size)
            i += 1
        }
        return best
    }

    /// The rolling hash of `count` bytes: the sum of byte × base^(count - 1 - i), wrapping.
    private static func blockHash(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        var h: UInt64 = 0
        for i in 0..<count { h = h &* rollBase &+ UInt64(bytes[i]) }
        return h
    }
}
