import OTABase
import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The x86-64 scan classifies bytes 8 at a time; the sites it finds must be exactly those of the
/// greedy byte-at-a-time rule (encoder and decoder must agree, and old patches must still apply).
@Suite struct X86ScanTests {
    /// The rule written plainly, one byte at a time (the scanner's code before the bulk search).
    static func plainSites(_ bytes: [UInt8], address: UInt64, isTarget: (UInt64) -> Bool) -> [Int64] {
        let afterOne: Set<UInt8> = [0xE8, 0xE9]
        let modRM: Set<UInt8> = [
            0x8B, 0x89, 0x8D, 0x3B, 0x39, 0x03, 0x01, 0x2B, 0x29, 0x33, 0x31, 0x23, 0x21, 0x0B, 0x09, 0x85, 0x87, 0x63,
            0x8A, 0x88,
        ]
        let secondModRM = Set<UInt8>(
            [
                0x10, 0x11, 0x28, 0x29, 0x2E, 0x2F, 0x54, 0x57, 0x58, 0x59, 0x5C, 0x5E, 0x6E, 0x6F, 0x7E, 0x7F, 0xB6,
                0xB7, 0xBE, 0xBF, 0xD6,
            ] + Array(0x40...0x4F))
        var sites: [Int64] = []
        var i = 0
        while i + 5 <= bytes.count {
            let first = bytes[i]
            let second = bytes[i + 1]
            var operand = -1
            if afterOne.contains(first) {
                operand = i + 1
            } else if first == 0x0F {
                if second & 0xF0 == 0x80 {
                    operand = i + 2
                } else if secondModRM.contains(second), i + 2 < bytes.count, bytes[i + 2] & 0xC7 == 0x05 {
                    operand = i + 3
                }
            } else if modRM.contains(first) {
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
        for pipelined in [false, true] {
            let outcome = AdversarialPatchTests.outcome(patch, old: old, pipelined: pipelined)
            #expect(outcome.error == nil, "pipelined \(pipelined)")
            let same = outcome.output == new
            #expect(same, "pipelined \(pipelined)")
        }
    }
}
