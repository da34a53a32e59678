import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The executable transform (patch format 3): ELF code pairs round trip and get smaller; the
/// transform block and ADDP ops are refused or harmless when hostile.
@Suite struct ReferenceTransformTests {
    static func pair(_ machine: SyntheticELF.Machine) -> (old: [UInt8], new: [UInt8]) {
        (
            SyntheticELF.image(SyntheticELF.oldVersion, machine: machine),
            SyntheticELF.image(SyntheticELF.newVersion, machine: machine)
        )
    }

    static func withoutTransform() -> DeltaOptions {
        var options = DeltaOptions()
        options.referenceTransform = false
        return options
    }

    @Test(arguments: [SyntheticELF.Machine.x86_64, .aarch64])
    func `recompiled code round trips and the transform makes it smaller`(_ machine: SyntheticELF.Machine) throws {
        let (old, new) = Self.pair(machine)
        let with = try RoundTripTests.roundTrip(old, new)
        let without = try RoundTripTests.roundTrip(old, new, options: Self.withoutTransform())
        #expect(try DeltaPatchHeader.decode(with).version == (machine == .x86_64 ? 3 : 4))
        #expect(try DeltaPatchHeader.decode(without).version == 2)
        #expect(with.count * 10 < without.count * 9, "with \(with.count) bytes, without \(without.count)")
    }

    @Test func `images without ELF code make a format 2 patch`() throws {
        let old = RoundTripTests.texty(200_000, seed: 3)
        var new = old
        new.insert(contentsOf: Array("inserted".utf8), at: 5000)
        #expect(try DeltaPatchHeader.decode(RoundTripTests.roundTrip(old, new)).version == 2)
    }

    @Test func `the ELF regions of a program are its load segments`() throws {
        let (old, _) = Self.pair(.x86_64)
        let regions = old.withUnsafeBufferPointer { ELFLayout.regions(in: $0) }
        #expect(regions.count == 2)
        #expect(regions[0].architecture == .x86_64 && regions[0].fileStart == 0x1000 && regions[0].address == 0x1000)
        #expect(regions[1].architecture == nil && regions[1].span > UInt64(regions[1].length))
    }

    @Test func `an ELF inside a filesystem image is found at its block`() throws {
        let (old, _) = Self.pair(.aarch64)
        var image = RoundTripTests.texty(3 * 4096, seed: 5)
        image += old
        let regions = image.withUnsafeBufferPointer { ELFLayout.regions(in: $0) }
        let first = try #require(regions.first)
        let expectedStart: Int64 = 3 * 4096 + 0x1000
        #expect(first.fileStart == expectedStart)
        #expect(first.address == ELFLayout.base(1) + 0x1000)
    }

    static let kinds: [(ReferenceKind, UInt32)] = [
        (.x86Rel32, 0x0000_1234), (.a64Branch26, 0x9400_0010), (.a64Imm19, 0x5400_0201), (.a64Imm14, 0x3600_0120),
        (.a64Adr, 0x1000_0100), (.a64Adrp, 0x9000_0040),
    ]

