/// Map smoothing decided by the references themselves.
///
/// The matcher sometimes aligns a few KiB inside moved code or data elsewhere (a cover of a
/// repeated pattern, the end of a shifted run): the map then has a stretch of entries of other
/// shifts (and holes) between two entries of one shift, and every reference into that stretch,
/// from anywhere in the image, is predicted with the stretch's shift. Whether the stretch's own
/// shift or its neighbours' is right is told by the references that point into it: the encoder
/// knows every site, its old target and the new bytes it must become.
extension ReferenceAnalysis {
    /// One predicted reference: a site of an op's old bytes, what the transform would rewrite
    /// and what the new image holds there.
    struct Reference {
        var kind: ReferenceKind
        /// Old address the old operand points to.
        var target: UInt64
        /// The old operand word, and the new one at the same place in the new image.
        var oldWord: UInt32
        var newWord: UInt32
        /// Address of the site in the new image.
        var newAddress: UInt64

        /// Whether mapping the target by `shift` (nil: not mapped, the old word is kept) gives
        /// the new word, as `ReferenceTransform.predict` would rewrite it.
        func predicted(by shift: UInt64?) -> Bool {
            guard let shift else { return oldWord == newWord }
            return (kind.rewrite(word: oldWord, address: newAddress, target: target &+ shift) ?? oldWord) == newWord
        }
    }

    /// A stretch is searched at most this many entries ahead of its left neighbour: a bound on
    /// the work (entries times this), not a size rule.
    static let stretchSearch = 64

    /// `map` (sorted, disjoint) with each entry and hole of every stretch between two entries of
    /// one shift, in one old region, given that shift when more of the references pointing into
    /// it (`references` calls its argument with each) are predicted right with it than with its
    /// own (a hole's own is no prediction); ties take the neighbours' shift (a smaller map).
    /// An entry inside several such stretches is judged against the shortest.
    static func smoothed(
        _ map: [ReferenceTransform.MapEntry], regions: [ReferenceTransform.Region],
        references: ((Reference) -> Void) -> Void
    ) -> [ReferenceTransform.MapEntry] {
        guard map.count > 2 else { return map }
        let spans = regions.map { ($0.address, $0.address &+ $0.span) }.sorted { $0.0 < $1.0 }
        func span(of address: UInt64) -> Int? {
            let next = spans.partitioningIndex { $0.0 > address }
            return next > 0 && address < spans[next - 1].1 ? next - 1 : nil
        }
        func shift(_ entry: ReferenceTransform.MapEntry) -> UInt64 { entry.newAddress &- entry.oldAddress }
        func end(_ entry: ReferenceTransform.MapEntry) -> UInt64 { entry.oldAddress &+ entry.length }

        // Candidates: for entry k and for the hole just before it, the shift of the shortest
        // stretch around it.
        var entryCandidate = [(shift: UInt64, width: Int)?](repeating: nil, count: map.count)
        var holeCandidate = [(shift: UInt64, width: Int)?](repeating: nil, count: map.count)
        let entrySpans = map.map { span(of: $0.oldAddress) }
        for i in 0..<(map.count - 2) {
            guard let s = entrySpans[i] else { continue }
            let wanted = shift(map[i])
            var j = i + 1
            while j < map.count && j - i <= stretchSearch && entrySpans[j] == s && shift(map[j]) != wanted { j += 1 }
            guard j < map.count, j > i + 1, j - i <= stretchSearch, entrySpans[j] == s, shift(map[j]) == wanted else {
                continue
            }
            let width = j - i
            for k in (i + 1)...j {
                if k < j, (entryCandidate[k]?.width ?? Int.max) > width { entryCandidate[k] = (wanted, width) }
                if map[k].oldAddress > end(map[k - 1]), (holeCandidate[k]?.width ?? Int.max) > width {
                    holeCandidate[k] = (wanted, width)
                }
            }
        }

        // The pieces to judge, in address order, with their votes.
        struct Piece {
            var start: UInt64
            var end: UInt64
            var own: UInt64?
            var candidate: UInt64
            var ownVotes = 0
            var candidateVotes = 0
            var entry: Int
        }
        var pieces: [Piece] = []
        for k in map.indices {
            if let c = holeCandidate[k] {
                pieces.append(
                    Piece(start: end(map[k - 1]), end: map[k].oldAddress, own: nil, candidate: c.shift, entry: k))
            }
            if let c = entryCandidate[k] {
                pieces.append(
                    Piece(start: map[k].oldAddress, end: end(map[k]), own: shift(map[k]), candidate: c.shift, entry: k))
            }
        }
        guard !pieces.isEmpty else { return map }
        references { reference in
            let p = pieces.partitioningIndex { $0.end > reference.target }
            guard p < pieces.count, pieces[p].start <= reference.target else { return }
            if reference.predicted(by: pieces[p].own) { pieces[p].ownVotes += 1 }
            if reference.predicted(by: pieces[p].candidate) { pieces[p].candidateVotes += 1 }
        }

        // The map with the decisions, neighbours of one shift that touch joined.
        var out: [ReferenceTransform.MapEntry] = []
        func append(_ entry: ReferenceTransform.MapEntry) {
            if let last = out.last, end(last) == entry.oldAddress, shift(last) == shift(entry),
                span(of: last.oldAddress) == span(of: entry.oldAddress)
            {
                out[out.count - 1].length &+= entry.length
            } else {
                out.append(entry)
            }
        }
        var p = 0
        for k in map.indices {
            var entry = map[k]
            while p < pieces.count && pieces[p].entry == k {
                let piece = pieces[p]
                p += 1
                let shift = piece.candidateVotes >= piece.ownVotes ? piece.candidate : piece.own
                if piece.own == nil {
                    if let shift {
                        append(
                            .init(
                                oldAddress: piece.start, length: piece.end &- piece.start,
                                newAddress: piece.start &+ shift))
                    }
                } else if let shift {
                    entry.newAddress = entry.oldAddress &+ shift
                }
            }
            append(entry)
        }
        return out
    }

