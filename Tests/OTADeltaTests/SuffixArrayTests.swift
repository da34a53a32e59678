import OTATestSupport
import Testing

@testable import OTADelta

@Suite struct SuffixArrayTests {
    static func naive(_ text: [UInt8]) -> [Int32] {
        (0..<text.count).sorted { a, b in text[a...].lexicographicallyPrecedes(text[b...]) }.map { Int32($0) }
    }

    /// The suffix array of `text` with positions repacked to the bits they need and with the
    /// sort's 32-bit ones: both must agree.
    static func sorted(_ text: [UInt8]) -> [Int32] {
        text.withUnsafeBufferPointer { buffer in
            let packed = SuffixArray(buffer)
            let wide = SuffixArray(buffer, repack: false)
            #expect(packed.bits == max(Int.bitWidth - max(text.count - 1, 1).leadingZeroBitCount, 1))
            #expect(wide.bits == 32)
            let positions = (0..<text.count).map { Int32(packed[$0]) }
            #expect(positions == (0..<text.count).map { Int32(wide[$0]) })
            return positions
        }
    }

    @Test(arguments: [
        Array("banana".utf8), Array("mississippi".utf8), [0], [5, 5], [1, 2], [2, 1], Array("abc".utf8),
        Array("cba".utf8), [UInt8](repeating: 0, count: 40), Array("abracadabra abracadabra".utf8),
        [UInt8](repeating: 7, count: 3) + [0] + [UInt8](repeating: 7, count: 5),
    ])
    func `suffixes come out in lexicographic order`(text: [UInt8]) {
        #expect(Self.sorted(text) == Self.naive(text))
    }

    @Test func `random and repetitive texts sort like a naive sort`() {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<300 {
            let count = Int.random(in: 1...400, using: &generator)
            let alphabet = UInt8([2, 3, 4, 255][round % 4])
            var text = (0..<count).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
            if round % 5 == 0 { text = Array((text + text + text).prefix(600)) }
            #expect(Self.sorted(text) == Self.naive(text), "round \(round)")
        }
    }

    /// Over 4,096 distinct LMS substrings that still repeat: the recursion sorts names with
    /// bucket cursors in a large table (prefetched by `induce`).
    @Test func `a recursion over thousands of names sorts like a naive sort`() {
        var generator = SeededGenerator(seed: 9)
        let random = (0..<20000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = random + random[100..<400] + random[5000..<5100]
        #expect(Self.sorted(text) == Self.naive(text))
    }
}

extension SuffixArrayTests {
    /// Keeping the suffixes that start before a bound: the full order with the others left out,
    /// in both forms (repacked positions and the sort's 32-bit ones).
    @Test func `kept suffixes keep the full order`() {
        var generator = SeededGenerator(seed: 11)
        for round in 0..<200 {
            let count = Int.random(in: 1...300, using: &generator)
            let alphabet = UInt8([1, 3, 255][round % 3])
            let text = (0..<count).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
            let kept = Int.random(in: 0...count, using: &generator)
            let expected = Self.naive(text).filter { $0 < kept }
            text.withUnsafeBufferPointer { buffer in
                let packed = SuffixArray(buffer, keeping: kept)
                let wide = SuffixArray(buffer, keeping: kept, repack: false)
                #expect(packed.count == kept && wide.count == kept)
                #expect((0..<kept).map { Int32(packed[$0]) } == expected, "round \(round)")
                #expect((0..<kept).map { Int32(wide[$0]) } == expected, "round \(round)")
            }
        }
    }
}

@Suite struct SuffixIndexTests {
    /// The longest match of every position of `new` in `old`, by a direct comparison.
    static func naiveLongest(_ old: [UInt8], _ new: [UInt8], at scan: Int) -> Int {
        var best = 0
        for start in old.indices {
            var length = 0
            while scan + length < new.count && start + length < old.count && old[start + length] == new[scan + length] {
                length += 1
            }
            best = max(best, length)
        }
        return best
    }

    /// An index in two parts (sorted on two cores) answers every probe with the same match,
    /// position included, as one suffix array of the window: texts of few symbols, so most
    /// probes have several equally long matches, in both parts and across the cut.
    @Test(arguments: [2, 3])
    func `two parts find what one suffix array finds`(keyBytes: Int) {
        var generator = SeededGenerator(seed: 5)
        for round in 0..<24 {
            let count = Int.random(in: 2...1500, using: &generator)
            let alphabet = UInt8([1, 2, 3, 255][round % 4])
            var old = (0..<count).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
            if round % 3 == 0 { old = Array((old + old + old).prefix(count)) }
            var new = (0..<400).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
            let start = Int.random(in: 0..<count, using: &generator)
            new += old[start..<min(count, start + 300)]
            new.append(UInt8.random(in: 0...alphabet, using: &generator))
            old.withUnsafeBufferPointer { o in
                new.withUnsafeBufferPointer { n in
                    let whole = SuffixIndex(old: o, new: n, keyBytes: keyBytes, parts: 1)
                    let halves = SuffixIndex(old: o, new: n, keyBytes: keyBytes, parts: 2)
                    for scan in 0..<new.count {
                        for end in [new.count, min(new.count, scan + 5)] {
                            let one = whole.longestMatch(scan, end)
                            let two = halves.longestMatch(scan, end)
                            #expect(one == two, "round \(round) scan \(scan) end \(end)")
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: [2, 3])
    func `both prefix table widths find the longest match`(keyBytes: Int) {
        var generator = SeededGenerator(seed: 7)
        let old = (0..<3000).map { _ in UInt8.random(in: 0...3, using: &generator) }
        var new = Array(old[1000..<1400]) + (0..<200).map { _ in UInt8.random(in: 0...3, using: &generator) }
        new += [9, 9, 9] + old[2500..<2600]
        old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n in
                let index = SuffixIndex(old: o, new: n, keyBytes: keyBytes)
                for scan in stride(from: 0, to: new.count, by: 7) {
                    let (length, position) = index.longestMatch(scan, new.count)
                    let expected = Self.naiveLongest(old, new, at: scan)
                    // Matches shorter than the key are not looked for.
                    if expected >= keyBytes {
                        #expect(length == expected, "scan \(scan)")
                    } else {
                        #expect(length <= expected, "scan \(scan)")
                    }
                    #expect(Array(old[position..<(position + length)]) == Array(new[scan..<(scan + length)]))
                }
            }
        }
    }
}
