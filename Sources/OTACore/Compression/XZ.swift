internal import CLZMA
package import OTABase

/// Streaming xz compression through liblzma, single- or multi-threaded.
///
/// Output comes out in pieces of at most `XZ.pieceSize` bytes through the `emit` closure, so
/// memory stays flat whatever the input size.
package final class XZEncoder {
    private let stream: LZMAStream
    private var finished = false

    /// - Parameters:
    ///   - preset: 0 (fast) to 9 (small); `extreme` adds `LZMA_PRESET_EXTREME`.
    ///   - threads: 1 for the single-threaded encoder, more for `lzma_stream_encoder_mt`.
    public init(preset: UInt32 = 6, extreme: Bool = false, threads: Int = 1) throws(OTAError) {
        guard preset <= 9 else { throw OTAError(.xzPreset, "xz preset must be 0...9, got \(preset)") }
        let fullPreset = preset | (extreme ? CLZMA_PRESET_EXTREME : 0)
        stream = try LZMAStream(what: "cannot start the xz encoder") { stream in
            guard threads > 1 else { return lzma_easy_encoder(&stream, fullPreset, LZMA_CHECK_CRC64) }
            var options = lzma_mt()
            options.threads = UInt32(threads)
            options.preset = fullPreset
            options.check = LZMA_CHECK_CRC64
            return lzma_stream_encoder_mt(&stream, &options)
        }
    }

    /// Single-threaded xz with LZMA2 at `preset` but a chosen dictionary size
    /// (`lzma_lzma_preset` then `lzma_stream_encoder`): the dictionary sets the decoder's memory,
    /// so a stream meant for a vehicle uses one sized for the vehicle's budget.
    ///
    /// - Parameters:
    ///   - dictionarySize: 4 KiB to 1.5 GiB; the decoder needs about this much memory.
    ///   - literalContextBits: LZMA2 `lc` (0...4); `nil` keeps the preset's value (3).
    ///   - positionBits: LZMA2 `pb` (0...4); `nil` keeps the preset's value (2).
    public init(
        preset: UInt32, extreme: Bool = false, dictionarySize: UInt32, literalContextBits: UInt32? = nil,
        positionBits: UInt32? = nil
    ) throws(OTAError) {
        guard preset <= 9 else { throw OTAError(.xzPreset, "xz preset must be 0...9, got \(preset)") }
        guard dictionarySize >= 4096 && dictionarySize <= 1536 << 20 else {
            throw OTAError(.xzDictionary, "xz dictionary must be 4 KiB...1.5 GiB, got \(dictionarySize)")
        }
        var options = lzma_options_lzma()
        guard lzma_lzma_preset(&options, preset | (extreme ? CLZMA_PRESET_EXTREME : 0)) == 0 else {
            throw OTAError(.xzPreset, "liblzma rejected preset \(preset)")
        }
        options.dict_size = dictionarySize
        if let literalContextBits {
            guard literalContextBits <= 4 else { throw OTAError(.xzSettings, "lc must be 0...4") }
            options.lc = literalContextBits
        }
        if let positionBits {
            guard positionBits <= 4 else { throw OTAError(.xzSettings, "pb must be 0...4") }
            options.pb = positionBits
        }
        stream = try LZMAStream(what: "cannot start the xz encoder") { stream in
            XZ.withLZMA2Filters(&options) { filters in lzma_stream_encoder(&stream, filters, LZMA_CHECK_CRC64) }
        }
    }

    /// Compresses `input`, passing any finished output to `emit`.
    public func update(_ input: some ByteStorage, emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        try run(input, action: LZMA_RUN, emit: emit)
    }

    /// Flushes the stream end; the encoder cannot be used afterwards.
    public func finish(emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        guard !finished else { return }
        try run([UInt8](), action: LZMA_FINISH, emit: emit)
        finished = true
    }

    private func run(_ input: some ByteStorage, action: lzma_action, emit: ([UInt8]) throws(OTAError) -> Void)
        throws(OTAError)
    {
        try input.withBytes { (raw: UnsafeRawBufferPointer) throws(OTAError) in
            _ = try stream.code(raw, action: action, failure: { XZ.error($0, "xz compression failed") }, emit: emit)
        }
    }

    /// Compresses a whole buffer (small data: manifests, tests).
    public static func compress(_ input: [UInt8], preset: UInt32 = 6) throws(OTAError) -> [UInt8] {
        let encoder = try XZEncoder(preset: preset)
        var out: [UInt8] = []
        try encoder.update(input) { out += $0 }
        try encoder.finish { out += $0 }
        return out
    }
}

