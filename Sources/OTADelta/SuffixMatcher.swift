/// The second pass of the encoder: bsdiff-style approximate matching of the bytes the block
/// pass left over, against a window of the old image indexed by a suffix array.
///
/// For each stretch of new bytes it looks up the longest exact match in the old window, keeps
/// the current alignment while it still explains the data (so a recompiled function with
/// shifted addresses becomes one ADD of mostly-zero differences), and emits ADD and INSERT ops.
/// Two guards keep it linear on long zero runs and repetitive data, where classic bsdiff goes
/// quadratic: matches are compared up to `maxMatch` bytes, and a long match that the current
/// alignment already covers skips ahead instead of re-searching at every byte.
final class SuffixMatcher {
    private let old: UnsafeBufferPointer<UInt8>
    private let new: UnsafeBufferPointer<UInt8>
    private let suffixes: SuffixArray
    /// `bucketStart[key]` is the first suffix whose first `keyBytes` bytes (zero-padded) are >= key.
    private let bucketStart: UnsafeMutableBufferPointer<Int32>
    private let keyBytes: Int
    /// How many more bytes a new match must explain than the current alignment before the
    /// matcher switches to it (bsdiff uses 8; larger makes fewer, longer ops).
    private let minimumGain: Int
    static let maxMatch = 1 << 16
    /// A match shorter than this counts as a miss for the search stride: a new alignment needs
    /// `minimumGain` (20) bytes anyway. 24 (from 8): libpython diff 40% less CPU, same size.
    static let usefulMatch = 24
    static let maxStride = 16
    static let strideShift = 1

    init(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, minimumGain: Int) {
        self.minimumGain = minimumGain
        self.old = old
        self.new = new
        suffixes = SuffixArray(old)
        keyBytes = old.count >= 1 << 22 ? 3 : 2
        let keys = 1 << (8 * keyBytes)
        bucketStart = .allocate(capacity: keys + 1)
        // Suffixes sort by their zero-padded first bytes, so each key's range starts after the
        // count of all smaller keys: count keys in text order (sequential reads), then sum.
        bucketStart.initialize(repeating: 0)
        let mask = keys - 1
        var key = 0
        for i in 0..<(old.count + keyBytes - 1) {
            key = ((key << 8) | (i < old.count ? Int(old[i]) : 0)) & mask
            if i >= keyBytes - 1 { bucketStart[key + 1] += 1 }
        }
        for k in 0..<keys { bucketStart[k + 1] += bucketStart[k] }
    }

    deinit { bucketStart.deallocate() }

    @inline(__always)
    private static func key(_ data: UnsafeBufferPointer<UInt8>, _ start: Int, _ width: Int) -> Int {
        var key = 0
        for i in 0..<width {
            key <<= 8
            if start + i < data.count { key |= Int(data[start + i]) }
        }
        return key
    }

    /// The longest match of `new[scan ..< end]` in old: (length, old position).
    @inline(__always)
    private func search(_ scan: Int, _ end: Int) -> (Int, Int) {
        let limit = min(end - scan, Self.maxMatch)
        guard limit >= keyBytes, old.count > 0 else { return (0, 0) }
        let key = Self.key(new, scan, keyBytes)
        var lo = Int(bucketStart[key])
        var hi = Int(bucketStart[key + 1]) - 1
        guard lo <= hi else { return (0, 0) }
        let newBase = new.baseAddress! + scan
        let oldBase = old.baseAddress!
        let sa = suffixes.positions
        @inline(__always) func matchLength(_ index: Int, from known: Int) -> Int {
            let p = Int(sa[index])
            let n = min(limit, old.count - p)
            guard known < n else { return n }
            return known + commonPrefixLength(oldBase + p + known, newBase + known, n - known)
        }
        var lcpLo = matchLength(lo, from: keyBytes)
        var lcpHi = lo == hi ? lcpLo : matchLength(hi, from: keyBytes)
        while hi - lo >= 2 {
            let mid = lo + (hi - lo) / 2
            let known = min(lcpLo, lcpHi)
            let l = matchLength(mid, from: known)
            let p = Int(sa[mid])
            // Is the old suffix at `mid` smaller than the pattern?
            let oldSmaller: Bool
            if l == limit {
                oldSmaller = false
            }  // equal up to the limit: either side works
            else if p + l == old.count {
                oldSmaller = true
            }  // old suffix is a prefix of the pattern
            else {
                oldSmaller = old[p + l] < new[scan + l]
            }
            if oldSmaller {
                lo = mid
                lcpLo = l
            } else {
                hi = mid
                lcpHi = l
            }
        }
        return lcpLo >= lcpHi ? (lcpLo, Int(sa[lo])) : (lcpHi, Int(sa[hi]))
    }

