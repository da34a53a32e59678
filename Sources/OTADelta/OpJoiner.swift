/// Joins neighbouring ops that continue each other: COPY/ADD ops whose old ranges are contiguous
/// (covers of two matching pieces, or a block run and the cover that keeps its alignment past a
/// changed byte), and INSERTs in a row. Each join saves an op's control bytes.
struct OpJoiner {
    /// COPYs from this length on are not joined into an ADD.
    static let longCopy = PatchFrame.maxOpLength

    /// The op still open for joining.
    private(set) var pending: DeltaOperation?

    /// Takes the next op (in new order); returns the op that is complete now, if any.
    mutating func take(_ op: DeltaOperation) -> DeltaOperation? {
        guard let last = pending else {
            pending = op
            return nil
        }
        if let joined = Self.join(last, op) {
            pending = joined
            return nil
        }
        pending = op
        return last
    }

    /// `a` then `b` as one op, when one op says the same.
    static func join(_ a: DeltaOperation, _ b: DeltaOperation) -> DeltaOperation? {
        switch (a, b) {
        case (.insert(let l), .insert(let m)): return .insert(length: l + m)
        case (.copy(let o, let l), .copy(let p, let m)) where o + l == p: return .copy(oldStart: o, length: l + m)
        case (.add(let o, let l), .add(let p, let m)) where o + l == p:
            return .add(oldStart: o, length: l + m)
        // A long COPY stays one op (an ADD of it would cost a payload token per frame piece).
        case (.copy(let o, let l), .add(let p, let m)) where o + l == p && l < longCopy,
            (.add(let o, let l), .copy(let p, let m)) where o + l == p && m < longCopy:
            return .add(oldStart: o, length: l + m)
        default: return nil
        }
    }
}
