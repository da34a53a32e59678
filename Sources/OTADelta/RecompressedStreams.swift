internal import OTABase

/// The recompressed-streams block (body compression bit 0x80, docs/FORMAT.md "Recompressed
/// streams"): the new image's changed deflate streams (zlib, gzip, zip entries:
/// `DeflateStreamScanner`), carried as a delta of their puffed form (`PuffedStream`) against the
/// old image's, and written back bit for bit on the vehicle.
///
/// Compressed bytes change throughout when their content changes a little, so a byte-level
/// delta carries a changed stream almost whole (bat's 138 changed syntax assets: 509 KB);
/// puffed, its decompressed bytes and its LZ77 choices differ from the old stream's only around
/// the change (a 120 KB block for the same assets). The ops cover each such stream with RECOMPRESSED
/// ops, which take its bytes from the block's output.
struct RecompressedStreams {
    /// The block as it follows the patch header.
    var block: [UInt8]
    /// The new image's ranges the block rebuilds, in order: the RECOMPRESSED ops' ranges.
    var holes: [Range<Int>]
    /// How far back its encoder saw: its LZMA2 dictionary (`StreamReferences.reach`).
    var window: Int

    static let version: UInt8 = 1
    /// The block's dictionary exponents: 4 KiB ... 256 MiB, as the frames' streams.
    static let dictionaryExponents: ClosedRange<UInt8> = 12...28

    /// Which streams a block for `old` → `new` would carry, chosen before it is made: the ops
    /// are cut around `holes` where they are made (`RebuiltRangeCutter`), the block's encoding
    /// waits until the matcher's memory is free. Holds offsets and sizes only.
    struct Choice {
        /// The new streams to rebuild, in file order.
        var chosen: [DeflateStreamScanner.Found]
        /// The old streams to prime the block's dictionary with, in file order.
        var primed: [DeflateStreamScanner.Found]

        /// The new image's ranges the block rebuilds, in order.
        var holes: [Range<Int>] { chosen.map { $0.offset..<($0.offset + $0.length) } }
    }

    /// The streams of a block for `old` → `new`, or nil when no new stream qualifies. Picks the
    /// new streams whose bytes no old stream has (an unchanged stream is copied by the ops) and
    /// whose puffed form re-encodes to exactly their bytes, within half of `dictionaryLimit`;
    /// primes the dictionary with the old streams no new one repeats, in file order, while they
    /// fit `dictionaryLimit` beside the new ones. The rebuilt bytes stay within what a decoder
    /// with `limits` can hold beside the block's dictionary and beside the frames'
    /// (`outputLimit`).
    static func choose(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, dictionaryLimit: UInt32,
        limits: DeltaLimits
    ) -> Choice? {
        let newStreams = DeflateStreamScanner.scan(new)
        guard !newStreams.isEmpty else { return nil }
        let oldStreams = DeflateStreamScanner.scan(old)
        let oldBytes = StreamBytesSet(oldStreams.map { $0.bytes(in: old) })
        let newBytes = StreamBytesSet(newStreams.map { $0.bytes(in: new) })
        var chosen: [DeflateStreamScanner.Found] = []
        var chosenBytes = 0
        var output = 0
        var rebuilt: [UInt8] = []
        let outputLimit = outputLimit(dictionaryLimit: dictionaryLimit, limits: limits)
        for stream in newStreams {
            let bytes = stream.bytes(in: new)
            guard !oldBytes.contains(bytes) else { continue }
            let size = stream.puffedBytes
            guard chosenBytes + size <= Int(dictionaryLimit) / 2,
                output + stream.length <= outputLimit,
                chosen.count < limits.maxRecompressedStreams
            else { continue }
            rebuilt.removeAll(keepingCapacity: true)
            guard (try? stream.puffed(in: new).huff(into: &rebuilt)) != nil, rebuilt.elementsEqual(bytes) else {
                continue
            }
            chosen.append(stream)
            chosenBytes += size
            output += stream.length
        }
        guard !chosen.isEmpty else { return nil }
        var primed: [DeflateStreamScanner.Found] = []
        var primedBytes = 0
        for stream in oldStreams where !newBytes.contains(stream.bytes(in: old)) {
            let size = stream.puffedBytes
            guard primedBytes + size + chosenBytes <= Int(dictionaryLimit), primed.count < limits.maxRecompressedStreams
            else { continue }
            primed.append(stream)
            primedBytes += size
        }
        return Choice(chosen: chosen, primed: primed)
    }

    /// The block for `old` → `new` (`choose`), or nil when none qualifies or the block would
    /// not be smaller than the streams it rebuilds.
    static func make(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, dictionaryLimit: UInt32,
        limits: DeltaLimits, preset: UInt32, extreme: Bool
    ) throws(OTAError) -> RecompressedStreams? {
        guard let choice = choose(old: old, new: new, dictionaryLimit: dictionaryLimit, limits: limits) else {
            return nil
        }
        return try make(choice, old: old, new: new, dictionaryLimit: dictionaryLimit, preset: preset, extreme: extreme)
    }