    /// Calls `body` with every reference the ops `pairs` (old, new, length) would predict: each
    /// old site inside a pair's old bytes whose old and new places lie in code regions.
    func forEachReference(
        pairs: [(old: Int, new: Int, length: Int)], old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>,
        _ body: (Reference) -> Void
    ) {
        var oldRegion = -1
        var newRegion = -1
        for pair in pairs where pair.length >= 4 {
            let start = Int64(pair.old)
            let end = start + Int64(pair.length)
            for site in sites(from: start, to: end - 3) {
                let s = site.offset
                if oldRegion < 0 || s < oldRegions[oldRegion].fileStart || s + 4 > oldRegions[oldRegion].fileEnd {
                    guard let r = ReferenceTransform.region(oldRegions, containing: s) else { continue }
                    oldRegion = r
                }
                let n = Int64(pair.new) + (s - start)
                if newRegion < 0 || n < newRegions[newRegion].fileStart || n >= newRegions[newRegion].fileEnd {
                    guard let r = ReferenceTransform.region(newRegions, containing: n) else {
                        newRegion = -1
                        continue
                    }
                    newRegion = r
                }
                let o = oldRegions[oldRegion]
                let oldWord = UnsafeRawPointer(old.baseAddress! + Int(s)).loadUnaligned(as: UInt32.self).littleEndian
                guard
                    let target = site.kind.target(
                        word: oldWord, address: o.address &+ UInt64(s - o.fileStart), context: site.context)
                else { continue }
                let r = newRegions[newRegion]
                body(
                    Reference(
                        kind: site.kind, target: target, oldWord: oldWord,
                        newWord: UnsafeRawPointer(new.baseAddress! + Int(n)).loadUnaligned(as: UInt32.self)
                            .littleEndian,
                        newAddress: r.address &+ UInt64(n - r.fileStart)))
            }
        }
    }
}