/// Streaming xz decompression with a decoder memory limit and an output limit, so a malicious
/// stream (an xz bomb, a huge dictionary) is refused instead of exhausting the vehicle.
package final class XZDecoder {
    private let stream: LZMAStream
    private let outputLimit: UInt64
    public private(set) var totalOut: UInt64 = 0
    public private(set) var isFinished = false

    /// - Parameters:
    ///   - memoryLimit: the most memory liblzma may use (sets the largest dictionary accepted).
    ///   - outputLimit: the most bytes the stream may decompress to (signed metadata bounds it).
    ///   - threads: more than 1 decodes independent xz blocks (as the multi-threaded encoder
    ///     writes them) on that many threads (`lzma_stream_decoder_mt`); liblzma drops to fewer
    ///     threads, down to one, to stay within `memoryLimit`, which is never exceeded.
    public init(memoryLimit: UInt64 = 128 << 20, outputLimit: UInt64, threads: Int = 1) throws(OTAError) {
        self.outputLimit = outputLimit
        stream = try LZMAStream(what: "cannot start the xz decoder") { stream in
            guard threads > 1 else { return lzma_stream_decoder(&stream, memoryLimit, 0) }
            var options = lzma_mt()
            options.threads = UInt32(min(threads, 16))
            options.memlimit_threading = memoryLimit
            options.memlimit_stop = memoryLimit
            return lzma_stream_decoder_mt(&stream, &options)
        }
    }

    /// Decompresses `input`, passing output to `emit` in pieces. Input after the end of the xz
    /// stream is an error (`xz.trailing-data`).
    public func update(_ input: some ByteStorage, emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        try run(input, action: LZMA_RUN, emit: emit)
    }

    /// Confirms the stream ended properly (`xz.truncated` otherwise).
    public func finish(emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        if !isFinished { try run([UInt8](), action: LZMA_FINISH, emit: emit) }
        guard isFinished else { throw OTAError(.xzTruncated, "xz stream ended early") }
    }

    private func run(_ input: some ByteStorage, action: lzma_action, emit: ([UInt8]) throws(OTAError) -> Void)
        throws(OTAError)
    {
        try input.withBytes { (raw: UnsafeRawBufferPointer) throws(OTAError) in
            if isFinished {
                if raw.count > 0 { throw OTAError(.xzTrailingData, "data after the end of the xz stream") }
                return
            }
            let outcome = try stream.code(
                raw, action: action,
                failure: { rc in
                    rc == LZMA_BUF_ERROR && action == LZMA_FINISH
                        ? OTAError(.xzTruncated, "xz stream ended early") : XZ.error(rc, "xz data is corrupt")
                },
                emit: { (piece: [UInt8]) throws(OTAError) in
                    totalOut += UInt64(piece.count)
                    guard totalOut <= outputLimit else {
                        throw OTAError(
                            .xzOutputLimit, "xz stream decompresses to more than the \(outputLimit) bytes allowed")
                    }
                    try emit(piece)
                })
            if outcome.ended {
                isFinished = true
                if outcome.inputLeft > 0 { throw OTAError(.xzTrailingData, "data after the end of the xz stream") }
            }
        }
    }

    /// Decompresses a whole buffer, refusing more than `outputLimit` bytes.
    public static func decompress(
        _ input: [UInt8], outputLimit: UInt64, memoryLimit: UInt64 = 128 << 20, threads: Int = 1
    ) throws(OTAError) -> [UInt8] {
        let decoder = try XZDecoder(memoryLimit: memoryLimit, outputLimit: outputLimit, threads: threads)
        var out: [UInt8] = []
        try decoder.update(input) { out += $0 }
        try decoder.finish { out += $0 }
        return out
    }
}
