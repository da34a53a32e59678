internal import Dispatch

/// The searches of a window's few long pieces cut into stretches (`CoverMatcher.searchStretches`)
/// and run at once, and the covers each stretch found (`DeltaEncoder.matchPieces`).
final class StretchSearches: @unchecked Sendable {
    // Safe: `tasks` is constant, and while `run` runs each task writes only its own slot of
    // `found`; it is read only after `run` returns.
    /// One stretch of one piece: `pieceStart` and `seed` (old position, in the window) are the
    /// piece's, as `CoverMatcher.searchStretch` takes them.
    struct Task {
        let piece: Int
        let range: Range<Int>
        let pieceStart: Int
        let seed: Int
    }

    /// Every piece's stretches, the longest first (the short ones even out the cores' ends).
    let tasks: [Task]
    private var found: [[CoverMatcher.Cover]]

    /// Stretches of `pieces` (index in the plan, piece), cut into up to
    /// `DeltaEncoder.piecesForAllCores` each; seeds made relative to `window`.
    init(pieces: [(index: Int, piece: DeltaEncoder.Piece)], window: Range<Int>) {
        tasks = pieces.flatMap { index, piece in
            CoverMatcher.searchStretches(
                from: piece.start, to: piece.end, count: DeltaEncoder.piecesForAllCores
            ).map { Task(piece: index, range: $0, pieceStart: piece.start, seed: piece.seed - window.lowerBound) }
        }.sorted { $0.range.count > $1.range.count }
        found = Array(repeating: [], count: tasks.count)
    }

    /// Runs `search` on every task on all cores, keeping what each found.
    func run(_ search: @Sendable (Task) -> [CoverMatcher.Cover]) {
        found.withUnsafeMutableBufferPointer { slots in
            let slots = Slots(buffer: slots)
            DispatchQueue.concurrentPerform(iterations: tasks.count) { t in
                slots.buffer[t] = search(tasks[t])
            }
        }
    }

    /// The covers of piece `k`'s stretches in order, as `CoverMatcher.match` takes them; nil
    /// when the piece was not cut.
    func covers(ofPiece k: Int) -> [CoverMatcher.Cover]? {
        let mine = tasks.indices.filter { tasks[$0].piece == k }
        guard !mine.isEmpty else { return nil }
        return mine.sorted { tasks[$0].range.lowerBound < tasks[$1].range.lowerBound }.flatMap { found[$0] }
    }

    /// The result slots, written by one task each.
    private struct Slots: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<[CoverMatcher.Cover]>
    }
}
