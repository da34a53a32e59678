import OTATestSupport
import Testing

@testable import OTADelta

/// The decoder scans only the AArch64 words around an ADDP's old bytes (and x86-64 code up to
/// their end): the sites it finds there must be exactly those the whole block's scan finds, or
/// encoder and decoder would disagree.
@Suite struct WindowScanTests {
    /// Code-like words: every reference form (targets near and far), ADRPs followed by uses of
    /// their register (some beyond the window, some after it is overwritten), near misses that
    /// differ from a form in one classifying bit, and random words, densely mixed.
    static func codeLike(_ words: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var out: [UInt32] = []
        let forms: [UInt32] = [
            0x9400_0000, 0x1400_0000, 0x5400_0000, 0x5400_0010, 0xB400_0000, 0x3500_0000, 0x5800_0000, 0x1800_0000,
            0x9800_0000, 0x3600_0000, 0xB700_0000, 0x1000_0000, 0x7000_0000, 0x9000_0000, 0xB000_0000, 0xF000_0000,
            // Uses: ADD (immediate, 64-bit), LDR/STR (unsigned offset) of each size, LDR q.
            0x9100_0000, 0xF940_0000, 0xB940_0000, 0x3940_0000, 0x7940_0000, 0xF900_0000, 0x3DC0_0000, 0xFD40_0000,
        ]
        while out.count < words {
            switch UInt8.random(in: 0...9, using: &random) {
            case 0...4:
                var word = forms.randomElement(using: &random)!
                // Operand and register bits; small immediates keep many targets in the image.
                let low =
                    Bool.random(using: &random)
                    ? UInt32.random(in: 0...0x3F, using: &random) << 5 | UInt32.random(in: 0...31, using: &random)
                    : UInt32.random(in: 0...0x00FF_FFFF, using: &random)
                word |= low
                // A near miss: one classifying bit flipped.
                if UInt8.random(in: 0...5, using: &random) == 0 {
                    word ^= 1 << UInt32.random(in: 24...31, using: &random)
                }
                out.append(word)
            case 5:
                // An ADRP of a near page and uses of its register a few words on.
                let register = UInt32.random(in: 0...3, using: &random)
                out.append(0x9000_0000 | UInt32.random(in: 0...3, using: &random) << 5 | register)
                for _ in 0..<Int.random(in: 0...20, using: &random) {
                    let uses: [UInt32] = [0x9100_0000, 0xF940_0000, 0xB940_0000, 0x3DC0_0000, 0xAA00_03E0]
                    let use = uses.randomElement(using: &random)!
                    let target = UInt32.random(in: 0...4, using: &random)
                    out.append(
                        use | UInt32.random(in: 0...0xFFF, using: &random) << 10 | register << 5 | target)
                }
            default:
                out.append(UInt32.random(in: 0...UInt32.max, using: &random))
            }
        }
        return out.prefix(words).flatMap { word in withUnsafeBytes(of: word.littleEndian) { Array($0) } }
    }

    /// Two code regions of an image of `count` bytes around a data gap after `cut`, starting and
    /// ending off word boundaries, the second at an unaligned address: windows then meet region
    /// edges, block edges and unaligned region addresses.
    static func oldRegions(count: Int, cut: Int64, seed: Int, architecture: ReferenceArchitecture)
        -> [ReferenceTransform.Region]
    {
        [
            ReferenceTransform.Region(
                fileStart: 6, length: cut - 6, address: 0x40_0002, span: UInt64(cut) + 0x8000,
                architecture: architecture),
            ReferenceTransform.Region(
                fileStart: cut + 200, length: Int64(count) - cut - 201, address: 0x50_0000 + UInt64(seed),
                span: UInt64(count), architecture: architecture),
        ]
    }

    /// The sites of `sites` wholly inside `window`.
    static func inside(_ sites: [ReferenceSite], _ window: Range<Int64>) -> [ReferenceSite] {
        sites.filter { $0.offset >= window.lowerBound && $0.offset + 4 <= window.upperBound }
    }

