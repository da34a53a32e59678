internal import CLZMA

/// Settings of a raw LZMA2 stream. Only `dictionarySize` must be known to the decoder (`lc`,
/// `lp`, `pb` travel inside the stream).
package struct LZMA2Settings: Sendable, Equatable {
    public var preset: UInt32
    public var extreme: Bool
    public var dictionarySize: UInt32
    public var literalContextBits: UInt32
    /// Literal position bits (`lp`); `literalContextBits + literalPositionBits` must be ≤ 4.
    public var literalPositionBits: UInt32 = 0
    public var positionBits: UInt32
    /// Match length at which the encoder stops looking for longer ones (nil: the preset's,
    /// 64 at preset 6-9); lower is faster and slightly larger.
    public var niceLength: UInt32?

    public init(
        preset: UInt32 = 6, extreme: Bool = false, dictionarySize: UInt32, literalContextBits: UInt32 = 3,
        positionBits: UInt32 = 2, niceLength: UInt32? = nil
    ) {
        self.niceLength = niceLength
        self.preset = preset
        self.extreme = extreme
        self.dictionarySize = dictionarySize
        self.literalContextBits = literalContextBits
        self.positionBits = positionBits
    }
}

/// A raw LZMA2 stream (no xz container) that can be flushed at any point: everything given
/// before `flush` can be decoded from what was emitted up to it, while the dictionary and the
/// probability model carry on. Lets one patch interleave several streams in bounded frames.
package final class LZMA2StreamEncoder {
    private let stream: LZMAStream

    /// - Parameter presetDictionary: bytes the stream's history starts with (their last
    ///   `dictionarySize` bytes): matches may reach into them. The decoder must hold the same
    ///   bytes first (`LZMA2StreamDecoder.preload`); the stream then starts with a chunk that
    ///   keeps the dictionary (only the coder state and properties are set).
    public init(_ settings: LZMA2Settings, presetDictionary: UnsafeRawBufferPointer? = nil) throws(OTAError) {
        guard settings.preset <= 9 else { throw OTAError(.xzPreset, "xz preset must be 0...9, got \(settings.preset)") }
        guard settings.dictionarySize >= 4096 && settings.dictionarySize <= 1536 << 20 else {
            throw OTAError(.xzDictionary, "LZMA2 dictionary must be 4 KiB...1.5 GiB, got \(settings.dictionarySize)")
        }
        guard settings.literalContextBits + settings.literalPositionBits <= 4, settings.positionBits <= 4 else {
            throw OTAError(.xzSettings, "LZMA2 lc + lp and pb must be 0...4")
        }
        var options = lzma_options_lzma()
        guard lzma_lzma_preset(&options, settings.preset | (settings.extreme ? CLZMA_PRESET_EXTREME : 0)) == 0 else {
            throw OTAError(.xzPreset, "liblzma rejected preset \(settings.preset)")
        }
        options.dict_size = settings.dictionarySize
        options.lc = settings.literalContextBits
        options.lp = settings.literalPositionBits
        options.pb = settings.positionBits
        if let nice = settings.niceLength {
            guard (2...273).contains(nice) else { throw OTAError(.xzSettings, "LZMA2 nice length must be 2...273") }
            options.nice_len = nice
        }
        if let presetDictionary, !presetDictionary.isEmpty {
            // liblzma copies the last dict_size bytes during set-up.
            let used = min(presetDictionary.count, Int(settings.dictionarySize))
            options.preset_dict = presetDictionary.baseAddress!.advanced(by: presetDictionary.count - used)
                .assumingMemoryBound(to: UInt8.self)
            options.preset_dict_size = UInt32(used)
        }
        stream = try LZMAStream(what: "cannot start the LZMA2 encoder") { stream in
            XZ.withLZMA2Filters(&options) { filters in lzma_raw_encoder(&stream, filters) }
        }
    }

    /// Compresses `input`; output may lag until `flush`.
    public func update(_ input: UnsafeRawBufferPointer, emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        try run(input, action: LZMA_RUN, emit: emit)
    }

    /// Emits everything needed to decode all input so far (`LZMA_SYNC_FLUSH`).
    public func flush(emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), action: LZMA_SYNC_FLUSH, emit: emit)
    }

    private func run(
        _ raw: UnsafeRawBufferPointer, action: lzma_action, emit: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) {
        let what = action == LZMA_SYNC_FLUSH ? "LZMA2 flush failed" : "LZMA2 compression failed"
        try stream.code(raw, action: action, failure: { XZ.error($0, what) }, emit: emit)
    }
}

