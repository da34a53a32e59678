internal import Dispatch

/// The old bytes of one window, indexed by suffix arrays plus lookup tables of the first two or
/// three bytes, answering "where in old is the longest match of these new bytes?".
///
/// A window of `splitSizes` bytes is indexed as two parts, the first and second half of
/// its positions, each sorted on its own core (the sort is most of a diff's one-core time). A
/// part's suffixes are ordered by the bytes that follow them up to `maxMatch` past the part's
/// end, so a probe, which compares at most `maxMatch` bytes, finds in each part the longest
/// match that starts there. Each part's search ends between the pattern's neighbours in that
/// part; the nearer of the two parts' neighbours are the window's, so a probe returns the match
/// one suffix array of the window would (patches do not depend on the split). The two parts'
/// binary searches run in lockstep, a step of each in turn: their loads are independent, so the
/// core waits for both at once, and two searches cost ~5% more CPU than one (~40% when they ran
/// one after the other); the sort of two halves takes about half the time of the whole on each.
final class SuffixIndex {
    let old: UnsafeBufferPointer<UInt8>
    let new: UnsafeBufferPointer<UInt8>
    private let first: Part
    private let second: Part?
    private let keyBytes: Int
    /// Matches are compared up to this many bytes (longer ones are continued by the caller):
    /// keeps each probe short on long zero runs and repetitive data.
    static let maxMatch = 1 << 16
    /// Windows from this size on get a table of 3-byte keys (64 MiB, a quarter of their suffix
    /// array at most); smaller ones a table of 2-byte keys (256 KiB), whose longer buckets cost
    /// a few more search steps per probe.
    static let threeByteKeysFrom = 1 << 26
    /// Windows of `splitSizes` bytes are sorted as two parts on two cores. From 64 MiB a part's
    /// 3-byte table would be 64 MiB of its own.
    static let splitSizes = (1 << 20)..<(64 << 20)

    /// - Parameter keyBytes: 2 or 3 (tests); nil chooses by the window's size.
    /// - Parameter parts: 1 or 2 (tests); nil chooses by the window's size.
    convenience init(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, keyBytes: Int? = nil, parts: Int? = nil
    ) {
        self.init(old: old, keyBytes: keyBytes, parts: parts) { new }
    }

