internal import CMalloc

/// A suffix array of a byte string, built in linear time by induced sorting (SA-IS, Nong, Zhang
/// and Chan 2009), so long zero runs and repetitive input cost no more than random data.
///
/// Memory: 4 bytes per input byte while sorting, plus `n / 8` bytes of type bits (and less in
/// the recursion, whose buckets go in the free middle of the array when they fit); then as many
/// bits per position as the largest position needs (23 for a 7.7 MB text, 25 for 26 MB): the
/// positions are repacked in place and the rest of the array given back, since a diff's
/// matching phase holds the array beside both masked images.
struct SuffixArray: ~Copyable {
    /// The positions, `bits` bits each, little-endian and back to back, then 8 bytes of padding
    /// so a position is read as one unaligned 8-byte load. Allocated with `malloc` (shrunk with
    /// `realloc`).
    private let storage: UnsafeMutableRawPointer
    /// Bits per position (32: the sort's own `Int32` array, not repacked).
    let bits: Int
    private let mask: UInt64
    let count: Int

    /// Sorts the suffixes of `text` (at most `Int32.max - 1` bytes) and keeps those starting
    /// before `keeping` (all by default; the rest of the text only orders them: a `SuffixIndex`
    /// part sorts its share of the old bytes with the bytes that follow it). `repack: false`
    /// keeps the 32-bit positions (tests compare both forms).
    init(_ text: UnsafeBufferPointer<UInt8>, keeping: Int? = nil, repack: Bool = true) {
        precondition(text.count < Int(Int32.max), "suffix array window too large")
        let n = text.count
        let kept = min(keeping ?? n, n)
        precondition(kept >= 0, "suffix array: negative count")
        count = kept
        guard let memory = malloc(max(n, 1) * 4 + 8) else { fatalError("suffix array: out of memory") }
        let positions = memory.bindMemory(to: Int32.self, capacity: max(n, 1))
        if n > 0 {
            SAIS.sort(text, into: UnsafeMutableBufferPointer(start: positions, count: n), alphabet: 256)
        }
        let needed = max(Int.bitWidth - max(kept - 1, 1).leadingZeroBitCount, 1)
        guard repack, needed < 32 else {
            if kept < n {
                // In place, front to back: the kept entries keep their order.
                var written = 0
                for i in 0..<n where Int(positions[i]) < kept {
                    positions[written] = positions[i]
                    written += 1
                }
            }
            bits = 32
            mask = 0xFFFF_FFFF
            storage = kept < n ? realloc(memory, max(kept, 1) * 4 + 8) ?? memory : memory
            return
        }
        // In place, front to back: once entry i is read, the bytes written end before
        // (i + 1) * needed / 8 <= 4 * (i + 1), where entry i + 1 starts (fewer when entries are
        // dropped). Raw loads and stores: the same bytes are read as `Int32`s and written as bytes.
        var pending: UInt64 = 0
        var pendingBits = 0
        var written = 0
        let limit = UInt32(kept)
        for i in 0..<n {
            let position = memory.load(fromByteOffset: 4 &* i, as: UInt32.self)
            guard position < limit else { continue }
            pending |= UInt64(position) << UInt64(pendingBits)
            pendingBits += needed
            while pendingBits >= 8 {
                memory.storeBytes(of: UInt8(truncatingIfNeeded: pending), toByteOffset: written, as: UInt8.self)
                pending >>= 8
                pendingBits -= 8
                written += 1
            }
        }
        if pendingBits > 0 {
            memory.storeBytes(of: UInt8(truncatingIfNeeded: pending), toByteOffset: written, as: UInt8.self)
            written += 1
        }
        bits = needed
        mask = (1 << UInt64(needed)) - 1
        // Shrinking a block this size (glibc maps it on its own) unmaps the tail.
        storage = realloc(memory, written + 8) ?? memory
    }

    deinit { free(storage) }

    /// The start of the i-th smallest suffix.
    @inline(__always)
    subscript(i: Int) -> Int {
        let bit = i &* bits
        let word = UInt64(littleEndian: (storage + (bit &>> 3)).loadUnaligned(as: UInt64.self))
        return Int(truncatingIfNeeded: (word &>> UInt64(bit & 7)) & mask)
    }
}

