internal import Dispatch
internal import OTABase
internal import Synchronization

extension DeltaEncoder {
    /// Pieces in a window from which their matching alone keeps two cores busy to the end
    /// (longest first); with fewer, their searches are cut into up to this many stretches each.
    static let piecesForAllCores = 4

    /// Matches every piece of `plan`, window by window (one suffix array at a time), pieces of
    /// a window on all cores; hands each piece's ops (in old positions), one list per minimum
    /// cover score, to `results`. `new` is asked for the new bytes once the first suffix array
    /// is sorted.
    static func matchPieces(
        _ plan: Plan, new: () -> UnsafeBufferPointer<UInt8>, minimumScores: [Int], longestFirst: Bool = false,
        results: PieceResults
    ) {
        let input = SharedMatchInput(plan: plan, minimumScores: minimumScores)
        // The later scores' lists serve only an update that is mostly new code: once the block
        // runs and the first list's covers copy more than half of the new image, it is not, and
        // the pieces matched after that repeat the first list instead of selecting again.
        var newSize = 0
        var copiedAtStart = 0
        for segment in plan.segments {
            switch segment {
            case .run(let run):
                newSize += run.newEnd - run.newStart
                copiedAtStart += run.newEnd - run.newStart
            case .piece(let k): newSize += plan.pieces[k].end - plan.pieces[k].start
            }
        }
        let copied = Atomic<Int>(copiedAtStart)
        let half = newSize / 2
        for (w, range) in plan.windows.enumerated() {
            let inWindow = plan.pieces.indices.filter { plan.pieces[$0].window == w }
            guard !inWindow.isEmpty else { continue }
            // Each piece is matched on its own, so the order changes no op; the longest first
            // leave the short ones to even out the two cores' ends.
            let members =
                longestFirst
                ? inWindow.sorted {
                    plan.pieces[$0].end - plan.pieces[$0].start > plan.pieces[$1].end - plan.pieces[$1].start
                }
                : inWindow
            if range.isEmpty {
                for k in members {
                    let insert = DeltaOperation.insert(length: plan.pieces[k].end - plan.pieces[k].start)
                    results.publish(k, minimumScores.map { _ in [insert] })
                }
                continue
            }
            let index = SuffixIndex(old: UnsafeBufferPointer(rebasing: plan.space.bytes[range]), new: new)
            let shared = SharedIndex(index: index)
            // Fewer pieces than keep the cores busy to the end (an update that is mostly new
            // code: a gap or two of a few MiB): their searches, most of the work, are cut into
            // stretches searched at once first (one flat set of tasks: a concurrentPerform inside
            // another runs on one thread), then each piece is finished from its stretches' covers.
            let searches =
                members.count < Self.piecesForAllCores
                ? StretchSearches(pieces: members.map { (index: $0, piece: plan.pieces[$0]) }, window: range)
                : nil
            if let searches {
                let matcher = CoverMatcher(index: index, minimumScores: minimumScores)
                searches.run { task in
                    matcher.searchStretch(task.range, pieceStart: task.pieceStart, seed: task.seed)
                }
            }
            DispatchQueue.concurrentPerform(iterations: members.count) { m in
                let k = members[m]
                let piece = input.plan.pieces[k]
                let settled = copied.load(ordering: .relaxed) > half
                let scores = settled ? Array(input.minimumScores.prefix(1)) : input.minimumScores
                var lists = CoverMatcher(index: shared.index, minimumScores: scores)
                    .match(
                        from: piece.start, to: piece.end, seed: piece.seed - range.lowerBound, growSeed: piece.afterRun,
                        endSeed: piece.endSeed.map { $0 - range.lowerBound },
                        searched: searches?.covers(ofPiece: k))
                var covered = 0
                for op in lists[0] {
                    if case .insert = op { continue }
                    covered += op.length
                }
                copied.add(covered, ordering: .relaxed)
                while lists.count < input.minimumScores.count { lists.append(lists[0]) }
                results.publish(
                    k,
                    lists.map { found in
                        var ops: [DeltaOperation] = []
                        for op in found {
                            switch op {
                            case .copy(let o, let l):
                                input.plan.space.appendMapped(
                                    .copy(oldStart: o + range.lowerBound, length: l), to: &ops)
                            case .add(let o, let l):
                                input.plan.space.appendMapped(.add(oldStart: o + range.lowerBound, length: l), to: &ops)
                            case .insert, .rebuilt: ops.append(op)
                            }
                        }
                        return ops
                    })
            }
        }
    }
}

/// What the matching task shares with the writer: read-only after construction.
struct SharedMatchInput: @unchecked Sendable {
    let plan: DeltaEncoder.Plan
    let minimumScores: [Int]
}

/// Where the matching task gets the new bytes it matches (called on that task only).
struct MatchNewBytes: @unchecked Sendable {
    let bytes: () -> UnsafeBufferPointer<UInt8>
}

/// The suffix index the matching tasks share: read-only once built.
struct SharedIndex: @unchecked Sendable {
    let index: SuffixIndex
}
