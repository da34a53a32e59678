/// The prediction and differences of a piece's ADDs, left by the frame thread (`runAdd`, all
/// checked) to the finisher: filled by the frame thread, then replayed and emptied by the
/// finisher, or by the frame thread itself at the end of a frame, one thread at a time. Handed
/// over when full (`isFull`, or `runCount == maxRuns` within an ADD) as well as with its piece,
/// so it stays small.
final class PieceWork {
    /// One `ReferenceTransform.predict` call of `DeltaDecoder.predict`: `[offset, +length)` of the
    /// piece, at sites `[firstSite, endSite)`.
    struct Predict {
        var offset: UInt32
        var length: UInt32
        var firstSite: UInt32
        var endSite: UInt32
        var oldStart: Int64
        var newStart: Int64
    }

    /// An ADD run with literals, as `runAdd` checked it: `count` differences added at `offset`
    /// of the piece. A batch's runs take their differences one after the other from
    /// `differences` (a batch never spans frames: the frame's end replays it).
    struct Run {
        var offset: UInt32
        var count: UInt32
    }

    var predicts: [Predict] = []
    var sites: [ReferenceSite] = []
    /// `runCount` runs of `runs` (fixed capacity `maxRuns`, so the frame thread appends without
    /// an array's checks), their differences from `differences` on.
    let runs = UnsafeMutableBufferPointer<Run>.allocate(capacity: maxRuns)
    var runCount = 0
    var differences: UnsafePointer<UInt8>?
    /// Bounds on what one holds (beyond `maxSites`, at most one block's sites more): 64 KiB
    /// each at most.
    static let maxPredicts = 2048
    static let maxSites = 4096
    static let maxRuns = 8192

    var isFull: Bool { predicts.count >= Self.maxPredicts }

    deinit { runs.deallocate() }

    /// Applies the work to the piece at `piece`, as `runAdd` would have at once: each ADD's
    /// predictions come before its differences (here or in an earlier replay), and ADDs touch
    /// disjoint bytes.
    func replay(
        _ piece: UnsafeMutablePointer<UInt8>, transform: ReferenceTransform?, index: ReferenceTransform.MapIndex?
    ) {
        if let transform {
            for step in predicts {
                transform.predict(
                    UnsafeMutableBufferPointer(start: piece + Int(step.offset), count: Int(step.length)),
                    oldStart: step.oldStart, newStart: step.newStart,
                    sites: sites[Int(step.firstSite)..<Int(step.endSite)], index: index)
            }
        }
        if runCount > 0, var from = differences {
            for run in runs[0..<runCount] {
                let count = Int(run.count)
                Self.add(from, count, to: piece + Int(run.offset))
                from += count
            }
        }
        predicts.removeAll(keepingCapacity: true)
        sites.removeAll(keepingCapacity: true)
        runCount = 0
        differences = nil
    }

    /// Adds `count` literal differences at `differences` to the bytes at `target` (an ADD run's:
    /// the one loop both decoders use).
    @inline(__always)
    static func add(_ differences: UnsafePointer<UInt8>, _ count: Int, to target: UnsafeMutablePointer<UInt8>) {
        for i in 0..<count { target[i] &+= differences[i] }
    }
}