    /// - Parameter new: the new bytes, asked for once the suffixes are sorted (the encoder makes
    ///   its masked new image then, so the sort's peak does not hold it).
    init(
        old: UnsafeBufferPointer<UInt8>, keyBytes: Int? = nil, parts: Int? = nil,
        new: () -> UnsafeBufferPointer<UInt8>
    ) {
        self.old = old
        let keyBytes = keyBytes ?? (old.count >= Self.threeByteKeysFrom ? 3 : 2)
        precondition(keyBytes == 2 || keyBytes == 3, "prefix keys are 2 or 3 bytes")
        self.keyBytes = keyBytes
        let parts = parts ?? (Self.splitSizes.contains(old.count) ? 2 : 1)
        precondition(parts == 1 || parts == 2, "a suffix index has one or two parts")
        if parts == 2 && old.count >= 2 {
            let cut = old.count / 2
            let input = PartInput(old: old, keyBytes: keyBytes)
            let made = PartResult()
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) {
                made.part = Part(input.old, 0..<cut, keyBytes: input.keyBytes)
            }
            second = Part(old, cut..<old.count, keyBytes: keyBytes)
            group.wait()
            first = made.part!
        } else {
            first = Part(old, 0..<old.count, keyBytes: keyBytes, tableBeside: true)
            second = nil
        }
        self.new = new()
    }

    @inline(__always)
    private static func key(_ data: UnsafeBufferPointer<UInt8>, _ start: Int, _ width: Int) -> Int {
        var key = 0
        for i in 0..<width {
            key <<= 8
            if start + i < data.count { key |= Int(data[start + i]) }
        }
        return key
    }

    /// The longest match of `new[scan ..< end]` in old (compared up to `maxMatch` bytes):
    /// (length, old position). With two parts, the same match a search of one suffix array of
    /// the whole window returns (it ends between the pattern's two neighbours in suffix order,
    /// which are the nearer of each part's neighbours), unless suffixes compared for the order
    /// agree on `maxMatch` bytes past the pattern's match.
    @inline(__always)
    func longestMatch(_ scan: Int, _ end: Int) -> (Int, Int) {
        let limit = min(end - scan, Self.maxMatch)
        guard limit >= keyBytes, old.count > 0 else { return (0, 0) }
        let key = Self.key(new, scan, keyBytes)
        let pattern = new.baseAddress! + scan
        guard let second else { return first.bracket(pattern, limit: limit, key: key, keyBytes: keyBytes).result }
        // Both parts' searches in lockstep: each step's loads of one part overlap the other's.
        var a = first.begin(pattern, limit: limit, key: key, keyBytes: keyBytes)
        var b = second.begin(pattern, limit: limit, key: key, keyBytes: keyBytes)
        while a.running && b.running {
            first.step(&a, pattern, limit: limit)
            second.step(&b, pattern, limit: limit)
        }
        while a.running { first.step(&a, pattern, limit: limit) }
        while b.running { second.step(&b, pattern, limit: limit) }
        return merged(first.finish(a, pattern, limit: limit), second.finish(b, pattern, limit: limit)).result
    }

    /// The two parts' neighbours of the pattern as one suffix array's would be.
    @inline(__always)
    private func merged(_ a: Bracket, _ b: Bracket) -> Bracket {
        var m = Bracket()
        // The larger of the suffixes below the pattern, and the one below it.
        if a.below >= 0 && b.below >= 0 {
            let aLarger = precedes(b.below, b.belowLength, a.below, a.belowLength, below: true)
            let (top, other) = aLarger ? (a, b) : (b, a)
            (m.below, m.belowLength) = (top.below, top.belowLength)
            (m.secondBelow, m.secondBelowLength) = (other.below, other.belowLength)
            if top.secondBelow >= 0
                && precedes(other.below, other.belowLength, top.secondBelow, top.secondBelowLength, below: true)
            {
                (m.secondBelow, m.secondBelowLength) = (top.secondBelow, top.secondBelowLength)
            }
        } else {
            m = a.below >= 0 ? a : b
            (m.above, m.aboveLength) = (-1, 0)
        }
        // The smaller of the suffixes above.
        if a.above >= 0 && b.above >= 0 {
            let aSmaller = precedes(a.above, a.aboveLength, b.above, b.aboveLength, below: false)
            (m.above, m.aboveLength) = aSmaller ? (a.above, a.aboveLength) : (b.above, b.aboveLength)
        } else if a.above >= 0 || b.above >= 0 {
            (m.above, m.aboveLength) = a.above >= 0 ? (a.above, a.aboveLength) : (b.above, b.aboveLength)
        }
        return m
    }

    /// Whether old suffix `x` comes before `y` in suffix order; both are on the same side of the
    /// pattern (`below` it or not) and share `xLength` and `yLength` bytes with it.
    @inline(__always)
    private func precedes(_ x: Int, _ xLength: Int, _ y: Int, _ yLength: Int, below: Bool) -> Bool {
        // The one that shares more with the pattern is nearer to it.
        if xLength != yLength { return below ? xLength < yLength : xLength > yLength }
        // Both agree with the pattern for `length` bytes: compare what follows.
        let length = xLength
        let xRest = old.count - x - length
        let yRest = old.count - y - length
        let count = min(xRest, yRest, Self.maxMatch)
        let base = old.baseAddress!
        let same = commonPrefixLength(base + x + length, base + y + length, count)
        if same < count { return base[x + length + same] < base[y + length + same] }
        if same == xRest || same == yRest { return xRest < yRest }
        return x < y  // equal for `maxMatch` more bytes: either order
    }

    /// A probe's neighbours in one suffix array: the suffix just below the pattern and the one
    /// below that when nothing is above it, and the suffix just above (at or equal up to the
    /// limit); old positions, -1 for none, with the bytes each shares with the pattern.
    fileprivate struct Bracket {
        var below = -1
        var belowLength = 0
        var secondBelow = -1
        var secondBelowLength = 0
        var above = -1
        var aboveLength = 0

        /// What the search of one suffix array returns: the nearer neighbour sharing the most
        /// (below on a tie); with nothing above, the one below the nearest when both share as
        /// much (the search's last step compares those two).
        @inline(__always)
        var result: (Int, Int) {
            if below >= 0 && above >= 0 {
                return belowLength >= aboveLength ? (belowLength, below) : (aboveLength, above)
            }
            if above >= 0 { return (aboveLength, above) }
            if below < 0 { return (0, 0) }
            if secondBelow >= 0 && secondBelowLength >= belowLength { return (secondBelowLength, secondBelow) }
            return (belowLength, below)
        }
    }

    /// The suffixes of the old positions `range` (ordered by the old bytes up to `maxMatch` past
    /// the range), and their prefix table.
    fileprivate final class Part {
        /// The old position of `text[0]`.
        let base: Int
        /// Old bytes from `base` on: the range and up to `maxMatch` bytes after it.
        let text: UnsafeBufferPointer<UInt8>
        let suffixes: SuffixArray
        /// `bucketStart[key]` is the first suffix whose first `keyBytes` bytes (zero-padded) are
        /// >= key.
        let bucketStart: UnsafeMutableBufferPointer<Int32>

        /// - Parameter tableBeside: build the prefix table on a second core during the sort
        ///   (else after it, on this one: two parts sort on two cores).
        init(_ old: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, keyBytes: Int, tableBeside: Bool = false) {
            base = range.lowerBound
            let text = UnsafeBufferPointer(
                rebasing: old[range.lowerBound..<min(old.count, range.upperBound + SuffixIndex.maxMatch)])
            self.text = text
            let bucketStart = UnsafeMutableBufferPointer<Int32>.allocate(capacity: (1 << (8 * keyBytes)) + 1)
            self.bucketStart = bucketStart
            let table = TableInput(old: text, positions: range.count, table: bucketStart, keyBytes: keyBytes)
            if tableBeside {
                let group = DispatchGroup()
                DispatchQueue.global().async(group: group) { table.build() }
                suffixes = SuffixArray(text, keeping: range.count)
                group.wait()
            } else {
                suffixes = SuffixArray(text, keeping: range.count)
                table.build()
            }
        }

        deinit { bucketStart.deallocate() }

        /// A binary search of this part's bucket for a pattern, one step at a time (`step`), so
        /// two parts' searches can run in lockstep: their loads do not depend on each other, so
        /// the core waits for both at once.
        struct Search {
            var lo: Int
            var hi: Int
            var lcpLo = 0
            var lcpHi = 0
            /// Whether lo is known to be below the pattern and hi not (else they are the bucket's
            /// ends).
            var loBelow = false
            var hiAbove = false
            /// Whether a step is left (the bucket holds more than two suffixes between lo and hi).
            @inline(__always) var running: Bool { hi - lo >= 2 }
        }

        /// The pattern's bytes shared by suffix `index` (known to share `known`), up to `limit`.
        @inline(__always)
        private func matchLength(_ index: Int, _ pattern: UnsafePointer<UInt8>, limit: Int, from known: Int) -> Int {
            let p = suffixes[index]
            let n = min(limit, text.count - p)
            guard known < n else { return n }
            return known + commonPrefixLength(text.baseAddress! + p + known, pattern + known, n - known)
        }

        /// Whether the old suffix at `index`, sharing `l` bytes with the pattern, is smaller than
        /// it.
        @inline(__always)
        private func smaller(_ index: Int, _ l: Int, _ pattern: UnsafePointer<UInt8>, limit: Int) -> Bool {
            let p = suffixes[index]
            if l == limit { return false }  // equal up to the limit: either side works
            if p + l == text.count { return true }  // old suffix is a prefix of the pattern
            return text[p + l] < pattern[l]
        }

        /// The search's start: the bucket of `key` (the pattern's first `keyBytes` bytes) and
        /// what its two ends share with the pattern.
        @inline(__always)
        func begin(_ pattern: UnsafePointer<UInt8>, limit: Int, key: Int, keyBytes: Int) -> Search {
            var search = Search(lo: Int(bucketStart[key]), hi: Int(bucketStart[key + 1]) - 1)
            guard search.lo <= search.hi else { return search }
            search.lcpLo = matchLength(search.lo, pattern, limit: limit, from: keyBytes)
            search.lcpHi =
                search.lo == search.hi
                ? search.lcpLo : matchLength(search.hi, pattern, limit: limit, from: keyBytes)
            return search
        }

        /// One halving of the search's range (only while `running`).
        @inline(__always)
        func step(_ search: inout Search, _ pattern: UnsafePointer<UInt8>, limit: Int) {
            let mid = search.lo + (search.hi - search.lo) / 2
            let l = matchLength(mid, pattern, limit: limit, from: min(search.lcpLo, search.lcpHi))
            if smaller(mid, l, pattern, limit: limit) {
                search.lo = mid
                search.lcpLo = l
                search.loBelow = true
            } else {
                search.hi = mid
                search.lcpHi = l
                search.hiAbove = true
            }
        }

        /// The pattern's neighbours among this part's suffixes once the search has run.
        @inline(__always)
        func finish(_ search: Search, _ pattern: UnsafePointer<UInt8>, limit: Int) -> Bracket {
            guard search.lo <= search.hi else { return Bracket() }
            let (lo, hi, lcpLo, lcpHi) = (search.lo, search.hi, search.lcpLo, search.lcpHi)
            let loBelow = search.loBelow || smaller(lo, lcpLo, pattern, limit: limit)
            var found = Bracket()
            if !loBelow {
                // Every suffix of the bucket is above the pattern: lo is the smallest.
                (found.above, found.aboveLength) = (base + suffixes[lo], lcpLo)
            } else if lo == hi {
                (found.below, found.belowLength) = (base + suffixes[lo], lcpLo)
            } else if search.hiAbove || !smaller(hi, lcpHi, pattern, limit: limit) {
                (found.below, found.belowLength) = (base + suffixes[lo], lcpLo)
                (found.above, found.aboveLength) = (base + suffixes[hi], lcpHi)
            } else {
                // Every suffix is below: hi is the bucket's last, lo the one before it.
                (found.below, found.belowLength) = (base + suffixes[hi], lcpHi)
                (found.secondBelow, found.secondBelowLength) = (base + suffixes[lo], lcpLo)
            }
            return found
        }

        /// The pattern's neighbours among this part's suffixes (`pattern[0 ..< limit]`, whose
        /// first `keyBytes` bytes are `key`), by the binary search one suffix array of the window
        /// had before parts.
        @inline(__always)
        func bracket(_ pattern: UnsafePointer<UInt8>, limit: Int, key: Int, keyBytes: Int) -> Bracket {
            var search = begin(pattern, limit: limit, key: key, keyBytes: keyBytes)
            while search.running { step(&search, pattern, limit: limit) }
            return finish(search, pattern, limit: limit)
        }
    }
}

/// What the thread sorting the first part reads.
private struct PartInput: @unchecked Sendable {
    let old: UnsafeBufferPointer<UInt8>
    let keyBytes: Int
}

/// Where the thread sorting the first part leaves it (read after the group's wait).
private final class PartResult: @unchecked Sendable {
    var part: SuffixIndex.Part?
}

/// Builds `SuffixIndex`'s prefix table: `table[key]` = number of suffixes starting before
/// `positions` whose first `keyBytes` bytes (zero-padded) are below `key`. Suffixes sort by their zero-padded first
/// bytes, so each key's range starts after the count of all smaller keys.
private struct TableInput: @unchecked Sendable {
    let old: UnsafeBufferPointer<UInt8>
    let positions: Int
    let table: UnsafeMutableBufferPointer<Int32>
    let keyBytes: Int

    func build() {
        let keys = table.count - 1
        table.initialize(repeating: 0)
        let mask = keys - 1
        var key = 0
        for i in 0..<(positions + keyBytes - 1) {
            key = ((key << 8) | (i < old.count ? Int(old[i]) : 0)) & mask
            if i >= keyBytes - 1 { table[key + 1] += 1 }
        }
        for k in 0..<keys { table[k + 1] += table[k] }
    }
}