    /// Ops covering `new[start ..< end]` exactly; `seed` is the old position that would follow
    /// the previous op (its alignment is tried first). Positions are absolute in `old`/`new`.
    /// Returns the old position the alignment predicts for `end`, to seed the next stretch.
    @discardableResult
    /// `progress` hears how many bytes of the stretch are done, about every MiB.
    func match(
        from start: Int, to end: Int, seed: Int, into ops: inout [DeltaOperation], progress: ((Int) -> Void)? = nil
    ) -> Int {
        let oldCount = old.count
        var nextReport = start + (1 << 20)
        var scan = start
        var length = 0
        var position = 0
        var lastScan = start
        var lastPosition = min(max(seed, 0), oldCount)
        var lastOffset = lastPosition - lastScan
        @inline(__always) func alignedMatch(_ i: Int) -> Bool {
            let o = i + lastOffset
            return o >= 0 && o < oldCount && old[o] == new[i]
        }
        var misses = 0
        while scan < end {
            if let progress, scan >= nextReport {
                progress(scan - start)
                nextReport = scan + (1 << 20)
            }
            var oldScore = 0
            misses = 0
            scan += length
            var scsc = scan
            while scan < end {
                (length, position) = search(scan, end)
                while scsc < scan + length {
                    if alignedMatch(scsc) { oldScore += 1 }
                    scsc += 1
                }
                if (length == oldScore && length != 0) || length > oldScore + minimumGain { break }
                // The current alignment explains this stretch: skip most of it (linear time
                // on zero runs) rather than searching again one byte later.
                // Where nothing matches, search ever more sparsely (up to every `maxStride`
                // bytes): a match found late is recovered by the backward extension below.
                var step = 1
                if length > 64 {
                    step = length - 32
                } else if length < Self.usefulMatch {
                    misses += 1
                    step = min(1 + misses >> Self.strideShift, Self.maxStride, end - scan)
                } else {
                    misses = 0
                }
                for _ in 0..<step {
                    if alignedMatch(scan) { oldScore -= 1 }
                    scan += 1
                }
            }
            guard length != oldScore || scan >= end else { continue }
            if scan > end { scan = end }

            // Extend the previous alignment forwards as far as it keeps matching 3 bytes in 4
            // (bsdiff: 1 in 2; 3 in 4 left less noise in ADDs, 1% smaller on libpython).
            var s = 0
            var bestForward = 0
            var lengthForward = 0
            var i = 0
            while lastScan + i < scan && lastPosition + i < oldCount {
                if old[lastPosition + i] == new[lastScan + i] { s += 1 }
                i += 1
                if s * 4 - i * 3 > bestForward * 4 - lengthForward * 3 {
                    bestForward = s
                    lengthForward = i
                }
            }
            // And the new match backwards.
            var lengthBack = 0
            if scan < end {
                var s = 0
                var bestBack = 0
                var i = 1
                while scan >= lastScan + i && position >= i {
                    if old[position - i] == new[scan - i] { s += 1 }
                    if s * 4 - i * 3 > bestBack * 4 - lengthBack * 3 {
                        bestBack = s
                        lengthBack = i
                    }
                    i += 1
                }
            }
            // Where they overlap, split at the point that keeps the most matching bytes.
            if lastScan + lengthForward > scan - lengthBack {
                let overlap = (lastScan + lengthForward) - (scan - lengthBack)
                var s = 0
                var best = 0
                var split = 0
                for i in 0..<overlap {
                    if new[lastScan + lengthForward - overlap + i] == old[lastPosition + lengthForward - overlap + i] {
                        s += 1
                    }
                    if new[scan - lengthBack + i] == old[position - lengthBack + i] { s -= 1 }
                    if s > best {
                        best = s
                        split = i + 1
                    }
                }
                lengthForward += split - overlap
                lengthBack -= split
            }
            if lengthForward > 0 {
                let same = memcmpEqual(old.baseAddress! + lastPosition, new.baseAddress! + lastScan, lengthForward)
                ops.append(
                    same
                        ? .copy(oldStart: lastPosition, length: lengthForward)
                        : .add(oldStart: lastPosition, length: lengthForward))
            }
            let insertLength = (scan - lengthBack) - (lastScan + lengthForward)
            if insertLength > 0 { ops.append(.insert(length: insertLength)) }
            lastScan = scan - lengthBack
            lastPosition = position - lengthBack
            lastOffset = position - scan
        }
        return lastPosition + (end - lastScan)
    }
}
