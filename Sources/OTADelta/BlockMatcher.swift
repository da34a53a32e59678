/// The first pass of the encoder: finds aligned blocks of the new image that occur unchanged
/// as aligned blocks of the old one (Android-style block copies), so a filesystem image's
/// unchanged files, moved files and free space cost a few bytes each, whatever their distance.
///
/// Memory: one table entry per distinct old block (16 bytes each; 8 MiB for a 2 GiB image).
struct BlockMatcher {
    /// A run of new bytes `[newStart, newStart + length)` equal to old `[oldStart, ...)`.
    struct Run: Equatable {
        var newStart: Int
        var oldStart: Int
        var length: Int
        /// False when the run joins collinear runs across a few differing bytes (an ADD, not a COPY).
        var exact = true
        var newEnd: Int { newStart + length }
        var oldEnd: Int { oldStart + length }
    }

    let blockSize: Int
    /// Runs shorter than this are left to the suffix matcher: a lone identical block inside
    /// changed code would cut an ADD in two (32 KiB: 0.5% smaller ext4 and umath patches).
    let minimumRun: Int

    init(blockSize: Int = 4096, minimumRun: Int = 32 << 10) {
        self.blockSize = blockSize
        self.minimumRun = minimumRun
    }

    /// Matching runs in new order, non-overlapping, extended byte-wise past block edges.
    func runs(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>) -> [Run] {
        guard old.count >= blockSize, new.count >= blockSize else { return [] }
        var table: [UInt64: Int32] = [:]
        table.reserveCapacity(old.count / blockSize)
        var block = 0
        while (block + 1) * blockSize <= old.count {
            let h = hash(old, block * blockSize)
            if table[h] == nil { table[h] = Int32(block) }
            block += 1
        }

        var runs: [Run] = []
        var newPos = 0
        while newPos + blockSize <= new.count {
            var found: Int? = nil
            // Prefer the continuation of the previous run, then the same offset, then anywhere.
            if let last = runs.last, last.newEnd == newPos, equal(old, last.oldEnd, new, newPos) {
                found = last.oldEnd
            } else if newPos + blockSize <= old.count && equal(old, newPos, new, newPos) {
                found = newPos
            } else if let b = table[hash(new, newPos)], equal(old, Int(b) * blockSize, new, newPos) {
                found = Int(b) * blockSize
            }
            if let oldStart = found {
                if var last = runs.last, last.newEnd == newPos, last.oldEnd == oldStart {
                    last.length += blockSize
                    runs[runs.count - 1] = last
                } else {
                    runs.append(Run(newStart: newPos, oldStart: oldStart, length: blockSize))
                }
            }
            newPos += blockSize
        }
        return extend(runs.filter { $0.length >= minimumRun }, old: old, new: new)
    }

    /// Grows each run byte-wise forwards and backwards into the unmatched bytes around it.
    private func extend(_ runs: [Run], old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>) -> [Run] {
        var out = runs
        for i in out.indices {
            var run = out[i]
            let previousEnd = i > 0 ? out[i - 1].newEnd : 0
            while run.newStart > previousEnd && run.oldStart > 0 && new[run.newStart - 1] == old[run.oldStart - 1] {
                run.newStart -= 1
                run.oldStart -= 1
                run.length += 1
            }
            let nextStart = i + 1 < out.count ? out[i + 1].newStart : new.count
            while run.newEnd < nextStart && run.oldEnd < old.count && new[run.newEnd] == old[run.oldEnd] {
                run.length += 1
            }
            out[i] = run
        }
        return out
    }

    private func hash(_ data: UnsafeBufferPointer<UInt8>, _ start: Int) -> UInt64 {
        let raw = UnsafeRawPointer(data.baseAddress! + start)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        var offset = 0
        while offset + 8 <= blockSize {
            h = (h ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01B3
            h ^= h >> 29
            offset += 8
        }
        return h
    }

    private func equal(
        _ old: UnsafeBufferPointer<UInt8>, _ oldStart: Int, _ new: UnsafeBufferPointer<UInt8>, _ newStart: Int
    ) -> Bool {
        guard oldStart + blockSize <= old.count, newStart + blockSize <= new.count else { return false }
        return memcmpEqual(old.baseAddress! + oldStart, new.baseAddress! + newStart, blockSize)
    }
}

/// Byte equality of two ranges, 8 bytes at a time.
@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    commonPrefixLength(a, b, count) == count
}

/// How many leading bytes of two ranges (of at least `limit` bytes) agree.
@inline(__always)
func commonPrefixLength(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ limit: Int) -> Int {
    let ra = UnsafeRawPointer(a)
    let rb = UnsafeRawPointer(b)
    var i = 0
    while i + 8 <= limit {
        let x =
            ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if x != 0 { return i + (x.littleEndian.trailingZeroBitCount >> 3) }
        i += 8
    }
    while i < limit && a[i] == b[i] { i += 1 }
    return i
}
