/// Cuts ops, as they come in new order, around the new image's ranges the recompressed-streams
/// block rebuilds (`RecompressedStreams.holes`): each range becomes one `.rebuilt` op where it
/// starts, and the bytes of the ops that covered it are dropped. Cut where the ops are made,
/// so that everything that counts them (the inserted bytes that size the inserts' dictionary
/// and prime, the inserts filter's trial, whether an update is mostly new) sees what the
/// patch will carry.
struct RebuiltRangeCutter {
    /// Sorted, apart, within the new image.
    let ranges: [Range<Int>]
    private var index = 0
    /// The new image's position of the next op's first byte.
    private(set) var position = 0

    init(ranges: [Range<Int>]) {
        self.ranges = ranges
    }

    /// Hands `body` the ops that `op` becomes.
    mutating func cut<E: Error>(_ op: DeltaOperation, _ body: (DeltaOperation) throws(E) -> Void) throws(E) {
        let end = position + op.length
        guard index < ranges.count, ranges[index].lowerBound < end else {
            position = end
            return try body(op)
        }
        let start = position
        while position < end {
            if index < ranges.count, ranges[index].lowerBound <= position {
                let range = ranges[index]
                if position == range.lowerBound { try body(.rebuilt(length: range.count)) }
                position = min(range.upperBound, end)
                if position == range.upperBound { index += 1 }
            } else {
                let stop = index < ranges.count ? min(ranges[index].lowerBound, end) : end
                try body(op.slice(from: position - start, count: stop - position))
                position = stop
            }
        }
    }

    /// `ops` (a whole patch's, in new order) cut around `ranges`.
    static func cut(_ ops: [DeltaOperation], ranges: [Range<Int>]) -> [DeltaOperation] {
        var cutter = RebuiltRangeCutter(ranges: ranges)
        var out: [DeltaOperation] = []
        out.reserveCapacity(ops.count + 2 * ranges.count)
        for op in ops { cutter.cut(op) { out.append($0) } }
        return out
    }
}
