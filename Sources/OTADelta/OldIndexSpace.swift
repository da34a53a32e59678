/// The old bytes the suffix matcher indexes: the whole old image, or, when the block pass has
/// already used most of it (a filesystem image), only the old stretches no block copy uses,
/// packed together. Changed files mostly come from old bytes that no longer appear unchanged,
/// and indexing a few MiB instead of the whole image makes diffing an ext4 image several times
/// faster. Matches found in the packed bytes are mapped back to old positions.
final class OldIndexSpace {
    /// A packed stretch: `length` bytes at `packedStart` are old bytes at `oldStart`.
    struct Segment {
        var packedStart: Int
        var oldStart: Int
        var length: Int
    }

    let bytes: UnsafeBufferPointer<UInt8>
    private let storage: UnsafeMutableBufferPointer<UInt8>?
    /// Empty for the identity mapping.
    private let segments: [Segment]

    /// The identity space over the whole old image.
    init(old: UnsafeBufferPointer<UInt8>) {
        bytes = old
        storage = nil
        segments = []
    }

    /// The packed space of the old bytes outside `used` (old ranges the block pass copies), or
    /// nil when those are not at least `minimumUsedFraction` of the image.
    init?(old: UnsafeBufferPointer<UInt8>, used: [Range<Int>], minimumUsedFraction: Double) {
        var merged: [Range<Int>] = []
        for range in used.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        let usedBytes = merged.reduce(0) { $0 + $1.count }
        guard old.count > 0, Double(usedBytes) >= minimumUsedFraction * Double(old.count) else { return nil }
        var segments: [Segment] = []
        var cursor = 0
        var packed = 0
        for range in merged + [old.count..<old.count] {
            if range.lowerBound > cursor {
                segments.append(Segment(packedStart: packed, oldStart: cursor, length: range.lowerBound - cursor))
                packed += range.lowerBound - cursor
            }
            cursor = max(cursor, range.upperBound)
        }
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(packed, 1))
        for s in segments {
            _ = UnsafeMutableBufferPointer(rebasing: storage[s.packedStart..<(s.packedStart + s.length)])
                .initialize(from: UnsafeBufferPointer(rebasing: old[s.oldStart..<(s.oldStart + s.length)]))
        }
        self.storage = storage
        self.segments = segments
        bytes = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(storage)[0..<packed])
    }

    deinit { storage?.deallocate() }

    /// Whether `bytes` is a packed copy (so the image it came from is not read through it).
    var isPacked: Bool { storage != nil }

    /// The packed position of an old position (the next packed byte if it was not packed).
    func packedPosition(ofOld position: Int) -> Int {
        guard !segments.isEmpty else { return position }
        // First segment that ends after `position`.
        let lo = segments.partitioningIndex { $0.oldStart + $0.length > position }
        guard lo < segments.count else { return bytes.count }
        let s = segments[lo]
        return s.packedStart + max(0, position - s.oldStart)
    }

    /// An op in packed positions as ops in old positions (split where packed stretches join).
    func appendMapped(_ op: DeltaOperation, to out: inout [DeltaOperation]) {
        guard !segments.isEmpty else {
            out.append(op)
            return
        }
        let start: Int
        let length: Int
        let isAdd: Bool
        switch op {
        case .insert, .rebuilt:
            out.append(op)
            return
        case .copy(let o, let l): (start, length, isAdd) = (o, l, false)
        case .add(let o, let l): (start, length, isAdd) = (o, l, true)
        }
        var position = start
        var remaining = length
        var index = segments.partitioningIndex { $0.packedStart + $0.length > start }
        while remaining > 0 {
            let s = segments[index]
            let take = min(remaining, s.packedStart + s.length - position)
            let oldStart = s.oldStart + (position - s.packedStart)
            out.append(isAdd ? .add(oldStart: oldStart, length: take) : .copy(oldStart: oldStart, length: take))
            position += take
            remaining -= take
            index += 1
        }
    }
}
