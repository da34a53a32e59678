internal import Dispatch

/// The old bytes of one window, indexed by a suffix array plus a lookup table of the first
/// two or three bytes, answering "where in old is the longest match of these new bytes?".
final class SuffixIndex {
    let old: UnsafeBufferPointer<UInt8>
    let new: UnsafeBufferPointer<UInt8>
    private let suffixes: SuffixArray
    /// `bucketStart[key]` is the first suffix whose first `keyBytes` bytes (zero-padded) are >= key.
    private let bucketStart: UnsafeMutableBufferPointer<Int32>
    private let keyBytes: Int
    /// Matches are compared up to this many bytes (longer ones are continued by the caller):
    /// keeps each probe short on long zero runs and repetitive data.
    static let maxMatch = 1 << 16
    /// Windows from this size on get a table of 3-byte keys (64 MiB, a quarter of their suffix
    /// array at most); smaller ones a table of 2-byte keys (256 KiB), whose longer buckets cost
    /// a few more search steps per probe.
    static let threeByteKeysFrom = 1 << 26

    /// - Parameter keyBytes: 2 or 3 (tests); nil chooses by the window's size.
    convenience init(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, keyBytes: Int? = nil) {
        self.init(old: old, keyBytes: keyBytes) { new }
    }

    /// - Parameter new: the new bytes, asked for once the suffixes are sorted (the encoder makes
    ///   its masked new image then, so the sort's peak does not hold it).
    init(old: UnsafeBufferPointer<UInt8>, keyBytes: Int? = nil, new: () -> UnsafeBufferPointer<UInt8>) {
        self.old = old
        let keyBytes = keyBytes ?? (old.count >= Self.threeByteKeysFrom ? 3 : 2)
        precondition(keyBytes == 2 || keyBytes == 3, "prefix keys are 2 or 3 bytes")
        let keys = 1 << (8 * keyBytes)
        let bucketStart = UnsafeMutableBufferPointer<Int32>.allocate(capacity: keys + 1)
        self.keyBytes = keyBytes
        self.bucketStart = bucketStart
        // The lookup table needs only the old bytes: it is built on a second core while the
        // suffix sort runs on this one.
        let table = TableInput(old: old, table: bucketStart, keyBytes: keyBytes)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { table.build() }
        suffixes = SuffixArray(old)
        group.wait()
        self.new = new()
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

    /// The longest match of `new[scan ..< end]` in old (compared up to `maxMatch` bytes):
    /// (length, old position).
    @inline(__always)
    func longestMatch(_ scan: Int, _ end: Int) -> (Int, Int) {
        let limit = min(end - scan, Self.maxMatch)
        guard limit >= keyBytes, old.count > 0 else { return (0, 0) }
        let key = Self.key(new, scan, keyBytes)
        var lo = Int(bucketStart[key])
        var hi = Int(bucketStart[key + 1]) - 1
        guard lo <= hi else { return (0, 0) }
        let newBase = new.baseAddress! + scan
        let oldBase = old.baseAddress!
        @inline(__always) func matchLength(_ index: Int, from known: Int) -> Int {
            let p = suffixes[index]
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
            let p = suffixes[mid]
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
        return lcpLo >= lcpHi ? (lcpLo, suffixes[lo]) : (lcpHi, suffixes[hi])
    }

}

/// Builds `SuffixIndex`'s prefix table: `table[key]` = number of suffixes whose first
/// `keyBytes` bytes (zero-padded) are below `key`. Suffixes sort by their zero-padded first
/// bytes, so each key's range starts after the count of all smaller keys.
private struct TableInput: @unchecked Sendable {
    let old: UnsafeBufferPointer<UInt8>
    let table: UnsafeMutableBufferPointer<Int32>
    let keyBytes: Int

    func build() {
        let keys = table.count - 1
        table.initialize(repeating: 0)
        let mask = keys - 1
        var key = 0
        for i in 0..<(old.count + keyBytes - 1) {
            key = ((key << 8) | (i < old.count ? Int(old[i]) : 0)) & mask
            if i >= keyBytes - 1 { table[key + 1] += 1 }
        }
        for k in 0..<keys { table[k + 1] += table[k] }
    }
}
