import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Patch format 4: AArch64 ADRPs paired with the ADD/LDR/STR that use their register, so a
/// target that moved by other than whole pages is predicted in both words; format 3 patches
/// still apply, and hostile transforms stay harmless.
@Suite struct AArch64PairTests {
    static let arm = ReferenceTransformTests.pair(.aarch64)
    static let armPatch: [UInt8] = try! Delta.diff(old: arm.old, new: arm.new)

    static func withoutPairs() -> DeltaOptions {
        var options = DeltaOptions()
        options.pairAArch64References = false
        return options
    }

    static func word(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// ADRP Xd of the page `pages` pages from the site's.
    static func adrp(_ register: UInt32, pages: Int64) -> UInt32 {
        let field = UInt32(truncatingIfNeeded: pages) & 0x1F_FFFF
        return 0x9000_0000 | (field & 3) << 29 | (field >> 2) << 5 | register
    }

    @Test func `shifted ADRP targets round trip as format 4 and pairing makes them smaller`() throws {
        let (old, new) = Self.arm
        let paired = try RoundTripTests.roundTrip(old, new)
        let unpaired = try RoundTripTests.roundTrip(old, new, options: Self.withoutPairs())
        #expect(try DeltaPatchHeader.decode(paired).version == 4)
        #expect(try DeltaPatchHeader.decode(unpaired).version == 3)
        #expect(paired.count < unpaired.count, "paired \(paired.count) bytes, unpaired \(unpaired.count)")
    }

    @Test func `x86-64 patches stay format 3`() throws {
        let (old, new) = ReferenceTransformTests.pair(.x86_64)
        #expect(try DeltaPatchHeader.decode(RoundTripTests.roundTrip(old, new)).version == 3)
    }

    @Test func `the format version decides how the old code is scanned`() throws {
        // The same body read as format 3 finds no pairs: its predictions differ and the hash refuses it.
        let relabelled = try AdversarialPatchTests.resealed(Self.armPatch) { $0[8] = 3 }
        #expect(ReferenceTransformTests.code(relabelled, old: Self.arm.old) == "delta.result-mismatch")
        let newer = try AdversarialPatchTests.resealed(Self.armPatch) { $0[8] = 5 }
        #expect(ReferenceTransformTests.code(newer, old: Self.arm.old) == "delta.version")
    }

    @Test func `each paired form rewrites to the target it is given`() {
        let site: UInt64 = 0x40_0123
        // ADRP of the page two pages on, paired with low bits 0x678.
        let adrp = Self.adrp(0, pages: 2)
        let target = ReferenceKind.a64AdrpPaired.target(word: adrp, address: site, context: 0x678)
        #expect(target == 0x40_2678)
        let moved = ReferenceKind.a64AdrpPaired.rewrite(word: adrp, address: site, target: 0x40_3A00)!
        #expect(ReferenceKind.a64Adrp.target(word: moved, address: site) == 0x40_3000)
        // ADD x1, x0, #0x678 and LDR x2, [x0, #0x678 / 8 * 8]: context = pages to the ADRP's target page.
        let add: UInt32 = 0x9100_0001 | 0x678 << 10
        #expect(ReferenceKind.a64AddLow12.target(word: add, address: site + 4, context: 2) == 0x40_2678)
        let addMoved = ReferenceKind.a64AddLow12.rewrite(word: add, address: site + 4, target: 0x40_3A10)!
        #expect(addMoved == 0x9100_0001 | 0xA10 << 10)
        let load: UInt32 = 0xF940_0002 | (0x670 >> 3) << 10
        #expect(ReferenceKind.a64LoadStoreLow12.target(word: load, address: site + 4, context: 2) == 0x40_2670)
        let loadMoved: UInt32 = 0xF940_0002 | (0xA18 >> 3) << 10
        #expect(ReferenceKind.a64LoadStoreLow12.rewrite(word: load, address: site, target: 0x40_3A18) == loadMoved)
        // A target the access size cannot reach is left as it is.
        #expect(ReferenceKind.a64LoadStoreLow12.rewrite(word: load, address: site, target: 0x40_3A1C) == nil)
        // 128-bit SIMD&FP access (LDR q0): scale 16.
        let q: UInt32 = 0x3DC0_0000 | 0x10 << 10
        #expect(ReferenceKind.accessScale(q) == 4)
        #expect(ReferenceKind.a64LoadStoreLow12.target(word: q, address: site, context: 0) == 0x40_0100)
        // A negative page distance in the context.
        #expect(
            ReferenceKind.a64AddLow12.target(word: add, address: 0x40_5000, context: UInt32(bitPattern: -3))
                == 0x40_2678)
        // Masks clear exactly the fields that move.
        #expect(ReferenceKind.a64AddLow12.masked(add) == 0x9100_0001)
        #expect(ReferenceKind.a64AdrpPaired.masked(adrp) == 0x9000_0000)
    }

