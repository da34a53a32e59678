import CZlib
import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The recompressed-streams block (body compression bit 0x80): changed zlib and gzip streams
/// travel puffed and are written back bit for bit; a hostile block is refused with its own code.
@Suite struct RecompressedStreamsTests {
    /// An asset as a program embeds it, and a later version of it: a few lines changed and added.
    static let asset = RoundTripTests.texty(120_000, seed: 11)
    static let changedAsset: [UInt8] = {
        var bytes = asset
        bytes.replaceSubrange(40_000..<40_050, with: Array("a new syntax rule for the highlighter".utf8))
        bytes.insert(contentsOf: RoundTripTests.texty(3_000, seed: 12), at: 90_000)
        return bytes
    }()
    static let other = RoundTripTests.texty(30_000, seed: 13)

    /// An image holding `streams` between stretches of code-like filler.
    static func image(_ streams: [[UInt8]], seed: UInt64) -> [UInt8] {
        var bytes = RoundTripTests.random(20_000, seed: seed)
        for stream in streams { bytes += stream + RoundTripTests.random(5_000, seed: seed &+ UInt64(bytes.count)) }
        return bytes
    }

    static let old = image(
        [Zlib.deflate(asset, level: 9, container: .zlib), Zlib.deflate(other, container: .zlib)], seed: 1)
    static let new = image(
        [Zlib.deflate(changedAsset, level: 9, container: .zlib), Zlib.deflate(other, container: .zlib)], seed: 1)

    /// The patch and what it is made of.
    static func diff(_ old: [UInt8], _ new: [UInt8], options: DeltaOptions = DeltaOptions()) throws -> (
        patch: [UInt8], statistics: DeltaStatistics
    ) {
        try SmallPatchTests.encoded(old, new, options: options)
    }

    static func without(_ options: DeltaOptions = DeltaOptions()) -> DeltaOptions {
        var options = options
        options.recompressStreams = false
        return options
    }