/// The SA-IS recursion, generic over the symbol type (bytes at the top, names below).
enum SAIS {
    /// A bit per position: set for S-type suffixes.
    struct TypeBits: ~Copyable {
        let words: UnsafeMutableBufferPointer<UInt64>
        init(count: Int) {
            words = .allocate(capacity: count / 64 + 1)
            words.initialize(repeating: 0)
        }
        deinit { words.deallocate() }
        @inline(__always) func isS(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
        /// Read then written rather than `|=`: with `-sanitize=thread`, Swift 6.3.1's access
        /// instrumentation of a modify through this borrowed noncopyable `self` emits invalid IR
        /// (`bitcast i64 to ptr`, the compiler aborts). The same code either way in a release build.
        @inline(__always) func setS(_ i: Int) { words[i >> 6] = words[i >> 6] | (1 << UInt64(i & 63)) }
        /// Leftmost S: an S suffix preceded by an L suffix.
        @inline(__always) func isLMS(_ i: Int) -> Bool { i > 0 && isS(i) && !isS(i - 1) }
    }

    /// - Parameter workspace: memory the sort may use for its buckets when it has room for
    ///   `k + 1` of them (the recursion's, inside the caller's array); else they are allocated.
    static func sort<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, into sa: UnsafeMutableBufferPointer<Int32>, alphabet k: Int,
        workspace: UnsafeMutableBufferPointer<Int32>? = nil
    ) {
        let n = s.count
        if n == 1 {
            sa[0] = 0
            return
        }
        // Types, with a virtual sentinel after the end that is smaller than every symbol: the
        // last suffix is therefore L.
        let types = TypeBits(count: n)
        var i = n - 2
        while i >= 0 {
            let a = s[i]
            let b = s[i + 1]
            if a < b || (a == b && types.isS(i + 1)) { types.setS(i) }
            i -= 1
        }
        let borrowed = workspace.map { $0.count > k } ?? false
        let bucket =
            borrowed ? UnsafeMutableBufferPointer(rebasing: workspace![0...k]) : .allocate(capacity: k + 1)
        defer { if !borrowed { bucket.deallocate() } }
        let counts = Counts(s, alphabet: k)

        // Stage 1: sort the LMS substrings.
        sa.initialize(repeating: -1)
        fillBucketEnds(s, bucket, k, counts)
        for j in 1..<n where types.isLMS(j) {
            let c = Int(s[j])
            bucket[c] -= 1
            sa[Int(bucket[c])] = Int32(j)
        }
        induce(s, sa, bucket, k, counts)

        // Compact the sorted LMS positions to the front.
        var m = 0
        let text = s.baseAddress!
        let d = prefetchDistance
        for j in 0..<n {
            if j &+ d < n { ota_prefetch(types.words.baseAddress! + (Int(sa[j &+ d]) >> 6)) }
            let p = Int(sa[j])
            if types.isLMS(p) {
                sa[m] = Int32(p)
                m += 1
            }
        }
        if m == 0 {
            // No LMS suffix (the text never rises after a fall): the induced order is final.
            return
        }
        // Name the LMS substrings; equal substrings get equal names. Each one's length (to and
        // including the next LMS position) goes in its name slot first: two substrings with
        // equal lengths and equal symbols also have equal types, so no type bits are compared.
        for j in m..<n { sa[j] = -1 }
        var nextLMS = n
        var lms = n - 1
        while lms >= 1 {
            if types.isLMS(lms) {
                sa[m + (lms >> 1)] = Int32(nextLMS - lms + 1)
                nextLMS = lms
            }
            lms -= 1
        }
        var name = 0
        var previous = -1
        var previousLength = 0
        for j in 0..<m {
            if j &+ d < m {
                let ahead = Int(sa[j &+ d])
                ota_prefetch(sa.baseAddress! + (m &+ (ahead >> 1)))
                ota_prefetch(text + ahead)
            }
            let p = Int(sa[j])
            let length = Int(sa[m + (p >> 1)])
            // The substring that reaches the sentinel (p + length > n) equals no other.
            var same = previous >= 0 && length == previousLength && p + length <= n && previous + length <= n
            if same {
                for k in 0..<length where s[p + k] != s[previous + k] {
                    same = false
                    break
                }
            }
            if !same { name += 1 }
            previous = p
            previousLength = length
            sa[m + (p >> 1)] = Int32(name - 1)
        }
        // Gather the names in text order at the end of the array: the reduced string.
        var tail = n - 1
        var j = n - 1
        while j >= m {
            if sa[j] >= 0 {
                sa[tail] = sa[j]
                tail -= 1
            }
            j -= 1
        }
        let reducedStart = n - m
        // Stage 2: sort the reduced string's suffixes (recursively if names repeat).
        let reduced = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(sa)[reducedStart..<n])
        let reducedSA = UnsafeMutableBufferPointer(rebasing: sa[0..<m])
        if name < m {
            // The recursion writes only sa[0..<m]; the names live in the disjoint tail (m <= n/2).
            // What lies between is free until it returns: its buckets go there when they fit
            // (one per name, up to n/2 of them: most of a diff's peak otherwise).
            sort(
                reduced, into: reducedSA, alphabet: name,
                workspace: UnsafeMutableBufferPointer(rebasing: sa[m..<reducedStart]))
        } else {
            for q in 0..<m { sa[Int(sa[reducedStart + q])] = Int32(q) }
        }
        // Stage 3: map reduced ranks back to LMS positions and induce the full order.
        var q = reducedStart
        for p in 1..<n where types.isLMS(p) {
            sa[q] = Int32(p)
            q += 1
        }
        for r in 0..<m {
            if r &+ d < m { ota_prefetch(sa.baseAddress! + (reducedStart &+ Int(sa[r &+ d]))) }
            sa[r] = sa[reducedStart + Int(sa[r])]
        }
        for r in m..<n { sa[r] = -1 }
        fillBucketEnds(s, bucket, k, counts)
        var r = m - 1
        while r >= 0 {
            if r >= d { ota_prefetch(text + Int(sa[r &- d])) }
            let p = Int(sa[r])
            sa[r] = -1
            let c = Int(s[p])
            bucket[c] -= 1
            sa[Int(bucket[c])] = Int32(p)
            r -= 1
        }
        induce(s, sa, bucket, k, counts)
    }

    /// The symbol counts of a text, kept when the alphabet is small (the bytes of the top level),
    /// so bucket bounds need no pass over the text; counted anew each time otherwise (the names of
    /// the recursion: a second array the alphabet's size would cost memory).
    struct Counts: ~Copyable {
        let counts: UnsafeMutableBufferPointer<Int32>?

        init<T: FixedWidthInteger>(_ s: UnsafeBufferPointer<T>, alphabet k: Int) {
            guard k <= 1 << 16 else {
                counts = nil
                return
            }
            let counts = UnsafeMutableBufferPointer<Int32>.allocate(capacity: k)
            counts.initialize(repeating: 0)
            for c in s { counts[Int(c)] += 1 }
            self.counts = counts
        }

        deinit { counts?.deallocate() }

        /// `bucket[c]` = the count of symbol `c`.
        @inline(__always)
        func load<T: FixedWidthInteger>(
            _ s: UnsafeBufferPointer<T>, into bucket: UnsafeMutableBufferPointer<Int32>, _ k: Int
        ) {
            if let counts {
                _ = UnsafeMutableBufferPointer(rebasing: bucket[0..<k]).initialize(fromContentsOf: counts)
            } else {
                bucket.initialize(repeating: 0)
                for c in s { bucket[Int(c)] += 1 }
            }
        }
    }

    /// How many entries ahead of a scan the random reads it will make are prefetched.
    static let prefetchDistance = 16

    @inline(__always)
    static func fillBucketEnds<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, _ bucket: UnsafeMutableBufferPointer<Int32>, _ k: Int, _ counts: borrowing Counts
    ) {
        counts.load(s, into: bucket, k)
        var sum: Int32 = 0
        for c in 0..<k {
            sum += bucket[c]
            bucket[c] = sum
        }
    }

    @inline(__always)
    static func fillBucketStarts<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, _ bucket: UnsafeMutableBufferPointer<Int32>, _ k: Int, _ counts: borrowing Counts
    ) {
        counts.load(s, into: bucket, k)
        var sum: Int32 = 0
        for c in 0..<k {
            let count = bucket[c]
            bucket[c] = sum
            sum += count
        }
    }

    /// Induces L suffixes left to right, then S suffixes right to left, from the placed LMS ones
    /// (empty slots hold -1). As in Yuta Mori's sais: an entry is stored complemented (`~p`) when
    /// the pass that placed it must not induce from it (its predecessor has the other type),
    /// decided from the symbol before it, which sits beside the one just read; so no type bit is
    /// read at a random position, and runs of one symbol keep their bucket cursor.
    static func induce<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, _ sa: UnsafeMutableBufferPointer<Int32>,
        _ bucket: UnsafeMutableBufferPointer<Int32>,
        _ k: Int, _ counts: borrowing Counts
    ) {
        let n = s.count
        // L pass. An entry p > 0 here has an L predecessor (placed so); after the scan every
        // entry is complemented once, so the S pass sees exactly those with an S predecessor.
        fillBucketStarts(s, bucket, k, counts)
        var c1 = Int(s[n - 1])
        var cursor = Int(bucket[c1])
        do {
            // The suffix n-1 follows the virtual sentinel and is L.
            let j = n - 1
            sa[cursor] = j > 0 && Int(s[j - 1]) < c1 ? ~Int32(j) : Int32(j)
            cursor += 1
        }
        let text = s.baseAddress!
        let d = prefetchDistance
        // With many symbols (the recursion's names) the bucket cursors are random reads too:
        // each fetched a step after its symbol.
        let buckets = k > 1 << 12 ? bucket.baseAddress : nil
        for i in 0..<n {
            // The symbol before an entry read 2d steps from now: a random read into the text,
            // the pass's cost, fetched while this one is placed.
            if i &+ 2 &* d < n {
                let ahead = Int(sa[i &+ 2 &* d])
                if ahead > 0 { ota_prefetch(text + (ahead &- 1)) }
            }
            if let buckets, i &+ d < n {
                let ahead = Int(sa[i &+ d])
                if ahead > 0 { ota_prefetch(buckets + Int(s[ahead &- 1])) }
            }
            let entry = sa[i]
            sa[i] = ~entry
            guard entry > 0 else { continue }
            let j = Int(entry) - 1
            let c0 = Int(s[j])
            if c0 != c1 {
                bucket[c1] = Int32(cursor)
                c1 = c0
                cursor = Int(bucket[c1])
            }
            sa[cursor] = j > 0 && Int(s[j - 1]) < c1 ? ~Int32(j) : Int32(j)
            cursor += 1
        }
        // S pass: induce from entries p > 0 (S predecessor), restore the others.
        fillBucketEnds(s, bucket, k, counts)
        c1 = 0
        cursor = Int(bucket[0])
        var i = n - 1
        while i >= 0 {
            if i >= 2 &* d {
                let ahead = Int(sa[i &- 2 &* d])
                if ahead > 0 { ota_prefetch(text + (ahead &- 1)) }
            }
            if let buckets, i >= d {
                let ahead = Int(sa[i &- d])
                if ahead > 0 { ota_prefetch(buckets + Int(s[ahead &- 1])) }
            }
            let entry = sa[i]
            if entry > 0 {
                let j = Int(entry) - 1
                let c0 = Int(s[j])
                if c0 != c1 {
                    bucket[c1] = Int32(cursor)
                    c1 = c0
                    cursor = Int(bucket[c1])
                }
                cursor -= 1
                sa[cursor] = j == 0 || Int(s[j - 1]) > c1 ? ~Int32(j) : Int32(j)
            } else {
                sa[i] = ~entry
            }
            i -= 1
        }
    }

}