    @Test func `a window of one word sees an ADRP and its use a whole pairing window apart`() {
        let filler: UInt32 = 0xAA01_03E2  // mov x2, x1
        var words = [UInt32](repeating: filler, count: 10)
        words.append(AArch64PairTests.adrp(3, pages: 1))  // word 10, byte 40
        words += [UInt32](repeating: filler, count: ReferenceScanner.pairWindow - 1)
        words.append(0x9100_0064 | 0x10 << 10)  // add x4, x3, #16: pairWindow words on, byte 104
        words += [UInt32](repeating: filler, count: 10)
        let bytes = words.flatMap { AArch64PairTests.word($0) }
        let region = ReferenceTransform.Region(
            fileStart: 0, length: Int64(bytes.count), address: 0x1000, span: 0x10_0000, architecture: .aarch64)
        let scanner = ReferenceScanner(regions: [region], pairs: true)
        var whole: [ReferenceSite] = []
        bytes.withUnsafeBufferPointer { scanner.scan(block: 0, bytes: $0, into: &whole) }
        #expect(whole.map(\.kind) == [.a64AdrpPaired, .a64AddLow12])
        for window in [Int64(40)..<44, 104..<108, 40..<108, 41..<107] {
            var found: [ReferenceSite] = []
            bytes.withUnsafeBufferPointer { scanner.scan(block: 0, bytes: $0, within: window, into: &found) }
            #expect(Self.inside(found, window) == Self.inside(whole, window), "window \(window)")
        }
    }