    @Test func `a changed zlib stream travels puffed and every decoder rebuilds the image`() throws {
        let (patch, statistics) = try Self.diff(Self.old, Self.new)
        let (plain, _) = try Self.diff(Self.old, Self.new, options: Self.without())
        let changed = Zlib.deflate(Self.changedAsset, level: 9, container: .zlib)
        #expect(statistics.recompressedBytes == Int64(changed.count))
        #expect(try DeltaPatchHeader.decode(patch).recompressed)
        // Random words from 12: the 3 KB inserted changes most matches' distances for the 32 KiB
        // after it, so the block is ~10 KB; about half the patch without it.
        #expect(
            patch.count * 10 < plain.count * 7,
            "block \(statistics.recompressedBlockBytes) for \(statistics.recompressedBytes); patch \(patch.count) bytes, \(plain.count) without the block"
        )
        for threads in DeltaDecoder.Threads.allCases {
            let outcome = AdversarialPatchTests.outcome(patch, old: Self.old, threads: threads)
            let same = outcome.output == Self.new
            #expect(outcome.error == nil && same, "\(threads): \(outcome.error ?? "wrong bytes")")
        }
    }

    @Test(arguments: [
        (DeflateContainer.zlib, Int32(1), Z_DEFAULT_STRATEGY), (.zlib, 6, Z_FILTERED), (.gzip, 9, Z_DEFAULT_STRATEGY),
        (.gzip, 4, Z_RLE), (.zlib, 9, Z_FIXED), (.zlib, 0, Z_DEFAULT_STRATEGY),
    ])
    func `zlib and gzip streams of every kind rebuild exactly`(
        container: DeflateContainer, level: Int32, strategy: Int32
    ) throws {
        let old = Self.image(
            [Zlib.deflate(Self.asset, level: level, strategy: strategy, container: container)], seed: 3)
        let new = Self.image(
            [Zlib.deflate(Self.changedAsset, level: level, strategy: strategy, container: container)], seed: 3)
        let (patch, statistics) = try Self.diff(old, new)
        #expect(statistics.recompressedBytes > 0)
        let rebuilt = try Delta.apply(old: old, patch: patch)
        let same = rebuilt == new
        #expect(same)
    }

    @Test func `an unchanged stream is left to the copies`() throws {
        let image = Self.image([Zlib.deflate(Self.asset, container: .zlib)], seed: 4)
        var new = image
        new[100] &+= 1
        let (patch, statistics) = try Self.diff(image, new)
        #expect(statistics.recompressedBytes == 0)
        #expect(try DeltaPatchHeader.decode(patch).recompressed == false)
    }

    @Test func `bytes that only look like a zlib header are not taken for a stream`() throws {
        // 0x78 0x9C followed by bytes that are no deflate stream, and a stream whose checksum is wrong.
        var stream = Zlib.deflate(Self.asset, container: .zlib)
        stream[stream.count - 1] ^= 0xFF
        var bytes = RoundTripTests.random(5_000, seed: 5)
        bytes.replaceSubrange(100..<102, with: [0x78, 0x9C])
        bytes += stream
        let found = bytes.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
        #expect(found.isEmpty)
    }

    @Test func `the scanner finds each stream once with its exact extent`() throws {
        let first = Zlib.deflate(Self.asset, container: .zlib)
        let second = Zlib.deflate(Self.other, container: .gzip)
        let bytes =
            RoundTripTests.random(777, seed: 6) + first + [0, 1, 2] + second + RoundTripTests.random(99, seed: 7)
        let found = bytes.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
        #expect(found.map(\.offset) == [777, 777 + first.count + 3])
        #expect(found.map(\.length) == [first.count, second.count])
        #expect(found.map(\.prefix) == [2, 10])
        #expect(found.map(\.suffix) == [4, 8])
        let data = bytes.withUnsafeBufferPointer { image in found.map { $0.puffed(in: image).data } }
        let same = data == [Self.asset, Self.other]
        #expect(same)
    }

    /// A zip local file header and entry for `data` deflated: with its CRC-32 and sizes, or
    /// with flags bit 3, zeros there and a data descriptor after the data.
    static func zipEntry(_ data: [UInt8], name: String, descriptor: Bool = false) -> [UInt8] {
        let deflated = Zlib.deflate(data, level: 9, container: .raw)
        let crc = data.withUnsafeBufferPointer { Checksums.crc32($0) }
        func le(_ value: Int, _ bytes: Int) -> [UInt8] {
            (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        let fields = descriptor ? [0, 0, 0] : [Int(crc), deflated.count, data.count]
        var entry: [UInt8] = [0x50, 0x4B, 3, 4] + le(20, 2) + le(descriptor ? 8 : 0, 2) + le(8, 2) + le(0, 4)
        entry += fields.flatMap { le($0, 4) } + le(name.utf8.count, 2) + le(0, 2) + Array(name.utf8) + deflated
        if descriptor { entry += [0x50, 0x4B, 7, 8] + le(Int(crc), 4) + le(deflated.count, 4) + le(data.count, 4) }
        return entry
    }

    @Test(arguments: [false, true])
    func `a deflated zip entry is found and rebuilt`(descriptor: Bool) throws {
        let old = Self.image([Self.zipEntry(Self.asset, name: "syntaxes.bin", descriptor: descriptor)], seed: 8)
        let new = Self.image([Self.zipEntry(Self.changedAsset, name: "syntaxes.bin", descriptor: descriptor)], seed: 8)
        let found = new.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
        #expect(found.map(\.offset) == [20_000])
        #expect(found.map(\.prefix) == [30 + 12])
        #expect(found.map(\.suffix) == [0])
        let (patch, statistics) = try Self.diff(old, new)
        #expect(statistics.recompressedBytes == Int64(found.first?.length ?? -1))
        let rebuilt = try Delta.apply(old: old, patch: patch)
        let same = rebuilt == new
        #expect(same)
    }

    @Test func `a zip entry whose header disagrees with its data is not taken`() throws {
        var entry = Self.zipEntry(Self.asset, name: "a")
        entry[14] ^= 1  // the CRC-32
        let found = entry.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
        #expect(found.isEmpty)
    }

    @Test func `the rebuilt bytes stay within what the decoder can hold beside the frames`() throws {
        #expect(RecompressedStreams.outputLimit(dictionaryLimit: 16 << 20, limits: DeltaLimits()) == 9 << 20)
        let changed = Zlib.deflate(Self.changedAsset, level: 9, container: .zlib).count
        var limits = DeltaLimits()
        limits.xzMemoryLimit = UInt64((1 << 20) + (1 << 18) + (3 << 20) + changed)
        func make(_ limits: DeltaLimits) throws -> RecompressedStreams? {
            try Self.old.withUnsafeBufferPointer { old in
                try Self.new.withUnsafeBufferPointer { new in
                    try RecompressedStreams.make(
                        old: old, new: new, dictionaryLimit: 1 << 20, limits: limits, preset: 9, extreme: false)
                }
            }
        }
        #expect(try make(limits)?.holes.count == 1)
        limits.xzMemoryLimit -= 1
        #expect(try make(limits) == nil)
    }

    /// A gzip member of `data` with the optional header fields `flags` names (FHCRC 0x02,
    /// FEXTRA 0x04, FNAME 0x08, FCOMMENT 0x10), as gzip, pigz or a build tool may write them.
    static func gzipMember(_ data: [UInt8], flags: UInt8) -> [UInt8] {
        func le(_ value: Int, _ bytes: Int) -> [UInt8] {
            (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        var header: [UInt8] = [0x1F, 0x8B, 8, flags] + le(0x6553_F100, 4) + [2, 3]
        if flags & 0x04 != 0 { header += le(6, 2) + [0x41, 0x70, 2, 0, 0x1F, 0x8B] }
        if flags & 0x08 != 0 { header += Array("syntaxes.bin".utf8) + [0] }
        if flags & 0x10 != 0 { header += Array("made by a build script; x\u{1F}\u{8B}".utf8) + [0] }
        if flags & 0x02 != 0 {
            let crc = header.withUnsafeBufferPointer { Checksums.crc32($0) }
            header += le(Int(crc & 0xFFFF), 2)
        }
        let crc = data.withUnsafeBufferPointer { Checksums.crc32($0) }
        return header + Zlib.deflate(data, level: 9, container: .raw) + le(Int(crc), 4) + le(data.count, 4)
    }

    @Test(arguments: [UInt8(0x02), 0x04, 0x08, 0x10, 0x1E])
    func `a gzip member with optional header fields is found whole and rebuilt`(flags: UInt8) throws {
        let old = Self.image([Self.gzipMember(Self.asset, flags: flags)], seed: 9)
        let member = Self.gzipMember(Self.changedAsset, flags: flags)
        let new = Self.image([member], seed: 9)
        let found = new.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
        #expect(found.map(\.offset) == [20_000])
        #expect(found.map(\.length) == [member.count])
        let (patch, statistics) = try Self.diff(old, new)
        #expect(statistics.recompressedBytes == Int64(member.count))
        let rebuilt = try Delta.apply(old: old, patch: patch)
        let same = rebuilt == new
        #expect(same)
    }

    @Test func `gzip and zip headers whose fields run past the image are no streams`() throws {
        let member = Self.gzipMember(Self.asset, flags: 0x1E)
        let entry = Self.zipEntry(Self.asset, name: "a.bin")
        var cases: [[UInt8]] = [
            [0x1F, 0x8B, 8, 0x04] + Array(repeating: 0, count: 6) + [0xFF, 0xFF, 1, 2],  // FEXTRA longer than the image
            [0x1F, 0x8B, 8, 0x08] + Array(repeating: 0x41, count: 40),  // FNAME never terminated
            [0x1F, 0x8B, 8, 0x12] + Array(repeating: 0, count: 6) + [0x41, 0],  // FHCRC past the end
            Array(member.prefix(30)), Array(entry.prefix(40)),
        ]
        var extra = entry
        extra[28] = 0xFF  // an extra field longer than the image
        extra[29] = 0xFF
        cases.append(extra)
        for bytes in cases {
            let found = bytes.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
            #expect(found.isEmpty, "\(bytes.prefix(8))")
        }
    }

    /// A zip local header in ZIP64 form: both sizes 0xFFFFFFFF, their 64-bit values in the
    /// extra field 0x0001 (APPNOTE 4.5.3), as `zipfile` with `force_zip64` or a streaming
    /// archiver writes it.
    static func zip64Entry(_ data: [UInt8], name: String, sizes: (data: Int, deflated: Int)? = nil) -> [UInt8] {
        let deflated = Zlib.deflate(data, level: 9, container: .raw)
        let crc = data.withUnsafeBufferPointer { Checksums.crc32($0) }
        func le(_ value: Int, _ bytes: Int) -> [UInt8] {
            (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        let extra =
            le(0x9901, 2) + le(4, 2) + [1, 2, 3, 4] + le(1, 2) + le(16, 2)
            + le(sizes?.data ?? data.count, 8) + le(sizes?.deflated ?? deflated.count, 8)
        var entry: [UInt8] = [0x50, 0x4B, 3, 4] + le(45, 2) + le(0, 2) + le(8, 2) + le(0, 4) + le(Int(crc), 4)
        entry += le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(name.utf8.count, 2) + le(extra.count, 2)
        return entry + Array(name.utf8) + extra + deflated
    }

    @Test func `a ZIP64 entry's sizes are read from its extra field`() throws {
        let old = Self.image([Self.zip64Entry(Self.asset, name: "syntaxes.bin")], seed: 10)
        let entry = Self.zip64Entry(Self.changedAsset, name: "syntaxes.bin")
        let new = Self.image([entry], seed: 10)
        let found = new.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
        #expect(found.map(\.length) == [entry.count])
        let (patch, statistics) = try Self.diff(old, new)
        #expect(statistics.recompressedBytes == Int64(entry.count))
        let rebuilt = try Delta.apply(old: old, patch: patch)
        let same = rebuilt == new
        #expect(same)
        // Sizes in the extra field that are not the entry's own: not taken.
        let deflated = Zlib.deflate(Self.asset, level: 9, container: .raw).count
        for sizes in [(Self.asset.count + 1, deflated), (Self.asset.count, deflated - 1), (Self.asset.count, 1 << 40)] {
            let wrong = Self.zip64Entry(Self.asset, name: "a", sizes: sizes)
            let none = wrong.withUnsafeBufferPointer { DeflateStreamScanner.scan($0) }
            #expect(none.isEmpty, "\(sizes)")
        }
    }

    @Test func `the block's encoder sees back to each new stream's old version, in either order`() throws {
        let assets = (0..<6).map { RoundTripTests.texty(40_000, seed: 30 + UInt64($0)) }
        let changed = assets.enumerated().map { (index, asset) in
            var bytes = asset
            bytes.insert(contentsOf: RoundTripTests.texty(300, seed: 40 + UInt64(index)), at: 20_000)
            return bytes
        }
        let old = Self.image(assets.map { Zlib.deflate($0, level: 9, container: .zlib) }, seed: 11)
        let newStreams = changed.map { Zlib.deflate($0, level: 9, container: .zlib) }
        var windows: [Int] = []
        for new in [Self.image(newStreams, seed: 11), Self.image(newStreams.reversed(), seed: 11)] {
            let made = try old.withUnsafeBufferPointer { old in
                try new.withUnsafeBufferPointer { new in
                    try RecompressedStreams.make(
                        old: old, new: new, dictionaryLimit: 16 << 20, limits: DeltaLimits(), preset: 9, extreme: false)
                }
            }
            let block = try #require(made)
            windows.append(block.window)
            let streamBytes = newStreams.reduce(0) { $0 + $1.count }
            #expect(block.block.count * 4 < streamBytes, "block \(block.block.count) for \(streamBytes)")
            let (patch, _) = try Self.diff(old, new)
            let rebuilt = try Delta.apply(old: old, patch: patch)
            let same = rebuilt == new
            #expect(same)
        }
        // In file order each new asset is the old ones' length after its old version; reversed,
        // the last new one repeats the first old one: the window spans the whole history.
        #expect(windows[0] * 10 < windows[1] * 6, "windows \(windows)")
    }

    @Test func `with the transform's matching the ops are cut around the streams where they are made`() throws {
        // 5 KB of filler, taken for x86-64 code, then an ~18 KB stream whose content changed
        // near its start (its compressed bytes differ almost throughout). Every op is known
        // before the first is written: the list is cut, and the transform's pairs, its
        // prediction check and the inserts' trial read it with the stream as one rebuilt op.
        var changed = Self.asset
        changed.replaceSubrange(500..<550, with: Array("a new syntax rule for the highlighter".utf8))
        let old = RoundTripTests.random(5_000, seed: 14) + Zlib.deflate(Self.asset, level: 9, container: .zlib)
        let stream = Zlib.deflate(changed, level: 9, container: .zlib)
        let new = RoundTripTests.random(5_000, seed: 14) + stream
        var options = DeltaOptions.forcingTransform(oldCount: old.count, newCount: new.count, architecture: .x86_64)
        options.keepTransform = false
        let (patch, statistics) = try Self.diff(old, new, options: options)
        #expect(statistics.recompressedBytes == Int64(stream.count))
        #expect(statistics.insertBytes < 100)
        // The changed stream is new content: the update is mostly new, its inserts primed.
        #expect(try DeltaPatchHeader.decode(patch).prime != .none)
        for threads in DeltaDecoder.Threads.allCases {
            let outcome = AdversarialPatchTests.outcome(patch, old: old, threads: threads)
            let same = outcome.output == new
            #expect(outcome.error == nil && same, "\(threads): \(outcome.error ?? "wrong bytes")")
        }
    }

    @Test func `--no-recompress-streams writes the patch of before`() throws {
        let (patch, statistics) = try Self.diff(Self.old, Self.new, options: Self.without())
        #expect(statistics.recompressedBytes == 0)
        #expect(try DeltaPatchHeader.decode(patch).recompressed == false)
        let rebuilt = try Delta.apply(old: Self.old, patch: patch)
        let same = rebuilt == Self.new
        #expect(same)
    }
}

/// Hostile recompressed-streams blocks, put in place of a valid patch's block: each is refused
/// with its code by every decoder, before any output.
@Suite struct RecompressedBlockAttackTests {
    typealias Base = RecompressedStreamsTests

    struct OldEntry {
        var gap: UInt64
        var length: UInt64
        var prefix: UInt64
        var suffix: UInt64
        var puffed: UInt64
    }

    struct NewEntry {
        var parts: [[UInt8]]
        var output: UInt64
        var declared: [UInt64]?
    }

    static func varint(_ value: UInt64) -> [UInt8] { AdversarialPatchTests.varint(value) }

    /// The valid patch, its block's length, and the old and new streams the encoder found.
    static let valid = try! Base.diff(Base.old, Base.new)
    static let oldStreams = Base.old.withUnsafeBufferPointer { image in
        DeflateStreamScanner.scan(image).map { ($0, $0.puffed(in: image)) }
    }
    static let newStreams = Base.new.withUnsafeBufferPointer { image in
        DeflateStreamScanner.scan(image).map { ($0, $0.puffed(in: image)) }
    }

    /// A block from its parts, the new entries compressed with the old entries' `prime` first.
    static func block(
        version: UInt8 = 1, exponent: UInt8 = 22, old: [OldEntry], prime: [UInt8], new: [NewEntry],
        output: UInt64? = nil
    ) throws -> [UInt8] {
        var block: [UInt8] = [version, exponent]
        block += varint(UInt64(old.count)) + varint(UInt64(new.count))
        block += varint(output ?? new.reduce(0) { $0 + $1.output })
        for entry in old {
            for value in [entry.gap, entry.length, entry.prefix, entry.suffix, entry.puffed] { block += varint(value) }
        }
        let encoder = try prime.withUnsafeBytes {
            try LZMA2StreamEncoder(
                LZMA2Settings(dictionarySize: 1 << min(UInt32(exponent), 24)), presetDictionary: $0)
        }
        for entry in new {
            var piece: [UInt8] = []
            for part in entry.parts { try part.withUnsafeBytes { raw in try encoder.update(raw) { piece += $0 } } }
            try encoder.flush { piece += $0 }
            for size in entry.declared ?? entry.parts.map({ UInt64($0.count) }) { block += varint(size) }
            block += varint(entry.output) + varint(UInt64(piece.count)) + piece
        }
        return block
    }

    /// The valid patch with `block` in place of its own.
    static func patch(with block: [UInt8]) -> [UInt8] {
        let (patch, statistics) = valid
        let end = DeltaPatchHeader.byteCount + Int(statistics.recompressedBlockBytes)
        return Array(patch[0..<DeltaPatchHeader.byteCount]) + block + Array(patch[end...])
    }

    /// The old streams' entries and prime as the encoder writes them (every old stream but the
    /// unchanged one), and the changed new stream's entry.
    static var honest: (old: [OldEntry], prime: [UInt8], new: NewEntry) {
        let (first, firstPuffed) = oldStreams[0]
        let entry = OldEntry(
            gap: UInt64(first.offset), length: UInt64(first.length), prefix: 2, suffix: 4,
            puffed: UInt64(first.puffedBytes))
        var prime: [UInt8] = []
        firstPuffed.append(to: &prime)
        let (changed, changedPuffed) = newStreams[0]
        return (
            [entry], prime,
            NewEntry(
                parts: [changedPuffed.headers, changedPuffed.tokens, changedPuffed.data],
                output: UInt64(changed.length))
        )
    }

    /// The same refusal, code `code`, from every decoder, with nothing handed out.
    static func expectRefused(_ patch: [UInt8], _ code: String, limits: DeltaLimits = DeltaLimits()) {
        for threads in DeltaDecoder.Threads.allCases {
            let outcome = AdversarialPatchTests.outcome(patch, old: Base.old, threads: threads, limits: limits)
            #expect(outcome.code == code, "\(threads): \(outcome.error ?? "accepted")")
            #expect(outcome.output.isEmpty, "\(threads) handed out \(outcome.output.count) bytes")
        }
    }

    @Test func `the honest block, rebuilt here, is accepted`() throws {
        let (old, prime, new) = Self.honest
        let patch = Self.patch(with: try Self.block(old: old, prime: prime, new: [new]))
        let rebuilt = try Delta.apply(old: Base.old, patch: patch)
        let same = rebuilt == Base.new
        #expect(same)
    }

    @Test func `an old stream outside the old image is refused`() throws {
        var (old, prime, new) = Self.honest
        old[0].gap = UInt64(Base.old.count)
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
        old[0].gap = UInt64.max
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
    }

    @Test func `an old stream that is no deflate stream is refused`() throws {
        var (old, prime, new) = Self.honest
        old[0].gap = 0
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
    }

    @Test func `an old stream's declared sizes must be its own`() throws {
        var (old, prime, new) = Self.honest
        old[0].puffed += 1
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
        (old, prime, new) = Self.honest
        old[0].length -= 1
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
    }

    @Test func `a match reaching before the stream's start is refused`() throws {
        var (old, prime, new) = Self.honest
        // The first token: no literals, then a match of 3 bytes at distance 1 before anything.
        new.parts[1] = [0, 1, 0] + new.parts[1]
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
    }

    @Test func `a stream writing back other than its declared bytes is refused`() throws {
        var (old, prime, new) = Self.honest
        new.output -= 1
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.recompressed-invalid")
    }

    @Test func `a piece decoding to more than its parts is refused as a bomb`() throws {
        var (old, prime, new) = Self.honest
        new.declared = new.parts.map { UInt64($0.count) }
        new.declared![2] -= 10
        Self.expectRefused(Self.patch(with: try Self.block(old: old, prime: prime, new: [new])), "delta.body-too-large")
    }

    @Test func `block version, dictionary and output outside their ranges are refused`() throws {
        let (old, prime, new) = Self.honest
        Self.expectRefused(
            Self.patch(with: try Self.block(version: 2, old: old, prime: prime, new: [new])),
            "delta.recompressed-invalid")
        Self.expectRefused(
            Self.patch(with: try Self.block(exponent: 29, old: old, prime: prime, new: [new])),
            "delta.recompressed-invalid")
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new], output: 17 << 20)),
            "delta.recompressed-invalid")
        Self.expectRefused(
            Self.patch(with: try Self.block(exponent: 25, old: old, prime: prime, new: [new])), "delta.memory-limit")
    }

    @Test func `a patch ending inside the block is truncated`() throws {
        let (old, prime, new) = Self.honest
        let block = try Self.block(old: old, prime: prime, new: [new])
        let patch = Array(Self.patch(with: block).prefix(DeltaPatchHeader.byteCount + block.count - 5))
        Self.expectRefused(patch, "delta.truncated")
    }

    @Test func `rebuilt bytes no op places are refused`() throws {
        let (old, prime, new) = Self.honest
        Self.expectRefused(
            Self.patch(with: try Self.block(old: old, prime: prime, new: [new, new])), "delta.malformed")
    }

    @Test func `a RECOMPRESSED op past the rebuilt bytes is refused`() throws {
        let (old, prime, _) = Self.honest
        let (other, otherPuffed) = Self.newStreams[1]
        let short = NewEntry(
            parts: [otherPuffed.headers, otherPuffed.tokens, otherPuffed.data], output: UInt64(other.length))
        Self.expectRefused(Self.patch(with: try Self.block(old: old, prime: prime, new: [short])), "delta.malformed")
    }

    @Test func `a wrong old image is reported as such, not as the block it breaks`() throws {
        // Same size, the old asset's stream damaged: the block's old stream no longer decodes.
        var wrong = Base.old
        wrong[Self.oldStreams[0].0.offset + 100] ^= 0xFF
        for threads in DeltaDecoder.Threads.allCases {
            let outcome = AdversarialPatchTests.outcome(Self.valid.patch, old: wrong, threads: threads)
            #expect(outcome.code == "delta.source-mismatch", "\(threads): \(outcome.error ?? "accepted")")
            #expect(outcome.output.isEmpty)
        }
    }

    @Test func `the header bit on a patch without a block is refused`() throws {
        let (plain, _) = try Base.diff(Base.old, Base.new, options: Base.without())
        let claimed = try AdversarialPatchTests.resealed(plain) { $0[11] |= 0x80 }
        Self.expectRefused(claimed, "delta.recompressed-invalid")
    }

    @Test func `a RECOMPRESSED op without the header bit is an unknown op`() throws {
        var streams = AdversarialPatchTests.Streams()
        streams.control = [DeltaOperation.recompressedCode, 10]
        let patch = try AdversarialPatchTests.craft(streams)
        let outcome = AdversarialPatchTests.outcome(patch, old: AdversarialPatchTests.old, threads: .sequential)
        #expect(outcome.code == "delta.unknown-op")
    }
}
