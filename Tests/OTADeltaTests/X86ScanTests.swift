import OTABase
import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The x86-64 scan classifies bytes 8 at a time; the sites it finds must be exactly those of the
/// greedy byte-at-a-time rule (encoder and decoder must agree, and old patches must still apply).
@Suite struct X86ScanTests {
    /// The rule written plainly, one byte at a time (the scanner's code before the bulk search).
    static let afterOne: Set<UInt8> = [0xE8, 0xE9]
    static let modRM: Set<UInt8> = [
        0x8B, 0x89, 0x8D, 0x3B, 0x39, 0x03, 0x01, 0x2B, 0x29, 0x33, 0x31, 0x23, 0x21, 0x0B, 0x09, 0x85, 0x87, 0x63,
        0x8A,
        0x88,
    ]
    static let secondModRM = Set<UInt8>(
        [
            0x10, 0x11, 0x28, 0x29, 0x2E, 0x2F, 0x54, 0x57, 0x58, 0x59, 0x5C, 0x5E, 0x6E, 0x6F, 0x7E, 0x7F, 0xB6, 0xB7,
            0xBE, 0xBF, 0xD6,
        ] + Array(0x40...0x4F))

    static func plainSites(_ bytes: [UInt8], address: UInt64, isTarget: (UInt64) -> Bool) -> [Int64] {
        var sites: [Int64] = []
        var i = 0
        while i + 5 <= bytes.count {
            let first = bytes[i]
            let second = bytes[i + 1]
            var operand = -1
            if Self.afterOne.contains(first) {
                operand = i + 1
            } else if first == 0x0F {
                if second & 0xF0 == 0x80 {
                    operand = i + 2
                } else if Self.secondModRM.contains(second), i + 2 < bytes.count, bytes[i + 2] & 0xC7 == 0x05 {
                    operand = i + 3
                }
            } else if Self.modRM.contains(first) {
                if second & 0xC7 == 0x05 { operand = i + 2 }
            } else if first == 0xFF, second == 0x15 || second == 0x25 {
                operand = i + 2
            }
            if operand >= 0, operand + 4 <= bytes.count {
                let word =
                    UInt32(bytes[operand]) | UInt32(bytes[operand + 1]) << 8 | UInt32(bytes[operand + 2]) << 16
                    | UInt32(bytes[operand + 3]) << 24
                let site = address &+ UInt64(operand)
                let target = site &+ 4 &+ UInt64(bitPattern: Int64(Int32(bitPattern: word)))
                if isTarget(target) {
                    sites.append(Int64(operand))
                    i = operand + 4
                    continue
                }
            }
            i += 1
        }
        return sites
    }

    /// Whether bytes `first, second, third` start a form of the rule, as `plainSites` reads them.
    static func isForm(_ first: UInt8, _ second: UInt8, _ third: UInt8) -> Bool {
        switch first {
        case 0xE8, 0xE9: return true
        case 0x0F: return second & 0xF0 == 0x80 || (secondModRM.contains(second) && third & 0xC7 == 0x05)
        case 0xFF: return second == 0x15 || second == 0x25
        default: return modRM.contains(first) && second & 0xC7 == 0x05
        }
    }

