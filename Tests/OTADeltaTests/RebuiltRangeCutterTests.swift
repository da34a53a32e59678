import Testing

@testable import OTADelta

/// Ops cut around the ranges the recompressed-streams block rebuilds, where the ops are made.
@Suite struct RebuiltRangeCutterTests {
    @Test func `each range becomes one rebuilt op and the ops around it keep their old positions`() {
        let ops: [DeltaOperation] = [
            .copy(oldStart: 0, length: 100), .insert(length: 50), .add(oldStart: 1000, length: 200),
        ]
        let cut = RebuiltRangeCutter.cut(ops, ranges: [30..<60, 140..<150, 200..<350])
        let expected: [DeltaOperation] = [
            .copy(oldStart: 0, length: 30), .rebuilt(length: 30), .copy(oldStart: 60, length: 40),
            .insert(length: 40), .rebuilt(length: 10), .add(oldStart: 1000, length: 50), .rebuilt(length: 150),
        ]
        #expect(cut == expected)
    }

    @Test func `a range across several ops is one rebuilt op`() {
        let ops: [DeltaOperation] = [.insert(length: 10), .copy(oldStart: 7, length: 10), .insert(length: 10)]
        #expect(
            RebuiltRangeCutter.cut(ops, ranges: [5..<25])
                == [.insert(length: 5), .rebuilt(length: 20), .insert(length: 5)])
        // Ranges at the very start and end, and an op exactly a range.
        #expect(
            RebuiltRangeCutter.cut(ops, ranges: [0..<3, 10..<20, 27..<30])
                == [
                    .rebuilt(length: 3), .insert(length: 7), .rebuilt(length: 10), .insert(length: 7),
                    .rebuilt(length: 3),
                ])
    }

    @Test func `ops streamed one by one are cut as a whole list is`() {
        let ops: [DeltaOperation] = (0..<200).map { k in
            k % 3 == 0 ? .insert(length: 7 + k % 11) : .copy(oldStart: 13 * k, length: 5 + k % 17)
        }
        let ranges = [3..<40, 41..<42, 100..<700, 900..<905, 1_500..<1_700]
        var cutter = RebuiltRangeCutter(ranges: ranges)
        var streamed: [DeltaOperation] = []
        for op in ops { cutter.cut(op) { streamed.append($0) } }
        let whole = RebuiltRangeCutter.cut(ops, ranges: ranges)
        #expect(streamed == whole)
        #expect(whole.reduce(0) { $0 + $1.length } == ops.reduce(0) { $0 + $1.length })
        let rebuilt = whole.compactMap { op -> Int? in
            if case .rebuilt(let length) = op { return length }
            return nil
        }
        #expect(rebuilt == ranges.map(\.count))
    }
}