    /// The block carrying `choice`'s streams, or nil when it would not be smaller than they
    /// are. Its encoder sees back only as far as a new stream's farthest reference
    /// (`StreamReferences`).
    static func make(
        _ choice: Choice, old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, dictionaryLimit: UInt32,
        preset: UInt32, extreme: Bool
    ) throws(OTAError) -> RecompressedStreams? {
        let primed = choice.primed
        let chosen = choice.chosen.map { ($0, $0.puffed(in: new)) }
        let primedBytes = primed.reduce(0) { $0 + $1.puffedBytes }
        let output = choice.chosen.reduce(0) { $0 + $1.length }
        var prime: [UInt8] = []
        prime.reserveCapacity(primedBytes)
        var references = StreamReferences()
        for stream in primed {
            let puffed = stream.puffed(in: old)
            puffed.append(to: &prime)
            references.add(data: puffed.data, size: puffed.byteCount, isNew: false)
        }
        for (_, puffed) in chosen { references.add(data: puffed.data, size: puffed.byteCount, isNew: true) }
        // The encoder sees back as far as the farthest stream a new one repeats (~10 bytes of
        // its memory a byte); the decoder's dictionary holds the old streams too.
        let window = UInt32(max(references.reach, 4096))
        let dictionary = InsertsCoding.dictionary(for: max(primedBytes, Int(window)), limit: dictionaryLimit)
        var block: [UInt8] = [version, UInt8(dictionary.trailingZeroBitCount)]
        Varint.append(UInt64(primed.count), to: &block)
        Varint.append(UInt64(chosen.count), to: &block)
        Varint.append(UInt64(output), to: &block)
        var end = 0
        for stream in primed {
            for value in [stream.offset - end, stream.length, stream.prefix, stream.suffix, stream.puffedBytes] {
                Varint.append(UInt64(value), to: &block)
            }
            end = stream.offset + stream.length
        }
        // The preset's binary trees (bt4), not hash chains: hc4 would take ~30 MiB less memory on
        // git-delta's streams for a 3.8% larger block, but on repetitive data (a test's text of
        // 12 words) its short chains miss the long matches into the old streams and the block
        // came out barely smaller than the streams (18,113 bytes for 18,536; bt4: ~5 KB).
        let settings = LZMA2Settings(
            preset: preset, extreme: extreme, dictionarySize: window, literalContextBits: 3, positionBits: 0)
        let encoder = try prime.withUnsafeBufferPointer { (history) throws(OTAError) in
            try LZMA2StreamEncoder(settings, presetDictionary: UnsafeRawBufferPointer(history))
        }
        prime = []
        var piece: [UInt8] = []
        for (stream, puffed) in chosen {
            piece.removeAll(keepingCapacity: true)
            for part in [puffed.headers, puffed.tokens, puffed.data] {
                try part.withUnsafeBufferPointer { (bytes) throws(OTAError) in
                    try encoder.update(UnsafeRawBufferPointer(bytes)) { piece += $0 }
                }
            }
            try encoder.flush { piece += $0 }
            for value in [puffed.headers.count, puffed.tokens.count, puffed.data.count, stream.length, piece.count] {
                Varint.append(UInt64(value), to: &block)
            }
            block += piece
        }
        guard block.count < output else { return nil }
        return RecompressedStreams(block: block, holes: choice.holes, window: Int(window))
    }
}

extension RecompressedStreams {
    /// The most bytes the block may rebuild: the decoder holds them beside the block's
    /// dictionary (at most `dictionaryLimit`) and then beside the frames' dictionaries (at most
    /// the inserts' `dictionaryLimit`, the operands' quarter of it and 1 MiB for each other
    /// stream), all within `limits.xzMemoryLimit`; and at most `limits.maxRecompressedBytes`.
    /// 9 MiB with the defaults (32 MiB against 16 + 4 + 3).
    static func outputLimit(dictionaryLimit: UInt32, limits: DeltaLimits) -> Int {
        let operands = DeltaPatchHeader.operandsDictionarySize(inserts: dictionaryLimit)
        let frames = UInt64(dictionaryLimit) + UInt64(operands) + 3 << 20
        let room = limits.xzMemoryLimit > frames ? limits.xzMemoryLimit - frames : 0
        return min(limits.maxRecompressedBytes, Int(room))
    }
}

extension PuffedStream {
    /// Bytes of the three parts together.
    var byteCount: Int { headers.count + tokens.count + data.count }

    /// Appends the three parts in block order: headers, tokens, data.
    func append(to bytes: inout [UInt8]) {
        bytes += headers
        bytes += tokens
        bytes += data
    }

    /// The stream's bytes again (`DeflateHuff`), appended to `output`.
    package func huff(into output: inout [UInt8]) throws(DeflateStreamError) {
        try headers.withUnsafeBufferPointer { (h) throws(DeflateStreamError) in
            try tokens.withUnsafeBufferPointer { (t) throws(DeflateStreamError) in
                try data.withUnsafeBufferPointer { (d) throws(DeflateStreamError) in
                    try DeflateHuff.huff(
                        headers: UnsafeRawBufferPointer(h), tokens: UnsafeRawBufferPointer(t),
                        data: UnsafeRawBufferPointer(d), into: &output)
                }
            }
        }
    }
}

/// Which byte strings a set of streams holds: an FNV-1a hash each, confirmed byte for byte.
private struct StreamBytesSet {
    private var byHash: [UInt64: [UnsafeBufferPointer<UInt8>]] = [:]

    init(_ streams: [UnsafeBufferPointer<UInt8>]) {
        for bytes in streams { byHash[Self.hash(bytes), default: []].append(bytes) }
    }

    func contains(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        byHash[Self.hash(bytes)]?.contains { $0.elementsEqual(bytes) } ?? false
    }

    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }
}
