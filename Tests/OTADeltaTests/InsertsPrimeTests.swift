import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The inserts stream primed with old-image bytes (the body coding's 0x10 bit, `InsertsPrime`):
/// the encoder's preset dictionary and the decoder's stored-chunk preload must agree byte for
/// byte, a primed patch must rebuild its image through every decoder, and a hostile prime block
/// must be refused with its own error, never read outside the old image or past the dictionary.
@Suite struct InsertsPrimeTests {
    /// A new image made of short pieces of the old one (shorter than any op pays for), between
    /// fresh bytes: the matcher inserts them, and only a primed dictionary finds them.
    static let old = RoundTripTests.texty(120_000, seed: 7)
    static let new: [UInt8] = {
        var generator = SeededGenerator(seed: 8)
        var new: [UInt8] = []
        while new.count < 60_000 {
            let start = Int(generator.next() % UInt64(old.count - 12))
            new += old[start..<(start + 9)]
            new.append(UInt8(truncatingIfNeeded: generator.next()))
        }
        return new
    }()

    static func primed(_ prime: Bool) throws -> [UInt8] {
        var options = DeltaOptions()
        options.insertsPriming = prime ? .always : .never
        return try Delta.diff(old: old, new: new, options: options)
    }

    static let patch: [UInt8] = try! primed(true)

    /// `patch` with its prime block (right after the header) replaced by `block`.
    static func withBlock(_ block: [UInt8], in patch: [UInt8] = patch) throws -> [UInt8] {
        let (_, length) = try #require(
            try patch[DeltaPatchHeader.byteCount...].withContiguousStorageIfAvailable { bytes in
                try InsertsPrime.decode(bytes, oldSize: UInt64(old.count), dictionarySize: 1 << 28)
            } ?? nil)
        var edited = patch
        edited.replaceSubrange(DeltaPatchHeader.byteCount..<(DeltaPatchHeader.byteCount + length), with: block)
        return edited
    }

    /// By default (`InsertsPriming.mostlyNew`) a program update that inserts half of the new image
    /// or more is primed and one that inserts less is not; `always` and `never` override both.
    /// Each patch rebuilds its image.
    @Test func `a program update that is mostly new code is primed by default`() throws {
        let mostlyNew = LoadableProgram.pair(inserting: 100_000, seed: 101)
        let mostlyCopied = LoadableProgram.pair(inserting: 20_000, seed: 102)
        for (pair, label) in [(mostlyNew, "mostly new"), (mostlyCopied, "mostly copied")] {
            var patches: [DeltaOptions.InsertsPriming: [UInt8]] = [:]
            for priming in DeltaOptions.InsertsPriming.allCases {
                var options = DeltaOptions()
                options.insertsPriming = priming
                let patch = try RoundTripTests.roundTrip(pair.old, pair.new, options: options)
                let expected = priming == .always || (priming == .mostlyNew && label == "mostly new")
                #expect(try DeltaPatchHeader.decode(patch).insertsPrimed == expected, "\(label), \(priming)")
                patches[priming] = patch
            }
            // Not primed, the default's ops are the first cover score's, as without priming.
            if label == "mostly copied" { #expect(patches[.mostlyNew] == patches[.never] ? true : false) }
        }
        #expect(DeltaOptions().insertsPriming == .mostlyNew)
    }

    @Test(arguments: [(3, 2), (1, 0), (0, 4)], [1, 65_535, 65_536, 65_537, 200_001])
    func `a preset dictionary decodes after the same bytes preloaded`(coding: (UInt32, UInt32), length: Int) throws {
        let history = RoundTripTests.texty(length, seed: UInt64(length))
        var data: [UInt8] = []
        var generator = SeededGenerator(seed: 3)
        while data.count < 50_000 {
            let start = Int(generator.next() % UInt64(history.count))
            data += history[start..<min(history.count, start + 11)]
            data.append(UInt8(truncatingIfNeeded: generator.next()))
        }
        let settings = LZMA2Settings(
            dictionarySize: 1 << 20, literalContextBits: coding.0, positionBits: coding.1)
        let encoder = try history.withUnsafeBytes { try LZMA2StreamEncoder(settings, presetDictionary: $0) }
        var piece: [UInt8] = []
        try data.withUnsafeBytes { raw in try encoder.update(raw) { piece += $0 } }
        try encoder.flush { piece += $0 }

        let decoder = try LZMA2StreamDecoder(dictionarySize: 1 << 20)
        var scratch: [UInt8] = []
        // In two calls, the second continuing the first (no dictionary reset).
        let cut = history.count / 3
        try history[..<cut].withUnsafeBytes { try decoder.preload($0, scratch: &scratch) }
        try history[cut...].withUnsafeBytes { try decoder.preload($0, scratch: &scratch) }
        var output: [UInt8] = []
        try decoder.decode(piece, count: data.count, into: &output)
        #expect(output == data)

        // Other history of the same length: other bytes, or a corrupt stream (the data
        // repeats strings of the history, which a stream without them cannot rebuild).
        guard length >= 1000 else { return }
        let other = RoundTripTests.texty(length, seed: UInt64(length) + 1)
        let wrong = try LZMA2StreamDecoder(dictionarySize: 1 << 20)
        try other.withUnsafeBytes { try wrong.preload($0, scratch: &scratch) }
        var wrongOutput: [UInt8] = []
        do throws(OTAError) {
            try wrong.decode(piece, count: data.count, into: &wrongOutput)
            #expect(wrongOutput != data)
        } catch {
            #expect(error.code.rawValue.hasPrefix("xz."))
        }
    }

    @Test func `a primed patch rebuilds the new image and is smaller`() throws {
        let header = try DeltaPatchHeader.decode(Self.patch)
        #expect(header.insertsPrimed)
        #expect(Self.patch[11] == DeltaPatchHeader.BodyCoding.plain.rawValue | DeltaPatchHeader.compressionPrimedFlag)
        #expect(AdversarialPatchTests.code(Self.patch, old: Self.old) == nil)
        #expect(try Delta.apply(old: Self.old, patch: Self.patch) == Self.new)
        let plain = try Self.primed(false)
        #expect(try DeltaPatchHeader.decode(plain).insertsPrimed == false)
        #expect(Self.patch.count * 100 < plain.count * 90, "primed \(Self.patch.count), plain \(plain.count)")
    }

    @Test func `primed executables rebuild through every decoder`() throws {
        for machine in [SyntheticELF.Machine.x86_64, .aarch64] {
            let (old, new) = ReferenceTransformTests.pair(machine)
            var options = DeltaOptions()
            options.insertsPriming = .always
            let patch = try Delta.diff(old: old, new: new, options: options)
            #expect(try DeltaPatchHeader.decode(patch).insertsPrimed)
            #expect(AdversarialPatchTests.code(patch, old: old) == nil)
            #expect(try Delta.apply(old: old, patch: patch) == new)
        }
    }

    @Test func `the prime is the old image's first dictionary's worth of bytes`() throws {
        #expect(DeltaEncoder.insertsPrime(oldSize: 0, limit: 1 << 20) == nil)
        #expect(DeltaEncoder.insertsPrime(oldSize: 100, limit: 1 << 20) == InsertsPrime(start: 0, length: 100))
        #expect(
            DeltaEncoder.insertsPrime(oldSize: 3 << 20, limit: 1 << 20) == InsertsPrime(start: 0, length: 1 << 20))
        // 8 MiB at most in a larger dictionary, unless more than that is inserted: then as much
        // as the dictionary that holds the inserted bytes.
        #expect(DeltaEncoder.primeLimit(insertedBytes: nil, limit: 16 << 20) == 8 << 20)
        #expect(DeltaEncoder.primeLimit(insertedBytes: 3 << 20, limit: 16 << 20) == 8 << 20)
        #expect(DeltaEncoder.primeLimit(insertedBytes: 9 << 20, limit: 16 << 20) == 16 << 20)
        #expect(DeltaEncoder.primeLimit(insertedBytes: 40 << 20, limit: 16 << 20) == 16 << 20)
        #expect(DeltaEncoder.primeLimit(insertedBytes: 40 << 20, limit: 8 << 20) == 8 << 20)
        #expect(DeltaEncoder.primeLimit(insertedBytes: nil, limit: 4 << 20) == 4 << 20)
        // The block written before the first frame says the same.
        var options = DeltaOptions()
        options.insertsPriming = .always
        options.dictionarySize = 1 << 20
        let old = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let new = Array(old[(1 << 20)...]) + Array(old[0..<4096])
        let patch = try Delta.diff(old: old, new: new, options: options)
        let header = try DeltaPatchHeader.decode(patch)
        #expect(header.insertsPrimed && !header.hasTransform)
        let block = try patch[DeltaPatchHeader.byteCount...].withUnsafeBufferPointer { bytes in
            try InsertsPrime.decode(bytes, oldSize: UInt64(old.count), dictionarySize: 1 << 20)
        }
        #expect(block?.prime == InsertsPrime(start: 0, length: 1 << 20))
        #expect(try Delta.apply(old: old, patch: patch) == new)
    }

    @Test func `the new-code cover score is used only for updates that are mostly new`() {
        let half: [DeltaOperation] = [
            .copy(oldStart: 0, length: 50), .insert(length: 30), .add(oldStart: 80, length: 0), .insert(length: 20),
        ]
        #expect(DeltaEncoder.isMostlyNew(half))
        #expect(!DeltaEncoder.isMostlyNew(half + [.copy(oldStart: 0, length: 1)]))
        #expect(!DeltaEncoder.isMostlyNew([]))
        #expect(DeltaEncoder.isMostlyNew([.insert(length: 1)]))
        // A changed stream the recompressed-streams block rebuilds is new content too.
        #expect(DeltaEncoder.isMostlyNew([.rebuilt(length: 30), .insert(length: 20), .copy(oldStart: 0, length: 50)]))
        #expect(!DeltaEncoder.isMostlyNew([.rebuilt(length: 30), .insert(length: 19), .copy(oldStart: 0, length: 50)]))
        #expect(DeltaEncoder.isMostlyNew([.rebuilt(length: 500)]))
    }

    @Test func `a mostly new executable primed keeps only covers worth the new-code score`() throws {
        // New code that repeats short pieces of the old code: with the default score they become
        // covers; primed, those worth less than `newCodeCoverScore` are inserted instead (LZMA2
        // finds them in the primed old bytes), and the patch is smaller and still applies.
        let (old, _) = ReferenceTransformTests.pair(.x86_64)
        var generator = SeededGenerator(seed: 11)
        var new = Array(old[0..<64])
        while new.count < old.count {
            let start = 64 + Int(generator.next() % UInt64(old.count - 200))
            new += old[start..<(start + 40)]
            new += (0..<24).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        }
        func encode(primed: Bool) throws -> (patch: [UInt8], inserted: Int64) {
            // The transform's matching (every op awaited), on the whole of both images as code.
            var options = DeltaOptions.forcingTransform(
                oldCount: old.count, newCount: new.count, architecture: .x86_64)
            options.insertsPriming = primed ? .always : .never
            var patch: [UInt8] = []
            let (header, statistics) = try old.withUnsafeBufferPointer { o in
                try new.withUnsafeBufferPointer { n in
                    try DeltaEncoder(options: options).encode(old: o, new: n, progress: nil) { patch += $0 }
                }
            }
            patch.replaceSubrange(0..<header.count, with: header)
            return (patch, statistics.insertBytes)
        }
        let primed = try encode(primed: true)
        let plain = try encode(primed: false)
        #expect(try Delta.apply(old: old, patch: primed.patch) == new)
        #expect(plain.inserted * 2 >= Int64(new.count), "the update must be mostly new for this test")
        #expect(primed.inserted > plain.inserted, "primed inserts \(primed.inserted), plain \(plain.inserted)")
        #expect(primed.patch.count < plain.patch.count, "primed \(primed.patch.count), plain \(plain.patch.count)")
    }

    @Test func `hostile prime blocks are refused`() throws {
        let size = UInt64(Self.old.count)
        let dictionary = UInt64(try DeltaPatchHeader.decode(Self.patch).dictionarySizes[PatchStream.inserts.rawValue])
        func block(_ start: UInt64, _ length: UInt64) -> [UInt8] {
            AdversarialPatchTests.varint(start) + AdversarialPatchTests.varint(length)
        }
        let refused: [([UInt8], String)] = [
            (block(0, 0), "delta.malformed"),  // nothing primed
            (block(0, dictionary + 1), "delta.malformed"),  // more than the dictionary
            (block(size - 10, 11), "delta.malformed"),  // past the old image's end
            (block(size + 1, 1), "delta.malformed"),
            (block(UInt64.max, 2), "delta.malformed"),  // start + length overflows
            ([UInt8](repeating: 0xFF, count: 10) + [0x02], "delta.malformed"),  // an 11-byte number
        ]
        for (bytes, code) in refused {
            #expect(AdversarialPatchTests.code(try Self.withBlock(bytes), old: Self.old) == code, "\(bytes)")
        }
        // Other old bytes than the encoder's: the inserts decode to other bytes, or fail.
        let shifted = try Self.withBlock(block(0, min(size, dictionary) - 1))
        #expect(
            ["delta.result-mismatch", "delta.corrupt"].contains(AdversarialPatchTests.code(shifted, old: Self.old)))
        // The patch ends inside the block.
        let cut = Array(Self.patch[0..<(DeltaPatchHeader.byteCount + 2)])
        #expect(AdversarialPatchTests.code(cut, old: Self.old) == "delta.truncated")
    }

    @Test func `the primed bit must match the body`() throws {
        // Cleared on a primed patch: the block is read as a frame header.
        let cleared = try AdversarialPatchTests.resealed(Self.patch) {
            $0[11] &= ~DeltaPatchHeader.compressionPrimedFlag
        }
        #expect(AdversarialPatchTests.code(cleared, old: Self.old) != nil)
        // Set on a plain patch: its first frame header is read as a block.
        let plain = try Self.primed(false)
        let set = try AdversarialPatchTests.resealed(plain) { $0[11] |= DeltaPatchHeader.compressionPrimedFlag }
        #expect(AdversarialPatchTests.code(set, old: Self.old) != nil)
        // Unknown bits beside it are still refused.
        let unknown = try AdversarialPatchTests.resealed(Self.patch) { $0[11] |= 0x40 }
        #expect(AdversarialPatchTests.code(unknown, old: Self.old) == "delta.header-invalid")
    }

    /// Body coding 5 primed splits the primed old bytes as it splits inserted ones: piece by
    /// piece (`InsertsPrime.splitPieceBytes`) at their old offsets, the operands dropped.
    @Test func `a split prime is the old bytes' non-operand bytes, piece by piece`() {
        let old = InsertsFilterTests.x86Code(200_000, seed: 51)
        let prime = InsertsPrime(start: 1001, length: 150_000)
        let split = old.withUnsafeBufferPointer { prime.splitOldBytes($0) }
        defer { split.deallocate() }
        var expected: [UInt8] = []
        var wholeMain: [UInt8] = []
        old.withUnsafeBufferPointer { bytes in
            for start in stride(from: 1001, to: 151_001, by: InsertsPrime.splitPieceBytes) {
                let count = min(InsertsPrime.splitPieceBytes, 151_001 - start)
                InsertsOperands.split(bytes.baseAddress! + start, count: count, offset: Int64(start), main: &expected) {
                    _, _ in
                }
            }
            InsertsOperands.split(bytes.baseAddress! + 1001, count: 150_000, offset: 1001, main: &wholeMain) { _, _ in }
        }
        let same = split.elementsEqual(expected)
        #expect(same && split.count < 150_000 * 9 / 10, "\(split.count) of 150,000 bytes kept")
        // The pieces matter: split whole, an operand across a piece boundary would be taken.
        #expect(wholeMain.count != expected.count || !wholeMain.elementsEqual(expected))
    }

    /// Why the prime is split: inserted x86-64 code that repeats old code with other operands
    /// matches the split old bytes on and on, the raw old bytes only between two operands.
    @Test func `inserted code matches a split prime further than the raw old bytes`() throws {
        let old = InsertsFilterTests.x86Code(200_000, seed: 52)
        // The same instructions 3 bytes further on: every relative operand differs.
        let new = [1, 2, 3] + old
        var inserted: [UInt8] = []
        new.withUnsafeBufferPointer {
            InsertsOperands.split($0.baseAddress!, count: new.count, offset: 0, main: &inserted) { _, _ in }
        }
        let prime = InsertsPrime(start: 0, length: UInt64(old.count))
        let split = old.withUnsafeBufferPointer { prime.splitOldBytes($0) }
        defer { split.deallocate() }
        func compressed(_ preset: UnsafeRawBufferPointer) throws -> Int {
            let encoder = try LZMA2StreamEncoder(LZMA2Settings(dictionarySize: 1 << 20), presetDictionary: preset)
            var size = 0
            try inserted.withUnsafeBytes { raw in try encoder.update(raw) { size += $0.count } }
            try encoder.flush { size += $0.count }
            return size
        }
        let withSplit = try compressed(split)
        let withRaw = try old.withUnsafeBytes { try compressed($0) }
        #expect(withSplit * 4 < withRaw, "split prime \(withSplit) bytes, raw prime \(withRaw)")
    }

    /// The split flag (0x40) exists only with a primed code 5; a split-primed patch relabelled as
    /// raw-primed decodes other dictionary bytes and is refused, never written.
    @Test func `the split prime flag is refused where it does not belong and never misread`() throws {
        // New code with the old code's instructions and other random operands, inserted whole
        // (no cover pays): its inserts match far into the split prime.
        let (old, new) = Self.retargeted(seed: 53)
        var options = DeltaOptions()
        options.insertsPriming = .always
        options.minimumCoverScore = 1 << 40
        let split = try Delta.diff(old: old, new: new, options: options)
        #expect(split[11] == 0x55)
        #expect(try DeltaPatchHeader.decode(split).prime == .oldBytesSplit)
        #expect(AdversarialPatchTests.code(split, old: old) == nil)
        options.insertsPriming = .never
        let unprimed = try Delta.diff(old: old, new: new, options: options)
        #expect(split.count * 10 < unprimed.count * 9, "split prime \(split.count) bytes, none \(unprimed.count)")
        for coding: UInt8 in [0x45, 0x42, 0x52, 0x53, 0x54, 0x62, 0x72, 0x73, 0xC5] {
            let claimed = try AdversarialPatchTests.resealed(split) { $0[11] = coding }
            #expect(AdversarialPatchTests.code(claimed, old: old) == "delta.header-invalid", "coding \(coding)")
        }
        let relabelled = try AdversarialPatchTests.resealed(split) { $0[11] = 0x15 }
        #expect(AdversarialPatchTests.code(relabelled, old: old) != nil)
    }

    /// A read of the old image failing inside a split prime (a bad sector) fails every decoder
    /// with that read's error before anything is handed out, in the first piece and a later one.
    @Test func `a read failing inside a split prime fails every decoder alike`() throws {
        let (old, new) = Self.retargeted(seed: 59, instructions: 60_000)
        var options = DeltaOptions()
        options.insertsPriming = .always
        options.minimumCoverScore = 1 << 40
        let patch = try Delta.diff(old: old, new: new, options: options)
        #expect(try DeltaPatchHeader.decode(patch).prime == .oldBytesSplit)
        let pieces = InsertsPrime(start: 0, length: UInt64(old.count)).pieces.count
        #expect(pieces >= 4, "\(pieces) pieces")
        #expect(AdversarialPatchTests.code(patch, old: old) == nil)
        // Reads starting at one piece of the prime fail (the old image's hash reads from 0 in
        // 128 KiB steps, so never starts at an odd piece).
        for piece in [1, (pieces - 1) % 2 == 1 ? pieces - 1 : pieces - 2] {
            let failing = Int64(piece * InsertsPrime.splitPieceBytes)
            let outcomes = DeltaDecoder.Threads.allCases.map { threads in
                AdversarialPatchTests.outcome(
                    patch, old: old, source: FailingReadSource(old, failingAt: failing), threads: threads)
            }
            #expect(outcomes.allSatisfy { $0 == outcomes[0] }, "piece \(piece): \(outcomes.map { $0.error ?? "none" })")
            #expect(outcomes[0].code == OTAError.Code.ioFailed.rawValue && outcomes[0].output.isEmpty)
        }
    }

    /// Two x86-64 ELF images of the same calls, jumps and RIP-relative loads between fillers,
    /// each relative operand random (its last byte 00 or FF, as compiled code's near ones).
    static func retargeted(seed: UInt64, instructions: Int = 20_000) -> (old: [UInt8], new: [UInt8]) {
        var generator = SeededGenerator(seed: seed)
        let forms: [[UInt8]] = [
            [0xE8], [0x0F, 0x84], [0x48, 0x8B, 0x05], [0x48, 0x8D, 0x0D], [0x48, 0x89, 0xC7, 0x90],
        ]
        let sequence = (0..<instructions).map { _ in Int(generator.next() % 5) }
        func image() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 64)
            for form in sequence {
                out += forms[form]
                if form < 4 {
                    let value = Int32(truncatingIfNeeded: generator.next() % (1 << 21)) - (1 << 20)
                    withUnsafeBytes(of: value.littleEndian) { out += $0 }
                }
            }
            return InsertsFilterTests.elf(out, machine: 62)
        }
        return (image(), image())
    }
}

/// Old bytes in memory whose reads starting at `failingAt` fail, as a bad sector would; the
/// others are `MemoryDeltaSource`'s.
final class FailingReadSource: DirectDeltaSource {
    let memory: MemoryDeltaSource
    let failingAt: Int64
    var byteCount: Int64 { memory.byteCount }

    init(_ bytes: [UInt8], failingAt: Int64) {
        memory = MemoryDeltaSource(bytes)
        self.failingAt = failingAt
    }

    func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        try check(offset)
        return try memory.read(at: offset, count: count)
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) {
        try check(offset)
        try memory.read(at: offset, into: buffer)
    }

    private func check(_ offset: Int64) throws(OTAError) {
        guard offset != failingAt else { throw OTAError(.ioFailed, "injected read failure at \(offset)") }
    }
}