    static func scan(_ words: [UInt32], address: UInt64 = 0x1000, span: UInt64 = 0x10_0000, pairs: Bool = true)
        -> [ReferenceSite]
    {
        let bytes = words.flatMap { word($0) }
        let region = ReferenceTransform.Region(
            fileStart: 0, length: Int64(bytes.count), address: address, span: span, architecture: .aarch64)
        var sites: [ReferenceSite] = []
        bytes.withUnsafeBufferPointer {
            ReferenceScanner(regions: [region], pairs: pairs).scan(block: 0, bytes: $0, into: &sites)
        }
        return sites
    }

    /// The scan classifies a word by a table on its top byte and bit 4 (`a64Forms`): every such
    /// combination, with random operand bits, must come out as the forms' encodings (Arm ARM)
    /// say, each a site of its kind, with every target in the image.
    @Test func `every AArch64 word is classified as its form's encoding says`() {
        func expected(_ word: UInt32) -> ReferenceKind? {
            if word & 0x7C00_0000 == 0x1400_0000 { return .a64Branch26 }  // B, BL
            if word & 0xFF00_0010 == 0x5400_0000 { return .a64Imm19 }  // B.cond
            if word & 0x7E00_0000 == 0x3400_0000 { return .a64Imm19 }  // CBZ, CBNZ
            if word & 0x3B00_0000 == 0x1800_0000 { return .a64Imm19 }  // LDR (literal)
            if word & 0x7E00_0000 == 0x3600_0000 { return .a64Imm14 }  // TBZ, TBNZ
            if word & 0x9F00_0000 == 0x1000_0000 { return .a64Adr }
            if word & 0x9F00_0000 == 0x9000_0000 { return .a64Adrp }
            return nil
        }
        var random = SeededGenerator(seed: 5)
        var words: [UInt32] = []
        for _ in 0..<8 {
            for top in 0..<256 {
                for bit4 in 0..<2 {
                    let low = UInt32.random(in: 0...0xFF_FFFF, using: &random) & ~0x10
                    words.append(UInt32(top) << 24 | UInt32(bit4) << 4 | low)
                }
            }
        }
        let bytes = words.flatMap { Self.word($0) }
        // Code at 2^40, and data around it wide enough for any ADRP's target (±4 GiB).
        let regions = [
            ReferenceTransform.Region(
                fileStart: 0, length: Int64(bytes.count), address: 1 << 40, span: UInt64(bytes.count),
                architecture: .aarch64),
            ReferenceTransform.Region(
                fileStart: Int64(bytes.count), length: 1, address: (1 << 40) - (1 << 33), span: 1 << 34,
                architecture: nil),
        ]
        var sites: [ReferenceSite] = []
        (bytes + [0]).withUnsafeBufferPointer {
            ReferenceScanner(regions: regions, pairs: false).scan(block: 0, bytes: $0, into: &sites)
        }
        let expectedSites = words.indices.compactMap { i in expected(words[i]).map { (Int64(4 * i), $0) } }
        #expect(sites.count == expectedSites.count)
        for (site, (offset, kind)) in zip(sites, expectedSites) where site.offset != offset || site.kind != kind {
            Issue.record(
                "word \(String(words[Int(offset) / 4], radix: 16)) at \(offset): found \(site.kind) at \(site.offset)")
            break
        }
        #expect(expectedSites.count > 500)
    }

    @Test func `the scanner pairs an ADRP with the uses of its register until it is overwritten`() {
        let filler: UInt32 = 0xAA01_03E2  // mov x2, x1
        let words: [UInt32] = [
            Self.adrp(3, pages: 1),  // 0x1000: x3 = 0x2000
            filler,
            0xF940_0061 | 1 << 10,  // ldr x1, [x3, #8]
            0x9100_0064 | 0x10 << 10,  // add x4, x3, #16
            0xAA01_03E3,  // mov x3, x1: x3 overwritten
            0xF940_0065,  // ldr x5, [x3]: not a use of the ADRP
        ]
        let sites = Self.scan(words)
        #expect(sites.map(\.kind) == [.a64AdrpPaired, .a64LoadStoreLow12, .a64AddLow12])
        #expect(sites.map(\.offset) == [0, 8, 12])
        #expect(sites[0].context == 8)
        #expect(sites[1].context == 1 && sites[2].context == 1)
        // Format 3 scanning sees the ADRP alone.
        #expect(Self.scan(words, pairs: false).map(\.kind) == [.a64Adrp])
    }

