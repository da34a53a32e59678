/// The prediction and differences of a piece's ADDs, left by the frame thread (`runAdd`, all
/// checked) to the finisher: filled by the frame thread, then replayed and emptied by the
/// finisher, or by the frame thread itself at the end of a frame, one thread at a time. Handed
/// over when full (`isFull`) as well as with its piece, so it stays small.
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

    /// An ADD's differences: its runs from `runs` and literals from `differences`, in its frame's
    /// streams (nil: an empty stream).
    struct Add {
        var offset: UInt32
        var length: UInt32
        var runs: UnsafePointer<UInt8>?
        var differences: UnsafePointer<UInt8>?
    }

    var predicts: [Predict] = []
    var sites: [ReferenceSite] = []
    var adds: [Add] = []
    /// Bounds on what one holds (beyond `maxSites`, at most one block's sites more): 64 KiB
    /// each at most.
    static let maxPredicts = 2048
    static let maxSites = 4096
    static let maxAdds = 2048

    var isFull: Bool { adds.count >= Self.maxAdds || predicts.count >= Self.maxPredicts }

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
        for add in adds {
            // The runs `runAdd` checked: every varint complete, every run inside the op and the
            // frame's differences.
            guard var runs = add.runs else { continue }
            let dest = piece + Int(add.offset)
            let length = Int(add.length)
            var differences = add.differences
            var position = 0
            while position < length {
                let token = Self.varint(&runs)
                position += Int(token >> 3)
                var literals = Int(token & 7)
                if literals == 7 { literals += Int(Self.varint(&runs)) }
                if literals > 0, let d = differences {
                    let o = dest + position
                    for i in 0..<literals { o[i] &+= d[i] }
                    differences = d + literals
                }
                position += literals
            }
        }
        predicts.removeAll(keepingCapacity: true)
        sites.removeAll(keepingCapacity: true)
        adds.removeAll(keepingCapacity: true)
    }

    /// A varint already checked complete and in range.
    @inline(__always)
    private static func varint(_ p: inout UnsafePointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = p.pointee
            p += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }
}
