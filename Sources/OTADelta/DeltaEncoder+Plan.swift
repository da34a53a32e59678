internal import OTABase

extension DeltaEncoder {
    /// Where each stretch of the new image comes from, in new order: a block run (a COPY), or a
    /// piece the cover matcher fills.
    enum Segment {
        case run(BlockMatcher.Run)
        case piece(Int)
    }

    /// A stretch the cover matcher fills: new `[start, end)`, `seed` the packed old position its
    /// alignment predicts, matched against window `window` of the packed old bytes.
    struct Piece {
        var start: Int
        var end: Int
        var seed: Int
        var window = 0
        /// The piece follows a block run (`seed` is its alignment).
        var afterRun = false
        /// The packed old position that would end at `end` in the alignment of the block run
        /// that follows the piece, if one does.
        var endSeed: Int?
    }

    /// The block pass, and the pieces left for the matcher.
    struct Plan {
        var segments: [Segment] = []
        var pieces: [Piece] = []
        var windows: [Range<Int>] = []
        var space: OldIndexSpace
    }

    func plan(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>) -> Plan {
        let matcher = BlockMatcher(blockSize: options.blockSize, minimumRun: options.minimumBlockRun)
        let aligned = matcher.runs(old: old, new: new)
        // Then runs at any offset in what the aligned ones leave (shifted code, moved data).
        var gaps: [Range<Int>] = []
        var gapStart = 0
        for run in aligned {
            if run.newStart > gapStart { gaps.append(gapStart..<run.newStart) }
            gapStart = run.newEnd
        }
        if gapStart < new.count { gaps.append(gapStart..<new.count) }
        // Runs of one alignment a few bytes apart join across them (as the cover matcher joins
        // collinear covers): one ADD instead of two ops and an INSERT between them.
        var runs: [BlockMatcher.Run] = []
        for run in (aligned + matcher.shiftedRuns(old: old, new: new, within: gaps)).sorted(by: {
            $0.newStart < $1.newStart
        }) {
            if var last = runs.last, run.oldStart - run.newStart == last.oldStart - last.newStart,
                run.newStart - last.newEnd <= CoverMatcher.maxLinkGap
            {
                last.exact = last.exact && run.exact && run.newStart == last.newEnd
                last.length = run.newEnd - last.newStart
                runs[runs.count - 1] = last
            } else {
                runs.append(run)
            }
        }
        // What the suffix arrays index: only the old bytes no block run uses when runs use most
        // of the image (a filesystem image; an executable whose code, masked, mostly shifted
        // unchanged), else all of it.
        let space =
            OldIndexSpace(
                old: old, used: runs.map { $0.oldStart..<$0.oldEnd }, minimumUsedFraction: options.packedIndexThreshold)
            ?? OldIndexSpace(old: old)
        var plan = Plan(space: space)
        let indexed = space.bytes.count

        // Windows of the indexed bytes for the suffix arrays: all, or half-overlapping windows.
        let window = max(options.windowSize, 1 << 16)
        if indexed <= window {
            plan.windows = [0..<indexed]
        } else {
            var start = 0
            while true {
                let end = min(start + window, indexed)
                plan.windows.append(start..<end)
                if end == indexed { break }
                start += window / 2
            }
        }
        // Long gaps between block runs are cut into pieces: so both cores can match at once,
        // so compression can start on the first pieces while later ones are matched, and with
        // several windows so each piece is matched in the window around the old position its
        // alignment predicts. A cover cannot cross a cut; at 2-4 MiB that costs nothing measurable.
        let pieceLength = plan.windows.count > 1 ? max(min(window / 4, Self.matchPiece), 1 << 14) : Self.matchPiece
        func addGap(_ start: Int, _ end: Int, oldSeed: Int, afterRun: Bool, before next: BlockMatcher.Run?) {
            let seed = space.packedPosition(ofOld: oldSeed)
            let endSeed = next.flatMap { $0.oldStart > 0 ? space.packedPosition(ofOld: $0.oldStart - 1) + 1 : nil }
            var position = start
            while position < end {
                let pieceEnd = end - position <= pieceLength + pieceLength / 2 ? end : position + pieceLength
                let packedSeed = seed + (position - start)
                var best = 0
                var bestDistance = Int.max
                for (i, w) in plan.windows.enumerated() {
                    let distance = abs((w.lowerBound + w.upperBound) / 2 - packedSeed)
                    if distance < bestDistance {
                        best = i
                        bestDistance = distance
                    }
                }
                plan.segments.append(.piece(plan.pieces.count))
                plan.pieces.append(
                    Piece(
                        start: position, end: pieceEnd, seed: packedSeed, window: best,
                        afterRun: afterRun && position == start, endSeed: pieceEnd == end ? endSeed : nil))
                position = pieceEnd
            }
        }
        var cursor = 0
        var seed = 0
        for run in runs {
            if run.newStart > cursor { addGap(cursor, run.newStart, oldSeed: seed, afterRun: cursor > 0, before: run) }
            plan.segments.append(.run(run))
            cursor = run.newEnd
            seed = run.oldEnd
        }
        if cursor < new.count { addGap(cursor, new.count, oldSeed: seed, afterRun: cursor > 0, before: nil) }
        return plan
    }
}