    @Test func `a use beyond the window, or from another register, is not paired`() {
        var words: [UInt32] = [Self.adrp(3, pages: 1)]
        words += [UInt32](repeating: 0xAA01_03E2, count: ReferenceScanner.pairWindow)
        words.append(0x9100_0064)  // add x4, x3, #0: 17 words on
        words.append(0x9100_0084)  // add x4, x4, #0
        #expect(Self.scan(words).map(\.kind) == [.a64Adrp])
    }

    @Test func `an ADRP whose page alone lies outside the image is paired in offset order`() {
        // The region starts at 0x2800: the ADRP's page 0x2000 is not a target, 0x2810 is.
        let words: [UInt32] = [
            0x9400_0000 | 4,  // bl +16 (a site)
            Self.adrp(7, pages: 0),
            0x1400_0002,  // b +8 (a site between the ADRP and its use)
            0x9100_00E8 | 0x810 << 10,  // add x8, x7, #0x810
        ]
        let sites = Self.scan(words, address: 0x2800, span: 0x1000)
        #expect(sites.map(\.kind) == [.a64Branch26, .a64AdrpPaired, .a64Branch26, .a64AddLow12])
        #expect(sites.map(\.offset) == [0, 4, 8, 12])
    }

    @Test func `pairs over data that is not ELF still round trip`() throws {
        // The transform flag (AArch64 regions) over random bytes, which hold ADRP- and LDR-like words.
        var old = RoundTripTests.random(300_000, seed: 21)
        // Among the random words, ADRP x5 + LDR x1, [x5, #lo12] pairs whose targets lie in the image.
        for at in stride(from: 1000, to: 290_000, by: 3000) {
            let target = UInt64((at * 7) % 280_000) & ~7
            let pages = Int64(target >> 12) - Int64(at >> 12)
            for (k, byte)
                in (Self.word(Self.adrp(5, pages: pages)) + Self.word(0xF940_00A1 | UInt32((target & 0xFFF) >> 3) << 10))
                .enumerated()
            {
                old[at + k] = byte
            }
        }
        var new = old
        new.insert(contentsOf: RoundTripTests.random(100, seed: 22), at: 100_000)
        for i in stride(from: 150_000, to: 160_000, by: 61) { new[i] &+= 3 }
        let options = DeltaOptions.forcingTransform(oldCount: old.count, newCount: new.count, architecture: .aarch64)
        let patch = try RoundTripTests.roundTrip(old, new, options: options)
        #expect(try DeltaPatchHeader.decode(patch).version == 4)
        let sites = old.withUnsafeBufferPointer {
            ReferenceAnalysis.sites(of: $0, regions: options.forcedTransformRegions!.old, pairs: true)
        }
        #expect(sites.contains { $0.kind == .a64LoadStoreLow12 })
        #expect(zip(sites, sites.dropFirst()).allSatisfy { $0.offset < $1.offset })
    }

    @Test func `hostile maps and regions in a format 4 patch only change predictions`() throws {
        let (_, block, _, _) = try ReferenceTransformTests.parts(Self.armPatch)
        let transform = try ReferenceTransform.decode(
            block, oldSize: UInt64(Self.arm.old.count), newSize: UInt64(Self.arm.new.count), limits: DeltaLimits())
        let maps: [[ReferenceTransform.MapEntry]] = [
            [],
            [ReferenceTransform.MapEntry(oldAddress: 0, length: UInt64.max, newAddress: UInt64.max - 100)],
            [ReferenceTransform.MapEntry(oldAddress: 0x1000, length: 1 << 20, newAddress: 1 << 62)],
            [ReferenceTransform.MapEntry(oldAddress: 0, length: 1 << 40, newAddress: 7)],
        ]
        for map in maps {
            let edited = ReferenceTransformTests.block(old: transform.oldRegions, new: transform.newRegions, map: map)
            let code = ReferenceTransformTests.code(
                try ReferenceTransformTests.withBlock(Self.armPatch, edited), old: Self.arm.old)
            #expect(code == "delta.result-mismatch", "\(map)")
        }
        // The whole old image (ELF header and data too) declared AArch64 code, spans at the top of the address space.
        let size = Int64(Self.arm.old.count)
        for address: UInt64 in [0, UInt64.max - UInt64(size)] {
            let everything = ReferenceTransform.Region(
                fileStart: 0, length: size, address: address, span: UInt64(size), architecture: .aarch64)
            let code = ReferenceTransformTests.code(
                try ReferenceTransformTests.withBlock(
                    Self.armPatch,
                    ReferenceTransformTests.block(old: [everything], new: transform.newRegions, map: transform.map)),
                old: Self.arm.old)
            #expect(code == nil || code == "delta.result-mismatch")
        }
    }

    @Test func `mutated format 4 patches never crash`() throws {
        let accepted = try ReferenceTransformTests.mutations(
            of: Self.armPatch, old: Self.arm.old, seed: 4321, rounds: 300)
        #expect(accepted < 300)
    }
}