    @Test func `a window's sites are those of the whole block's scan`() {
        var random = SeededGenerator(seed: 7)
        let block = Int(ReferenceTransform.scanBlock)
        var compared = 0
        for seed in 1...4 {
            // Two blocks of code with a data gap, regions starting and ending off word boundaries,
            // so windows meet region edges, block edges and unaligned region addresses.
            let arm = Self.codeLike(2 * block / 4, seed: UInt64(seed))
            let x86 = X86ScanTests.codeLike(2 * block, seed: UInt64(seed))
            for architecture in [ReferenceArchitecture.aarch64, .x86_64] {
                let bytes = architecture == .aarch64 ? arm : x86
                let cut = Int64(block) - 1_000 + Int64(seed) * 3
                let regions = Self.oldRegions(count: bytes.count, cut: cut, seed: seed, architecture: architecture)
                for pairs in [false, true] {
                    let scanner = ReferenceScanner(regions: regions, pairs: pairs)
                    for b in 0..<2 {
                        let start = b * block
                        bytes.withUnsafeBufferPointer { all in
                            let piece = UnsafeBufferPointer(rebasing: all[start..<min(start + block, all.count)])
                            var whole: [ReferenceSite] = []
                            scanner.scan(block: Int64(b), bytes: piece, into: &whole)
                            #expect(whole.count > 300, "the blocks must hold many sites")
                            for _ in 0..<60 {
                                let from = Int64(start + Int.random(in: -100..<block, using: &random))
                                let length = Int64([1, 3, 4, 5, 17, 64, 300, 5_000].randomElement(using: &random)!)
                                let window = from..<(from + length)
                                var found: [ReferenceSite] = []
                                scanner.scan(block: Int64(b), bytes: piece, within: window, into: &found)
                                #expect(
                                    Self.inside(found, window) == Self.inside(whole, window),
                                    "seed \(seed) \(architecture) pairs \(pairs) window \(window)")
                                #expect(
                                    found.allSatisfy { $0.offset >= Int64(start) && $0.offset < Int64(start + block) })
                                compared += Self.inside(whole, window).count
                            }
                        }
                    }
                }
            }
        }
        #expect(compared > 10_000)
    }

    /// The decoder predicts an ADDP's sites as the scan finds them (`ReferenceTransform.Prediction`
    /// as the scan's consumer; plain ADRPs, which a later use may pair, come back in the output
    /// and are predicted after): the op's bytes must come out exactly as when the whole blocks'
    /// sites are found first and then predicted, with a map of several shifts, new regions at other
    /// offsets and addresses, and ops that start before, end after or span the blocks.
    @Test func `sites predicted during the scan rewrite an op as sites predicted after it`() {
        var random = SeededGenerator(seed: 11)
        let block = Int(ReferenceTransform.scanBlock)
        var rewritten = 0
        var sitesSeen = 0
        for seed in 1...3 {
            let arm = Self.codeLike(2 * block / 4, seed: UInt64(seed))
            let x86 = X86ScanTests.codeLike(2 * block, seed: UInt64(seed))
            for architecture in [ReferenceArchitecture.aarch64, .x86_64] {
                let bytes = architecture == .aarch64 ? arm : x86
                let cut = Int64(block) - 1_000 + Int64(seed) * 3
                let oldRegions = Self.oldRegions(count: bytes.count, cut: cut, seed: seed, architecture: architecture)
                let newRegions = [
                    ReferenceTransform.Region(
                        fileStart: 10, length: cut, address: 0x40_3000, span: UInt64(cut) + 0x9000,
                        architecture: architecture),
                    ReferenceTransform.Region(
                        fileStart: cut + 300, length: Int64(bytes.count) - cut - 100, address: 0x52_0004,
                        span: UInt64(bytes.count), architecture: architecture),
                ]
                // Shifts that differ per entry, gaps the map does not cover.
                let map = [
                    ReferenceTransform.MapEntry(oldAddress: 0x3F_0000, length: 0x1_0000, newAddress: 0x3F_0040),
                    ReferenceTransform.MapEntry(oldAddress: 0x40_0000, length: 0x6000, newAddress: 0x40_3000),
                    ReferenceTransform.MapEntry(oldAddress: 0x40_6100, length: 0x9F00, newAddress: 0x40_8FF0),
                    ReferenceTransform.MapEntry(oldAddress: 0x41_0000, length: 0x4_0000, newAddress: 0x41_0ABC),
                    ReferenceTransform.MapEntry(oldAddress: 0x50_0000, length: 0x1_8000, newAddress: 0x52_0000),
                    ReferenceTransform.MapEntry(oldAddress: 0x51_8000, length: 0x10_0000, newAddress: 0x51_7F00),
                ]
                let transform = ReferenceTransform(oldRegions: oldRegions, newRegions: newRegions, map: map)
                for index in [nil, ReferenceTransform.MapIndex(map)] {
                    for pairs in [false, true] {
                        let scanner = ReferenceScanner(regions: oldRegions, pairs: pairs)
                        bytes.withUnsafeBufferPointer { all in
                            for _ in 0..<40 {
                                let from = Int64.random(in: 0..<Int64(all.count - 4), using: &random)
                                let length = [1, 4, 7, 64, 300, 5_000, 70_000].randomElement(using: &random)!
                                let end = min(from + Int64(length), Int64(all.count))
                                let newStart = from + Int64.random(in: -50...400, using: &random)
                                let op = Array(all[Int(from)..<Int(end)])
                                var after = op
                                var during = op
                                after.withUnsafeMutableBufferPointer { after in
                                    during.withUnsafeMutableBufferPointer { during in
                                        var b = from / Int64(block)
                                        while b * Int64(block) < end {
                                            let start = Int(b) * block
                                            let piece = UnsafeBufferPointer(
                                                rebasing: all[start..<min(start + block, all.count)])
                                            var whole: [ReferenceSite] = []
                                            scanner.scan(block: b, bytes: piece, into: &whole)
                                            let inside = Self.inside(whole, from..<end)
                                            sitesSeen += inside.count
                                            transform.predict(
                                                after, oldStart: from, newStart: newStart, sites: inside[...],
                                                index: index)
                                            var rest: [ReferenceSite] = []
                                            transform.withPrediction(
                                                during, oldStart: from, newStart: newStart, index: index
                                            ) {
                                                scanner.scan(
                                                    block: b, bytes: piece, within: from..<end, into: &rest,
                                                    consumer: &$0)
                                            }
                                            #expect(
                                                rest.allSatisfy { $0.kind == .a64Adrp || $0.kind == .a64AdrpPaired })
                                            transform.predict(
                                                during, oldStart: from, newStart: newStart, sites: rest[...],
                                                index: index)
                                            b += 1
                                        }
                                    }
                                }
                                let differs = during.indices.first { during[$0] != after[$0] }
                                #expect(
                                    differs == nil,
                                    "seed \(seed) \(architecture) pairs \(pairs) op \(from)..<\(end) to \(newStart): byte \(differs ?? 0)"
                                )
                                if after != op { rewritten += 1 }
                            }
                        }
                    }
                }
            }
        }
        // Most ops must have had sites rewritten, or the comparison shows nothing.
        #expect(rewritten > 300)
        #expect(sitesSeen > 20_000)
    }
}