    @Test func `each reference form rewrites to the target it is given`() {
        for (kind, word) in Self.kinds {
            let site: UInt64 = 0x40_0000
            let target = kind.target(word: word, address: site)!
            #expect(kind.rewrite(word: word, address: site, target: target) == word, "\(kind)")
            // The same target from a site 0x2000 further on.
            let moved = kind.rewrite(word: word, address: site + 0x2000, target: target)
            if let moved { #expect(kind.target(word: moved, address: site + 0x2000) == target, "\(kind)") }
            // A target beyond the field's reach is not rewritten.
            #expect(kind.rewrite(word: word, address: site, target: target &+ (1 << 40)) == nil, "\(kind)")
        }
    }

    // MARK: - Hostile transforms

    /// A format 3 patch split into its parts: header, transform block (raw), frames.
    static func parts(_ patch: [UInt8]) throws -> (header: [UInt8], block: [UInt8], exponent: UInt8, frames: [UInt8]) {
        var offset = DeltaPatchHeader.byteCount
        let exponent = patch[offset]
        offset += 1
        var sizes: [Int] = []
        for _ in 0..<2 {
            guard
                case .value(let value, let next) = try patch.withUnsafeBufferPointer({ try Varint.read($0, at: offset) }
                )
            else { throw OTAError(.deltaMalformed, "test: bad block") }
            sizes.append(Int(value))
            offset = next
        }
        var block: [UInt8] = []
        try LZMA2StreamDecoder(dictionarySize: 1 << UInt32(exponent))
            .decode(Array(patch[offset..<(offset + sizes[1])]), count: sizes[0], into: &block)
        return (Array(patch[0..<DeltaPatchHeader.byteCount]), block, exponent, Array(patch[(offset + sizes[1])...]))
    }

    /// A patch with its raw transform block replaced (and re-compressed).
    static func withBlock(_ patch: [UInt8], _ block: [UInt8]) throws -> [UInt8] {
        let (header, _, _, frames) = try parts(patch)
        let encoder = try LZMA2StreamEncoder(LZMA2Settings(dictionarySize: 1 << 20))
        var packed: [UInt8] = []
        try block.withUnsafeBytes { raw in try encoder.update(raw) { packed += $0 } }
        try encoder.flush { packed += $0 }
        return header + [20] + AdversarialPatchTests.varint(UInt64(block.count))
            + AdversarialPatchTests.varint(UInt64(packed.count)) + packed + frames
    }

    static let x86 = pair(.x86_64)
    static let x86Patch: [UInt8] = try! Delta.diff(old: x86.old, new: x86.new)

    /// The error code applying `patch` gives (nil: it applies), the pipelined decoder checked to
    /// hand out the same bytes and fail with the same error (`AdversarialPatchTests.code`): it
    /// splits the predictions between the frame thread and the finisher, so every transform test
    /// runs both ways.
    static func code(_ patch: [UInt8], old: [UInt8] = x86.old, limits: DeltaLimits = DeltaLimits()) -> String? {
        AdversarialPatchTests.code(patch, old: old, limits: limits)
    }

    @Test func `the transform block survives re-encoding`() throws {
        let (_, block, _, _) = try Self.parts(Self.x86Patch)
        #expect(Self.code(try Self.withBlock(Self.x86Patch, block)) == nil)
    }

    @Test func `malformed transform blocks are refused`() throws {
        let (_, block, _, _) = try Self.parts(Self.x86Patch)
        #expect(Self.code(try Self.withBlock(Self.x86Patch, [])) == "delta.transform-invalid")
        #expect(Self.code(try Self.withBlock(Self.x86Patch, [9] + block.dropFirst())) == "delta.transform-invalid")
        #expect(Self.code(try Self.withBlock(Self.x86Patch, Array(block.dropLast()))) == "delta.transform-invalid")
        #expect(Self.code(try Self.withBlock(Self.x86Patch, block + [0])) == "delta.transform-invalid")
        // A transform block larger than the decoder allows.
        var small = DeltaLimits()
        small.maxTransformBytes = 8
        #expect(Self.code(Self.x86Patch, limits: small) == "delta.transform-invalid")
        var few = DeltaLimits()
        few.maxTransformMapEntries = 1
        #expect(Self.code(Self.x86Patch, limits: few) == "delta.transform-invalid")
        // A bad dictionary exponent, and a packed size beyond what the raw size allows.
        var patch = Self.x86Patch
        patch[DeltaPatchHeader.byteCount] = 30
        #expect(Self.code(patch) == "delta.transform-invalid")
    }

    static func block(
        old: [ReferenceTransform.Region], new: [ReferenceTransform.Region], map: [ReferenceTransform.MapEntry]
    )
        -> [UInt8]
    {
        ReferenceTransform(oldRegions: old, newRegions: new, map: map).encoded()
    }

    @Test func `regions outside their image are refused`() throws {
        let size = Int64(Self.x86.old.count)
        let inside = ReferenceTransform.Region(
            fileStart: 0, length: 4096, address: 0, span: 4096, architecture: .x86_64)
        let beyond = ReferenceTransform.Region(
            fileStart: size - 10, length: 20, address: 0, span: 20, architecture: .x86_64)
        let wrapping = ReferenceTransform.Region(
            fileStart: 0, length: 16, address: UInt64.max - 4, span: 16, architecture: nil)
        #expect(
            Self.code(try Self.withBlock(Self.x86Patch, Self.block(old: [beyond], new: [inside], map: [])))
                == "delta.transform-invalid")
        #expect(
            Self.code(try Self.withBlock(Self.x86Patch, Self.block(old: [inside], new: [wrapping], map: [])))
                == "delta.transform-invalid")
        var unknown = Self.block(old: [inside], new: [], map: [])
        unknown[unknown.count - 3] = 9  // the region's instruction set code
        #expect(Self.code(try Self.withBlock(Self.x86Patch, unknown)) == "delta.transform-invalid")
    }

    @Test func `any map or target values are only arithmetic`() throws {
        // Targets mapped far out of range, to the top of the address space, or not at all: the
        // prediction changes, the patch's differences no longer fit, the hash refuses it.
        let (_, block, _, _) = try Self.parts(Self.x86Patch)
        let transform = try ReferenceTransform.decode(
            block, oldSize: UInt64(Self.x86.old.count), newSize: UInt64(Self.x86.new.count), limits: DeltaLimits())
        let maps: [[ReferenceTransform.MapEntry]] = [
            [],
            [ReferenceTransform.MapEntry(oldAddress: 0, length: UInt64.max, newAddress: UInt64.max - 100)],
            [ReferenceTransform.MapEntry(oldAddress: 0x1000, length: 1 << 20, newAddress: 1 << 62)],
        ]
        for map in maps {
            let edited = Self.block(old: transform.oldRegions, new: transform.newRegions, map: map)
            let code = Self.code(try Self.withBlock(Self.x86Patch, edited))
            #expect(code == "delta.result-mismatch", "\(map)")
        }
        // Regions that say code where there is none (the whole old image as x86 code).
        let everything = ReferenceTransform.Region(
            fileStart: 0, length: Int64(Self.x86.old.count), address: 0, span: UInt64(Self.x86.old.count),
            architecture: .aarch64)
        let code = Self.code(
            try Self.withBlock(
                Self.x86Patch, Self.block(old: [everything], new: transform.newRegions, map: transform.map)))
        #expect(code == nil || code == "delta.result-mismatch")
    }

    @Test func `a transform over data that is not ELF still round trips`() throws {
        let old = RoundTripTests.random(300_000, seed: 8)
        var new = old
        new.insert(contentsOf: RoundTripTests.random(100, seed: 9), at: 100_000)
        for i in stride(from: 150_000, to: 160_000, by: 61) { new[i] &+= 3 }
        let options = DeltaOptions.forcingTransform(oldCount: old.count, newCount: new.count, architecture: .x86_64)
        let patch = try RoundTripTests.roundTrip(old, new, options: options)
        #expect(try DeltaPatchHeader.decode(patch).version == 3)
    }

    @Test func `a format 3 patch sizes the inserts dictionary to its inserted bytes`() throws {
        let old = RoundTripTests.random(300_000, seed: 8)
        var new = old
        new.insert(contentsOf: RoundTripTests.random(5000, seed: 9), at: 100_000)
        let options = DeltaOptions.forcingTransform(oldCount: old.count, newCount: new.count, architecture: .x86_64)
        let (patch, statistics) = try SmallPatchTests.encode(old, new, options: options)
        let decoded = try DeltaPatchHeader.decode(patch)
        #expect(decoded.version == 3)
        #expect(statistics.insertBytes > 0 && statistics.insertBytes <= 8192)
        #expect(decoded.dictionarySizes[PatchStream.inserts.rawValue] == 8192)
        // Without the transform the inserted bytes are not known before writing: the new image's size.
        let plain = try RoundTripTests.roundTrip(old, new, options: Self.withoutTransform())
        #expect(try DeltaPatchHeader.decode(plain).dictionarySizes[PatchStream.inserts.rawValue] == 512 << 10)
    }

    @Test func `stream dictionaries never exceed what the stream can hold`() throws {
        let sizes = { (limit: String, newSize: Int, inserted: Int?, primed: Int) throws(OTAError) in
            var options = DeltaOptions()
            try options.setDictionarySize(limit)
            return DeltaEncoder(options: options).streamSettings(
                newSize: newSize, insertedBytes: inserted, primedBytes: primed
            ).map(\.dictionarySize)
        }
        let small: [UInt32] = [1 << 20, 1 << 20, 1 << 20]
        // By default: up to 16 MiB when the inserted bytes are known, 8 MiB when not.
        let defaults = DeltaEncoder(options: DeltaOptions())
        #expect(defaults.streamSettings(newSize: 100 << 20).last?.dictionarySize == 8 << 20)
        #expect(defaults.streamSettings(newSize: 100 << 20, insertedBytes: 64 << 20).last?.dictionarySize == 16 << 20)
        #expect(
            defaults.streamSettings(newSize: 100 << 20, insertedBytes: 3 << 20, primedBytes: 8 << 20).last?
                .dictionarySize == 8 << 20)
        // Inserted bytes not known (no transform): the new image, up to the limit.
        #expect(try sizes("8MiB", 100 << 20, nil, 0) == small + [8 << 20])
        #expect(try sizes("32MiB", 100 << 20, nil, 0) == small + [32 << 20])
        #expect(try sizes("8MiB", 300_000, nil, 0) == [512 << 10, 512 << 10, 512 << 10, 512 << 10])
        // Known inserted bytes: what they need, up to the limit.
        #expect(try sizes("8MiB", 100 << 20, 5000, 0) == small + [8192])
        #expect(try sizes("8MiB", 100 << 20, 0, 0) == small + [4096])
        #expect(try sizes("8MiB", 300_000, 200_000, 0) == [512 << 10, 512 << 10, 512 << 10, 256 << 10])
        #expect(try sizes("8MiB", 100 << 20, 64 << 20, 0) == small + [8 << 20])
        #expect(try sizes("16MiB", 100 << 20, 9 << 20, 0) == small + [16 << 20])
        // With a prime: the two while they fit in 8 MiB; past it the inserted bytes alone.
        #expect(try sizes("16MiB", 100 << 20, 3 << 20, 4 << 20) == small + [8 << 20])
        #expect(try sizes("16MiB", 100 << 20, 3 << 20, 8 << 20) == small + [8 << 20])
        #expect(try sizes("16MiB", 100 << 20, 12 << 20, 8 << 20) == small + [16 << 20])
        #expect(try sizes("32MiB", 100 << 20, 12 << 20, 8 << 20) == small + [16 << 20])
        #expect(try sizes("4MiB", 100 << 20, 9 << 20, 0) == small + [4 << 20])
    }

    @Test func `an ADDP op needs a transform`() throws {
        var streams = AdversarialPatchTests.Streams()
        streams.control =
            [DeltaOperation.predictedAddCode] + AdversarialPatchTests.varint(0) + AdversarialPatchTests.varint(10)
        streams.runs = AdversarialPatchTests.varint(10 << 3)
        #expect(AdversarialPatchTests.code(try AdversarialPatchTests.craft(streams, newSize: 10)) == "delta.unknown-op")
    }

    @Test func `mutated transform patches never crash`() throws {
        let accepted = try Self.mutations(of: Self.x86Patch, old: Self.x86.old, seed: 1234, rounds: 400)
        #expect(accepted < 400)
    }

    /// Applies `rounds` mutations of `patch`'s transform block (1-3 bit flips, byte changes or
    /// cuts each) and `rounds` bit flips of its body: each must apply or fail with a `delta.`
    /// code. Returns how many mutated blocks applied.
    static func mutations(of patch: [UInt8], old: [UInt8], seed: UInt64, rounds: Int) throws -> Int {
        var generator = SeededGenerator(seed: seed)
        let (_, block, _, _) = try parts(patch)
        var accepted = 0
        for _ in 0..<rounds {
            var mutated = block
            for _ in 0..<(1 + generator.next() % 3) {
                let i = Int(generator.next() % UInt64(mutated.count))
                switch generator.next() % 3 {
                case 0: mutated[i] ^= UInt8(1 << (generator.next() % 8))
                case 1: mutated[i] = UInt8(truncatingIfNeeded: generator.next())
                default: mutated.removeSubrange(i..<min(mutated.count, i + 1 + Int(generator.next() % 4)))
                }
            }
            let result = Self.code(try withBlock(patch, mutated), old: old)
            if result == nil { accepted += 1 }
            #expect(result == nil || result!.hasPrefix("delta."), "unexpected code \(result!)")
        }
        for _ in 0..<rounds {
            var p = patch
            p[Int(generator.next() % UInt64(p.count - 108)) + 108] ^= UInt8(1 << (generator.next() % 8))
            let result = Self.code(p, old: old)
            #expect(result == nil || result!.hasPrefix("delta."), "unexpected code \(result!)")
        }
        return accepted
    }

    /// The stretch between two entries of one shift is decided by the references into it, not by
    /// its length: a short entry that its references confirm stays (the 16 KiB rule of aa2a356
    /// dropped it), a long one that its references contradict takes the neighbours' shift (that
    /// rule kept it), a hole no reference reaches is filled, and across regions nothing changes.
    @Test func `a stretch between two entries of one shift takes the shift its references predict`() {
        typealias Entry = ReferenceTransform.MapEntry
        let regions = [
            ReferenceTransform.Region(
                fileStart: 0, length: 1 << 20, address: 0x10_0000, span: 1 << 20, architecture: .x86_64),
            ReferenceTransform.Region(
                fileStart: 1 << 20, length: 1 << 20, address: 0x100_0000, span: 1 << 20, architecture: nil),
        ]
        // A call from new address 0x10_0000 to old `target`, which the new image has at `target + shift`.
        func call(_ target: UInt64, movedBy shift: Int64) -> ReferenceAnalysis.Reference {
            let site: UInt64 = 0x10_0000
            let newTarget = target &+ UInt64(bitPattern: shift)
            return ReferenceAnalysis.Reference(
                kind: .x86Rel32, target: target, oldWord: UInt32(truncatingIfNeeded: target &- site &- 4),
                newWord: UInt32(truncatingIfNeeded: newTarget &- site &- 4), newAddress: site)
        }
        func smoothed(_ map: [Entry], _ references: [ReferenceAnalysis.Reference]) -> [Entry] {
            ReferenceAnalysis.smoothed(map, regions: regions) { body in references.forEach(body) }
        }
        // +576 | 1,821 bytes at -3616 | hole | 40 KiB at +816 | +576 again.
        let base: UInt64 = 0x10_0000
        let map = [
            Entry(oldAddress: base, length: 0x8000, newAddress: base + 576),
            Entry(oldAddress: base + 0x8000, length: 1821, newAddress: base + 0x8000 - 3616),
            Entry(oldAddress: base + 0x9000, length: 0xA000, newAddress: base + 0x9000 + 816),
            Entry(oldAddress: base + 0x13000, length: 0x8000, newAddress: base + 0x13000 + 576),
        ]
        // No reference into the stretch: one entry of +576 (the smaller map).
        #expect(smoothed(map, []) == [Entry(oldAddress: base, length: 0x1B000, newAddress: base + 576)])
        // The short entry's references moved by its own shift, the long one's by +576: the short
        // entry stays, the long one and the holes take +576.
        let references = [
            call(base + 0x8010, movedBy: -3616), call(base + 0x8100, movedBy: -3616),
            call(base + 0x8200, movedBy: 576), call(base + 0x9100, movedBy: 576), call(base + 0x12000, movedBy: 576),
            call(base + 0x9200, movedBy: 816),
        ]
        #expect(
            smoothed(map, references) == [
                Entry(oldAddress: base, length: 0x8000, newAddress: base + 576),
                map[1],
                Entry(
                    oldAddress: map[1].oldAddress + 1821, length: 0x1B000 - 0x8000 - 1821,
                    newAddress: map[1].oldAddress + 1821 + 576),
            ])
        // A hole whose references kept their old words stays a hole.
        let unmoved = [call(base + 0x8900, movedBy: 0), call(base + 0x8A00, movedBy: 0)]
        #expect(
            smoothed(map, unmoved) == [
                Entry(oldAddress: base, length: 0x8000 + 1821, newAddress: base + 576),
                Entry(oldAddress: base + 0x9000, length: 0x12000, newAddress: base + 0x9000 + 576),
            ])
        // Between two different shifts, or across regions, nothing changes.
        var differing = map
        differing[3].newAddress += 8
        #expect(smoothed(differing, references) == differing)
        let across = [
            Entry(oldAddress: base, length: 0x8000, newAddress: base + 576),
            Entry(oldAddress: 0x1F_F000, length: 100, newAddress: 0x1F_F000),
            Entry(oldAddress: 0x100_0000, length: 0x8000, newAddress: 0x100_0240),
        ]
        #expect(smoothed(across, []) == across)
    }

    /// The decoder looks map entries up through `MapIndex`; it must find exactly what a binary
    /// search of the whole map finds, for any sorted map (including gaps, 1-byte entries, spans
    /// wider than the index's 65,536 slots and addresses outside the map).
    @Test func `the map index finds the same entry as a binary search`() {
        var random = SeededGenerator(seed: 16)
        for round in 0..<200 {
            var map: [ReferenceTransform.MapEntry] = []
            var address = UInt64.random(in: 0...(1 << 40), using: &random)
            let wide = round % 4 == 0
            for _ in 0..<Int.random(in: 0...300, using: &random) {
                address +=
                    wide
                    ? UInt64.random(in: 0...(1 << 34), using: &random) : UInt64.random(in: 0...5000, using: &random)
                let length =
                    wide
                    ? UInt64.random(in: 1...(1 << 30), using: &random) : UInt64.random(in: 1...9000, using: &random)
                map.append(.init(oldAddress: address, length: length, newAddress: address &+ 4096))
                address += length
            }
            let index = ReferenceTransform.MapIndex(map)
            map.withUnsafeBufferPointer { entries in
                var probes: [UInt64] = [0, .max, address, address &- 1]
                for entry in map {
                    probes += [
                        entry.oldAddress, entry.oldAddress &- 1, entry.oldAddress + entry.length - 1,
                        entry.oldAddress + entry.length,
                    ]
                }
                for _ in 0..<500 {
                    probes.append(
                        UInt64.random(in: max(map.first?.oldAddress ?? 0, 100) - 100...address + 100, using: &random))
                }
                for probe in probes {
                    #expect(
                        index.entry(entries, containing: probe) == ReferenceTransform.entry(entries, containing: probe),
                        "round \(round), address \(probe)")
                }
            }
        }
    }
}
