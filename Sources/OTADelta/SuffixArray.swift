/// A suffix array of a byte string, built in linear time by induced sorting (SA-IS, Nong, Zhang
/// and Chan 2009), so long zero runs and repetitive input cost no more than random data.
///
/// Memory: 4 bytes per input byte for the array, plus `n / 8` bytes of type bits and at most
/// `2n` bytes of buckets in the recursion.
struct SuffixArray: ~Copyable {
    /// `positions[i]` is the start of the i-th smallest suffix.
    let positions: UnsafeMutableBufferPointer<Int32>

    /// Sorts the suffixes of `text` (at most `Int32.max - 1` bytes).
    init(_ text: UnsafeBufferPointer<UInt8>) {
        precondition(text.count < Int(Int32.max), "suffix array window too large")
        positions = .allocate(capacity: max(text.count, 1))
        if text.count > 0 {
            SAIS.sort(text, into: UnsafeMutableBufferPointer(rebasing: positions[0..<text.count]), alphabet: 256)
        }
    }

    deinit { positions.deallocate() }
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
        @inline(__always) func setS(_ i: Int) { words[i >> 6] |= (1 << UInt64(i & 63)) }
        /// Leftmost S: an S suffix preceded by an L suffix.
        @inline(__always) func isLMS(_ i: Int) -> Bool { i > 0 && isS(i) && !isS(i - 1) }
    }

    static func sort<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, into sa: UnsafeMutableBufferPointer<Int32>, alphabet k: Int
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
        let bucket = UnsafeMutableBufferPointer<Int32>.allocate(capacity: k + 1)
        defer { bucket.deallocate() }

        // Stage 1: sort the LMS substrings.
        sa.initialize(repeating: -1)
        fillBucketEnds(s, bucket, k)
        for j in 1..<n where types.isLMS(j) {
            let c = Int(s[j])
            bucket[c] -= 1
            sa[Int(bucket[c])] = Int32(j)
        }
        induce(s, sa, types, bucket, k)

        // Compact the sorted LMS positions to the front.
        var m = 0
        for j in 0..<n {
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
            sort(reduced, into: reducedSA, alphabet: name)
        } else {
            for q in 0..<m { sa[Int(sa[reducedStart + q])] = Int32(q) }
        }
        // Stage 3: map reduced ranks back to LMS positions and induce the full order.
        var q = reducedStart
        for p in 1..<n where types.isLMS(p) {
            sa[q] = Int32(p)
            q += 1
        }
        for r in 0..<m { sa[r] = sa[reducedStart + Int(sa[r])] }
        for r in m..<n { sa[r] = -1 }
        fillBucketEnds(s, bucket, k)
        var r = m - 1
        while r >= 0 {
            let p = Int(sa[r])
            sa[r] = -1
            let c = Int(s[p])
            bucket[c] -= 1
            sa[Int(bucket[c])] = Int32(p)
            r -= 1
        }
        induce(s, sa, types, bucket, k)
    }

    @inline(__always)
    static func fillBucketEnds<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, _ bucket: UnsafeMutableBufferPointer<Int32>, _ k: Int
    ) {
        bucket.initialize(repeating: 0)
        for c in s { bucket[Int(c)] += 1 }
        var sum: Int32 = 0
        for c in 0..<k {
            sum += bucket[c]
            bucket[c] = sum
        }
    }

    @inline(__always)
    static func fillBucketStarts<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, _ bucket: UnsafeMutableBufferPointer<Int32>, _ k: Int
    ) {
        bucket.initialize(repeating: 0)
        for c in s { bucket[Int(c)] += 1 }
        var sum: Int32 = 0
        for c in 0..<k {
            let count = bucket[c]
            bucket[c] = sum
            sum += count
        }
    }

    /// Induces L suffixes left to right, then S suffixes right to left, from the placed LMS ones.
    static func induce<T: FixedWidthInteger>(
        _ s: UnsafeBufferPointer<T>, _ sa: UnsafeMutableBufferPointer<Int32>, _ types: borrowing TypeBits,
        _ bucket: UnsafeMutableBufferPointer<Int32>, _ k: Int
    ) {
        let n = s.count
        fillBucketStarts(s, bucket, k)
        // The suffix n-1 follows the virtual sentinel and is L.
        do {
            let c = Int(s[n - 1])
            sa[Int(bucket[c])] = Int32(n - 1)
            bucket[c] += 1
        }
        for i in 0..<n {
            let p = Int(sa[i]) - 1
            if p >= 0 && !types.isS(p) {
                let c = Int(s[p])
                sa[Int(bucket[c])] = Int32(p)
                bucket[c] += 1
            }
        }
        fillBucketEnds(s, bucket, k)
        var i = n - 1
        while i >= 0 {
            let p = Int(sa[i]) - 1
            if p >= 0 && types.isS(p) {
                let c = Int(s[p])
                bucket[c] -= 1
                sa[Int(bucket[c])] = Int32(p)
            }
            i -= 1
        }
    }
}
