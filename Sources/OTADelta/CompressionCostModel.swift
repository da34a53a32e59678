#if canImport(Glibc)
    import Glibc
#endif

/// An estimate of what byte stretches will cost after xz, for choosing between storing new
/// bytes literally and as differences against old bytes.
///
/// A stretch is first cut into runs of equal values (the differences new - old, or the new
/// bytes themselves); a zero run costs about a control byte, a nonzero value is a symbol
/// priced by an adaptive order-1 model (previous symbol → symbol frequencies over the last
/// 512 KiB of symbols seen), so the estimate learns what this image's data looks like.
final class CompressionCostModel {
    private static let window = 512 << 10
    /// Bits charged for a symbol never seen after its predecessor.
    private static let unseenBits = 12.0

    private var single = [Int32](repeating: 0, count: 256)
    private var pairs = [Int32](repeating: 0, count: 256 * 256)
    private var history = [UInt8](repeating: 0, count: window)
    private var historyCount = 0
    private var historyStart = 0
    private var previous: Int = -1
    private var previousDropped: Int = -1

    /// Estimated bytes of `count` values (`new[i] - old[i]`, or `new[i]` when `old` is nil).
    func cost(new: UnsafePointer<UInt8>, old: UnsafePointer<UInt8>?, count: Int) -> Int {
        var bits = 0.0
        var control = 0
        var last = previous
        Self.runs(new: new, old: old, count: count) { value, run in
            if value == 0 {
                control += 1
                return
            }
            if run > 1 { control += 1 }
            if last < 0 {
                bits += 8
            } else {
                let pair = pairs[last << 8 | Int(value)]
                bits +=
                    pair > 0 ? min(1 + log2(Double(single[last] + 1) / Double(pair)), Self.unseenBits) : Self.unseenBits
            }
            last = Int(value)
        }
        return control + Int((bits / 8).rounded(.up))
    }

    /// Learns the symbols of a stretch that is now part of the output.
    func add(new: UnsafePointer<UInt8>, old: UnsafePointer<UInt8>?, count: Int) {
        guard count > 0 else { return }
        Self.runs(new: new, old: old, count: count) { value, _ in
            guard value != 0 else { return }
            learn(value)
        }
    }

    private func learn(_ symbol: UInt8) {
        let s = Int(symbol)
        if previous >= 0 {
            single[previous] += 1
            pairs[previous << 8 | s] += 1
        }
        previous = s
        if historyCount == Self.window {
            // Forget the oldest pair.
            let dropped = Int(history[historyStart])
            let next = Int(history[(historyStart + 1) % Self.window])
            single[dropped] -= 1
            pairs[dropped << 8 | next] -= 1
            historyStart = (historyStart + 1) % Self.window
            historyCount -= 1
        }
        history[(historyStart + historyCount) % Self.window] = symbol
        historyCount += 1
    }

    /// Calls `body(value, runLength)` for each run of equal values.
    @inline(__always)
    static func runs(
        new: UnsafePointer<UInt8>, old: UnsafePointer<UInt8>?, count: Int, _ body: (UInt8, Int) -> Void
    ) {
        var i = 0
        while i < count {
            let value = new[i] &- (old?[i] ?? 0)
            var j = i + 1
            while j < count && new[j] &- (old?[j] ?? 0) == value { j += 1 }
            body(value, j - i)
            i = j
        }
    }

    /// Rough uncompressed cost of values: a byte per run of zeros or 0xff, a byte per lone
    /// value, two per longer run of another value.
    static func runCost(new: UnsafePointer<UInt8>, old: UnsafePointer<UInt8>, count: Int) -> Int {
        var cost = 0
        runs(new: new, old: old, count: count) { value, run in
            cost += (value == 0 || value == 0xff || run == 1) ? 1 : 2
        }
        return cost
    }
}