    /// Code-like bytes: reference forms (some with targets in the image, some not), forms cut
    /// short, near misses of each form, and random bytes, densely mixed.
    static func codeLike(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        let heads: [[UInt8]] = [
            [0xE8], [0xE9], [0x0F, 0x84], [0x0F, 0x8F], [0x8B, 0x05], [0x8D, 0x0D], [0x89, 0x3D], [0xFF, 0x15],
            [0xFF, 0x25], [0x0F, 0x10, 0x05], [0x0F, 0xB6, 0x0D], [0x0F, 0x45, 0x05],
            // Near misses: not RIP-relative, not a form.
            [0x8B, 0x45], [0xFF, 0x14], [0x0F, 0x10, 0x45], [0x0F, 0x05], [0x48],
        ]
        while bytes.count < count {
            switch UInt8.random(in: 0...9, using: &random) {
            case 0...5:
                bytes += heads.randomElement(using: &random)!
                // A displacement landing inside the image or far outside it, or a cut form.
                let displacement: Int32 =
                    Bool.random(using: &random)
                    ? Int32.random(in: -2000...2000, using: &random) : Int32.random(in: .min ... .max, using: &random)
                let word = UInt32(bitPattern: displacement)
                let length = Int.random(in: 0...4, using: &random) == 0 ? Int.random(in: 0...3, using: &random) : 4
                for b in 0..<length { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(b)))) }
            default:
                bytes.append(UInt8.random(in: 0...255, using: &random))
            }
        }
        return Array(bytes.prefix(count))
    }

    @Test func `the bulk x86 scan finds exactly the sites of the byte-at-a-time rule`() {
        let address: UInt64 = 0x40_0000
        for (seed, count) in [(1, 65_536), (2, 4_000), (3, 1_000)] + (0..<48).map({ (100 + $0, $0) }) {
            let bytes = Self.codeLike(count, seed: UInt64(seed))
            let region = ReferenceTransform.Region(
                fileStart: 0, length: Int64(max(count, 1)), address: address, span: UInt64(max(count, 1)) + 1000,
                architecture: .x86_64)
            let scanner = ReferenceScanner(regions: [region], pairs: false)
            var sites: [ReferenceSite] = []
            bytes.withUnsafeBufferPointer { scanner.scan(block: 0, bytes: $0, into: &sites) }
            let expected = Self.plainSites(bytes, address: address, isTarget: scanner.isTarget)
            #expect(sites.map(\.offset) == expected, "seed \(seed), \(count) bytes")
            #expect(sites.allSatisfy { $0.kind == .x86Rel32 })
            if count == 65_536 { #expect(expected.count > 1000, "the data must hold many sites") }
        }
    }

    /// `ReferenceScanner.x86Starts16` written one position at a time.
    static func plainStarts16(_ p: UnsafePointer<UInt8>) -> Int {
        var mask = 0
        for k in 0..<16 {
            let (first, second, third) = (p[k], p[k + 1], p[k + 2])
            let call = first & 0xFE == 0xE8
            let escaped = first == 0x0F && (second & 0xF0 == 0x80 || third & 0xC7 == 0x05)
            let opcode = first & 0xC5 == 0x01 || first & 0xF0 == 0x80 || first == 0x63 || first == 0xFF
            if call || escaped || (second & 0xC7 == 0x05 && opcode) { mask |= 1 << k }
        }
        return mask
    }

    /// The scan's first pass keeps only the positions `x86Starts16` marks: every form the rule
    /// has (each first and second byte, the third RIP-relative or not) must be marked at every
    /// one of the 16 positions.
    @Test func `the 16-position filter marks every form at every position`() {
        var missed: [String] = []
        var buffer = [UInt8](repeating: 0, count: 18)
        for first in 0...255 {
            for second in 0...255 {
                for third: UInt8 in [0x05, 0x45] {
                    guard Self.isForm(UInt8(first), UInt8(second), third) else { continue }
                    for k in 0..<16 {
                        buffer = [UInt8](repeating: 0, count: 18)
                        buffer[k] = UInt8(first)
                        buffer[k + 1] = UInt8(second)
                        buffer[k + 2] = third
                        let marks = buffer.withUnsafeBufferPointer { ReferenceScanner.x86Starts16($0.baseAddress!) }
                        if marks >> k & 1 == 0 {
                            missed.append("\(first) \(second) \(third) at \(k)")
                        }
                    }
                }
            }
        }
        #expect(missed.isEmpty, "\(missed.prefix(10))")
    }

    /// The vector filter marks the positions its plain definition marks, on code-like and random
    /// bytes.
    @Test func `the 16-position filter marks what its plain definition marks`() {
        var random = SeededGenerator(seed: 11)
        let code = Self.codeLike(100_000, seed: 12)
        let noise = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        for bytes in [code, noise] {
            var differ = 0
            var marked = 0
            bytes.withUnsafeBufferPointer { b in
                for at in 0..<(b.count - 18) {
                    let fast = ReferenceScanner.x86Starts16(b.baseAddress! + at)
                    if fast != Self.plainStarts16(b.baseAddress! + at) { differ += 1 }
                    marked += fast.nonzeroBitCount
                }
            }
            #expect(differ == 0)
            #expect(marked > 10_000)
        }
    }

    /// Each form (and a near miss) alone at every position from 0 to 40 in blocks whose lengths
    /// straddle the scan's boundaries: the 16-position windows, the 24 bytes kept for the
    /// byte-at-a-time tail, the 1,024-position chunks; and runs of forms back to back, so sites
    /// cover the windows' and chunks' first positions.
    @Test func `forms at every position near the scan's boundaries give the byte-at-a-time sites`() {
        let address: UInt64 = 0x40_0000
        let heads: [[UInt8]] = [
            [0xE8], [0xE9], [0x0F, 0x84], [0x0F, 0x10, 0x05], [0x0F, 0xB6, 0x0D], [0x8B, 0x05], [0x63, 0x3D],
            [0x01, 0x15], [0x85, 0x2D], [0xFF, 0x15], [0xFF, 0x25], [0x0F, 0x10, 0x45], [0xFF, 0x35], [0x8B, 0x45],
        ]
        let lengths = Array(0...64) + [1030, 1040, 1045, 1046, 1047, 1048, 1049, 1050, 1055, 1063, 2040, 2048, 2056]
        var failures: [String] = []
        for length in lengths {
            let region = ReferenceTransform.Region(
                fileStart: 0, length: Int64(max(length, 1)), address: address, span: UInt64(max(length, 1)) + 64,
                architecture: .x86_64)
            let scanner = ReferenceScanner(regions: [region], pairs: false)
            func check(_ bytes: [UInt8], _ what: @autoclosure () -> String) {
                var sites: [ReferenceSite] = []
                bytes.withUnsafeBufferPointer { scanner.scan(block: 0, bytes: $0, into: &sites) }
                if sites.map(\.offset) != Self.plainSites(bytes, address: address, isTarget: scanner.isTarget) {
                    failures.append(what())
                }
            }
            let places = length < 100 ? Array(0..<length) : Array(0..<40) + Array((length - 40)..<length)
            for head in heads {
                // The displacement 0 targets the byte after the operand: inside the region.
                let form = head + [0, 0, 0, 0]
                for at in places {
                    var bytes = [UInt8](repeating: 0x90, count: length)
                    for (k, byte) in form.enumerated() where at + k < length { bytes[at + k] = byte }
                    check(bytes, "\(head) at \(at) of \(length)")
                }
                // Back to back, from 9 starting offsets.
                for shift in [0, 1, 2, 3, 5, 7, 8, 15, 16] where length > 0 {
                    var bytes = [UInt8](repeating: 0x90, count: length)
                    var at = shift
                    while at < length {
                        for (k, byte) in form.enumerated() where at + k < length { bytes[at + k] = byte }
                        at += form.count
                    }
                    check(bytes, "\(head) from \(shift), \(length) bytes")
                }
            }
            // Every byte a first byte of a form (E8 and 0F 8x runs): the greedy skips decide it all.
            for filler: [UInt8] in [[0xE8], [0x0F, 0x85], [0x8B, 0x05], [0xE8, 0x00]] where length > 0 {
                check((0..<length).map { filler[$0 % filler.count] }, "\(filler) filling \(length)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) cases, first: \(failures.prefix(5))")
    }

    /// Up to four spans are tested side by side, more by a search: both give the same answers at
    /// each span's edges, and the scan finds the same sites through either.
    @Test func `targets at the edges of up to six spans`() {
        for spans in 1...6 {
            // Spans of 0x1000 bytes 0x10 apart (the gaps between PT_LOAD segments), the first
            // holding the code.
            let regions = (0..<spans).map { k in
                ReferenceTransform.Region(
                    fileStart: Int64(k) * 0x1000, length: 0x1000, address: 0x40_0000 + UInt64(k) * 0x1010,
                    span: 0x1000, architecture: k == 0 ? .x86_64 : nil)
            }
            let scanner = ReferenceScanner(regions: regions, pairs: false)
            var edges: [UInt64] = [0, UInt64.max]
            for region in regions {
                let end = region.address + region.span
                edges += [region.address - 1, region.address, region.address + 1, end - 1, end, end + 1]
            }
            for edge in edges {
                let inside = regions.contains { $0.address <= edge && edge < $0.address + $0.span }
                #expect(scanner.isTarget(edge) == inside, "\(spans) spans, \(edge)")
            }
            // Calls from the code to every edge.
            var code: [UInt8] = []
            while code.count + 5 <= 0x1000 {
                let edge = edges[code.count / 5 % edges.count]
                let next = 0x40_0000 + UInt64(code.count + 5)
                let displacement = UInt32(truncatingIfNeeded: edge &- next)
                code += [0xE8] + (0..<4).map { UInt8(truncatingIfNeeded: displacement >> (8 * UInt32($0))) }
            }
            code += [UInt8](repeating: 0x90, count: 0x1000 - code.count)
            var sites: [ReferenceSite] = []
            code.withUnsafeBufferPointer { scanner.scan(block: 0, bytes: $0, into: &sites) }
            let expected = Self.plainSites(code, address: 0x40_0000, isTarget: scanner.isTarget)
            #expect(sites.map(\.offset) == expected, "\(spans) spans")
            #expect(expected.count > 100)
        }
    }

    /// AArch64 words from `address` on: BLs (every third word random) to the first 20,000 bytes
    /// of the x86-64 region at 0x10000, encoded as if `moved` bytes later (a shift between the
    /// two changes them).
    static func branches(_ count: Int, at address: UInt64, moved: UInt64, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        for k in 0..<count / 4 {
            let site = address + UInt64(4 * k)
            let target = 0x10000 + 4 * UInt64.random(in: 0..<5000, using: &random)
            let words = Int64(bitPattern: target &- (site + moved)) / 4
            let word: UInt32 =
                k % 3 == 2
                ? UInt32.random(in: 0...UInt32.max, using: &random)
                : 0x9400_0000 | UInt32(truncatingIfNeeded: words) & 0x3FF_FFFF
            for b in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(b)))) }
        }
        return bytes
    }

    /// The decoder keeps a whole block's x86-64 sites in its site cache; a block that also holds
    /// an AArch64 region (whose sites the fast path does not take) goes the long way, and must give
    /// the sites the encoder found: both decoders rebuild the new image exactly.
    @Test func `a block holding x86-64 and AArch64 code applies exactly`() throws {
        let directory = try TemporaryDirectory.create("delta")
        defer { TemporaryDirectory.remove(directory) }
        let x86 = Self.codeLike(40_000, seed: 7)
        let inserted = RoundTripTests.random(100, seed: 8)
        let old =
            x86 + Self.branches(24_000, at: 0x10000 + 40_000, moved: 0, seed: 9) + RoundTripTests.random(5000, seed: 10)
        let new =
            Array(x86[..<20_000]) + inserted + x86[20_000...]
            + Self.branches(24_000, at: 0x10000 + 40_000, moved: 100, seed: 9) + RoundTripTests.random(5000, seed: 10)
        func regions(shift: Int64) -> [ReferenceTransform.Region] {
            [
                ReferenceTransform.Region(
                    fileStart: 0, length: 40_000 + shift, address: 0x10000, span: UInt64(40_000 + shift),
                    architecture: .x86_64),
                ReferenceTransform.Region(
                    fileStart: 40_000 + shift, length: 24_000, address: 0x10000 + UInt64(40_000 + shift), span: 24_000,
                    architecture: .aarch64),
            ]
        }
        var options = DeltaOptions()
        options.keepTransform = true
        options.forcedTransformRegions = (old: regions(shift: 0), new: regions(shift: 100))
        try AtomicFileWriter.write(old, to: directory + "/old")
        try AtomicFileWriter.write(new, to: directory + "/new")
        _ = try Delta.createPatch(
            old: directory + "/old", new: directory + "/new", output: directory + "/p", options: options)
        let patch = try FileSystem.read(directory + "/p")
        #expect(try DeltaPatchHeader.decode(patch).version >= 3)
        for threads in DeltaDecoder.Threads.allCases {
            let outcome = AdversarialPatchTests.outcome(patch, old: old, threads: threads)
            #expect(outcome.error == nil, "\(threads)")
            let same = outcome.output == new
            #expect(same, "\(threads)")
        }
    }
}
