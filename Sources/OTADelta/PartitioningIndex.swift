extension RandomAccessCollection where Index == Int {
    /// The first index of `range` whose element satisfies `isSecondPart`, for elements split in
    /// two by it (all that fail come before all that pass); `range.upperBound` when none passes.
    /// A lower bound is `partitioningIndex { $0.key >= key }`; the first entry ending after `x`
    /// is `partitioningIndex { $0.end > x }`. The one binary search of the delta code.
    @inline(__always)
    func partitioningIndex(in range: Range<Int>, where isSecondPart: (Element) -> Bool) -> Int {
        var lo = range.lowerBound
        var hi = range.upperBound
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if isSecondPart(self[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// `partitioningIndex(in:where:)` over the whole collection.
    @inline(__always)
    func partitioningIndex(where isSecondPart: (Element) -> Bool) -> Int {
        partitioningIndex(in: startIndex..<endIndex, where: isSecondPart)
    }
}