/// Decodes pieces of a raw LZMA2 stream written by `LZMA2StreamEncoder`, each to an exact,
/// declared number of bytes: a piece that decodes to more (a bomb) or less is refused.
package final class LZMA2StreamDecoder {
    private let stream: LZMAStream
    public let dictionarySize: UInt32
    /// A stored chunk has put history in the dictionary (`preload`).
    private var preloaded = false

    /// - Parameter dictionarySize: the encoder's dictionary; the decoder allocates about this much.
    public init(dictionarySize: UInt32) throws(OTAError) {
        guard dictionarySize >= 4096 && dictionarySize <= 1536 << 20 else {
            throw OTAError(.xzOptions, "LZMA2 dictionary must be 4 KiB...1.5 GiB, got \(dictionarySize)")
        }
        self.dictionarySize = dictionarySize
        var options = lzma_options_lzma()
        options.dict_size = dictionarySize
        stream = try LZMAStream(pieceSize: 0, what: "cannot start the LZMA2 decoder") { stream in
            XZ.withLZMA2Filters(&options) { filters in lzma_raw_decoder(&stream, filters) }
        }
    }

    /// Largest stored (uncompressed) LZMA2 chunk.
    public static let maxStoredChunk = 1 << 16

    /// Puts `bytes` in the dictionary as history before the stream's first piece, as the
    /// encoder's preset dictionary: decodes them as stored LZMA2 chunks of at most
    /// `maxStoredChunk` bytes (the stream's first chunk resetting the dictionary) and drops the
    /// output into `scratch`. Call only before any piece; later calls continue the history.
    public func preload(_ bytes: UnsafeRawBufferPointer, scratch: inout [UInt8]) throws(OTAError) {
        var chunk: [UInt8] = []
        chunk.reserveCapacity(Self.maxStoredChunk + 3)
        var done = 0
        while done < bytes.count {
            let count = min(bytes.count - done, Self.maxStoredChunk)
            chunk.removeAll(keepingCapacity: true)
            // Control 1: stored, dictionary reset; 2: stored; then size - 1, big-endian.
            chunk += [preloaded ? 2 : 1, UInt8((count - 1) >> 8), UInt8((count - 1) & 0xFF)]
            chunk += UnsafeRawBufferPointer(rebasing: bytes[done..<(done + count)])
            try decode(chunk, count: count, into: &scratch)
            preloaded = true
            done += count
        }
    }

    /// Decodes all of `piece` into `output` (replacing its contents), which must come to exactly
    /// `count` bytes: `xz.output-limit` if the piece holds more, `xz.truncated` if less.
    public func decode(_ piece: [UInt8], count: Int, into output: inout [UInt8]) throws(OTAError) {
        guard count > 0 || !piece.isEmpty else {
            output.removeAll(keepingCapacity: true)
            return
        }
        // One spare byte: output filling it proves the piece holds more than declared. The
        // buffer is resized in place (no new allocation or clearing when it is already large).
        if output.count > count + 1 {
            output.removeLast(output.count - count - 1)
        } else if output.count < count + 1 {
            output.append(contentsOf: repeatElement(0, count: count + 1 - output.count))
        }
        let stream = self.stream
        let (rc, produced, left) = piece.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in stream.step(input, into: out, action: LZMA_RUN) }
        }
        output.removeLast(output.count - min(produced, output.count))
        if rc == LZMA_STREAM_END {
            throw OTAError(.xzCorrupt, "LZMA2 stream ends inside the patch (end marker in a piece)")
        }
        guard rc == LZMA_OK || rc == LZMA_BUF_ERROR else { throw XZ.error(rc, "LZMA2 data is corrupt") }
        guard produced <= count else {
            throw OTAError(.xzOutputLimit, "LZMA2 piece decodes to more than the \(count) bytes declared")
        }
        guard produced == count else {
            throw OTAError(.xzTruncated, "LZMA2 piece decodes to \(produced) bytes, \(count) declared")
        }
        guard left == 0 else {
            throw OTAError(.xzTrailingData, "LZMA2 piece holds \(left) bytes past its declared output")
        }
    }
}
