import OTACore
import OTADelta

/// The delta patch decoder (`DeltaDecoder`, run on the caller's thread and pipelined, which must
/// agree) against a fixed old image. The first byte picks how the rest is read:
///
/// - 0: the rest is a whole patch, as it arrives in a bundle.
/// - 1: header fields come from the input but the header's check and the old image's hash
///      are made right, so the body parser (frames, LZMA2 pieces) is reached; the rest is the
///      body.
/// - 2: as 1, and the body is built here: the input gives each frame's four raw streams
///      (ops, runs, differences, inserts), and optionally a format-3 or -4 reference transform block,
///      which are LZMA2-compressed as the encoder does, so the op interpreter (ADDP prediction
///      included) is fuzzed, and optionally body compression 3 or 4 (inserted AArch64 or x86-64
///      code filtered), so the inserts filter's inverse runs on the INSERT bytes, or 5 (a fifth
///      raw stream per frame: the inserted x86-64 operands, joined back into the INSERTs), and
///      optionally the aligned-inserts bit (0x20: zero padding before each INSERT's bytes), and
///      optionally an inserts stream primed with old bytes (0x10; with 5, split: 0x40 too).
struct DeltaTarget: FuzzTarget {
    static let name = "delta"
    static let summary =
        "DeltaDecoder, sequential and pipelined: raw patches, fixed-up headers, and encoder-framed op streams"

    /// The old image every patch applies to (deterministic; `SeedMaker` diffs against it). Its
    /// pseudo-random stretches hold x86-64 and AArch64 reference-like bytes for ADDP to find; the
    /// start of each 4 KiB page holds AArch64 ADRP + ADD/LDR pairs whose targets lie in their own
    /// page, so format 4 finds paired sites wherever a transform declares AArch64 code there.
    /// It ends with a zlib stream (`oldStreamText`), which a recompressed-streams block (body
    /// compression bit 0x80) can name as an old stream for the decoder to puff.
    static let old: [UInt8] = {
        var image: [UInt8] = (0..<20_000).map { index in
            index % 4096 < 1024 ? 0 : UInt8(truncatingIfNeeded: (index &* 2_654_435_761) >> 13)
        }
        for page in 0..<5 {
            for pair in 0..<16 {
                let at = page * 4096 + 64 * pair
                let register = UInt32(pair % 8)
                let use: UInt32 =
                    pair % 2 == 0
                    ? 0x9100_0000 | UInt32(16 * pair) << 10 | register << 5 | register  // add xR, xR, #16·pair
                    : 0xF940_0000 | UInt32(pair) << 10 | register << 5 | 1  // ldr x1, [xR, #8·pair]
                // adrp xR, (this page); mov x9, x10; the use.
                for (k, word) in [0x9000_0000 | register, 0xAA0A_03E9, use].enumerated() {
                    for b in 0..<4 { image[at + 4 * k + b] = UInt8(truncatingIfNeeded: word >> (8 * UInt32(b))) }
                }
            }
        }
        return image + literalZlibStream(oldStreamText)
    }()

    static let oldStreamText = Array(String(repeating: "the running slot holds the old image; ", count: 50).utf8)

    /// A zlib stream of `text` as one fixed-Huffman block of literals, written by `DeflateHuff`.
    static func literalZlibStream(_ text: [UInt8]) -> [UInt8] {
        let adler = text.withUnsafeBufferPointer { Checksums.adler32($0) }
        let headers: [UInt8] =
            [2, 0x78, 0x01, 0x03, 0, 4] + (0..<4).map { UInt8(truncatingIfNeeded: adler >> (24 - 8 * $0)) }
        // The literal count (a two-byte varint), then 0: the end of the block.
        let tokens: [UInt8] = [UInt8(text.count & 0x7F) | 0x80, UInt8(text.count >> 7), 0]
        var stream: [UInt8] = []
        do throws(DeflateStreamError) {
            try PuffedStream(headers: headers, tokens: tokens, data: text).huff(into: &stream)
        } catch {
            preconditionFailure("a literal block of \(text.count) bytes: \(error.message)")
        }
        return stream
    }

    let oldHashes: [HashAlgorithm: [UInt8]]

    init() throws(OTAError) {
        oldHashes = [.sha256: try Hasher.hash(.sha256, Self.old).bytes, .sm3: try Hasher.hash(.sm3, Self.old).bytes]
    }

    func run(_ input: [UInt8]) {
        var reader = FuzzInput(input)
        let patch: [UInt8]
        switch reader.byte() % 3 {
        case 0: patch = reader.rest()
        case 1: patch = (try? header(&reader, body: nil)) ?? []
        default: patch = (try? framed(&reader)) ?? []
        }
        let sequential = Self.apply(patch, pipelined: false)
        if let error = sequential.error { FuzzTargets.explain(error) }
        // Differential: the pipelined decoder (ota-patch's) must hand out the same bytes and
        // fail with the same first error.
        let pipelined = Self.apply(patch, pipelined: true)
        guard pipelined.output == sequential.output, pipelined.error?.code == sequential.error?.code,
            pipelined.error?.message == sequential.error?.message
        else {
            fatalError(
                "pipelined decoder differs: \(String(describing: pipelined.error)) against \(String(describing: sequential.error))"
            )
        }
    }

    /// The bytes a decoder hands out for `patch` (fed in 4 KiB pieces, as a bundle's stream
    /// arrives), and its error.
    private static func apply(_ patch: [UInt8], pipelined: Bool) -> (output: [UInt8], error: OTAError?) {
        var output: [UInt8] = []
        let decoder = DeltaDecoder(
            source: MemoryDeltaSource(old), sourceCheck: .concurrent, threads: pipelined ? .pipelined : .sequential
        ) {
            (piece: UnsafeRawBufferPointer) throws(OTAError) in output.append(contentsOf: piece)
        }
        do throws(OTAError) {
            _ = try decoder.decodeAll(patch, pieceSize: 4096)
            return (output, nil)
        } catch {
            return (output, error)
        }
    }

    /// A header (108 bytes) with a valid check; fields from the input, the old image's size and
    /// hash right unless the input's flags say otherwise. With `body` nil the rest of the input
    /// is the body and its size comes from the input too.
    private func header(
        _ reader: inout FuzzInput, body: (bytes: [UInt8], rawSize: UInt64)?, version defaultVersion: UInt16 = 2,
        compression defaultCompression: UInt8 = 2
    )
        throws(OTAError) -> [UInt8]
    {
        let flags = reader.byte()
        var out = Array("OTADELTA".utf8)
        let version: UInt16 = flags & 1 != 0 ? reader.integer(UInt16.self) : defaultVersion
        out += [UInt8(truncatingIfNeeded: version), UInt8(truncatingIfNeeded: version >> 8)]
        let algorithmCode: UInt8 = flags & 2 != 0 ? reader.byte() : 1 + reader.byte() % 2
        out.append(algorithmCode)
        out.append(flags & 4 != 0 ? reader.byte() : defaultCompression)
        for _ in 0..<4 { out.append(flags & 8 != 0 ? reader.byte() : 12) }
        let oldSize: UInt64 = flags & 16 != 0 ? reader.integer(UInt64.self) : UInt64(Self.old.count)
        let newSize = UInt64(reader.integer(UInt16.self))
        let bodySize: UInt64 = body?.rawSize ?? UInt64(reader.integer(UInt32.self))
        for value in [oldSize, newSize, bodySize] {
            for index in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
        }
        let algorithm: HashAlgorithm = algorithmCode == 2 ? .sm3 : .sha256
        if flags & 32 != 0 {
            let named = reader.bytes(32)
            out += named + [UInt8](repeating: 0, count: 32 - named.count)
        } else {
            out += oldHashes[algorithm]!
        }
        let newHash = reader.bytes(32)
        out += newHash + [UInt8](repeating: 0, count: 32 - newHash.count)
        out += try Hasher.hash(.sha256, out).bytes.prefix(4)
        return out + (body?.bytes ?? reader.rest())
    }

    /// A header and a body of frames built from raw streams in the input: an options byte (bit 0:
    /// a reference transform block, its raw bytes from the input; bit 1 with it: format 4, AArch64
    /// ADRP pairs, else format 3; bit 2: body compression 3, inserted AArch64 code filtered, or 4,
    /// x86-64, with bit 3, or 5, x86-64 operands split out, with bits 3 and 4; bit 5: the
    /// aligned-inserts bit 0x20 on top; bit 6: the inserts primed with at most 4 KiB of old
    /// bytes from the input's offset, split with body compression 5), the frame count,
    /// 48 bytes for `header`, then per frame four raw streams, five with body compression 5
    /// (length byte, multiplier byte, bytes), each LZMA2-compressed as the encoder does.
    private func framed(_ reader: inout FuzzInput) throws(OTAError) -> [UInt8] {
        let options = reader.byte()
        let frames = 1 + Int(reader.byte() % 3)
        var headerInput = FuzzInput(reader.bytes(48))
        var body: [UInt8] = []
        if options & 1 != 0 {
            let raw = reader.bytes(Int(reader.integer(UInt16.self) % 4096))
            let packed = try Self.compress(
                raw, with: try LZMA2StreamEncoder(LZMA2Settings(preset: 0, dictionarySize: 4096)))
            body.append(12)
            Self.appendVarint(UInt64(raw.count), to: &body)
            Self.appendVarint(UInt64(packed.count), to: &body)
            body += packed
        }
        let compression: UInt8 = options & 4 == 0 ? 2 : options & 8 == 0 ? 3 : options & 16 == 0 ? 4 : 5
        let streams = compression == 5 ? 5 : 4
        var encoders: [LZMA2StreamEncoder] = []
        for _ in 0..<streams {
            encoders.append(try LZMA2StreamEncoder(LZMA2Settings(preset: 0, dictionarySize: 4096)))
        }
        var prime = DeltaPatchHeader.Prime.none
        if options & 64 != 0 {
            // Split or raw as the encoder decides it for this coding.
            prime = .primed(DeltaPatchHeader.BodyCoding(rawValue: compression)!)
            let start = Int(reader.integer(UInt16.self)) % Self.old.count
            let block = InsertsPrime(
                start: UInt64(start),
                length: UInt64(1 + Int(reader.integer(UInt16.self)) % min(4096, Self.old.count - start)))
            body += block.encoded()
            let settings = LZMA2Settings(preset: 0, dictionarySize: 4096)
            let inserts = PatchStream.inserts.rawValue
            if prime == .oldBytesSplit {
                let split = Self.old.withUnsafeBufferPointer { block.splitOldBytes($0) }
                defer { split.deallocate() }
                encoders[inserts] = try LZMA2StreamEncoder(settings, presetDictionary: split)
            } else {
                let raw = Array(Self.old[start..<(start + Int(block.length))])
                let encoder: Result<LZMA2StreamEncoder, OTAError> = raw.withUnsafeBytes { bytes in
                    do throws(OTAError) {
                        return .success(try LZMA2StreamEncoder(settings, presetDictionary: bytes))
                    } catch {
                        return .failure(error)
                    }
                }
                encoders[inserts] = try encoder.get()
            }
        }
        var rawTotal: UInt64 = 0
        for _ in 0..<frames {
            var raw: [[UInt8]] = []
            for _ in 0..<streams { raw.append(reader.bytes(Int(reader.byte()) * (reader.byte() % 4 == 0 ? 64 : 1))) }
            var packed: [[UInt8]] = []
            for (index, stream) in raw.enumerated() {
                packed.append(stream.isEmpty ? [] : try Self.compress(stream, with: encoders[index]))
            }
            for stream in raw { Self.appendVarint(UInt64(stream.count), to: &body) }
            for piece in packed { Self.appendVarint(UInt64(piece.count), to: &body) }
            for piece in packed { body += piece }
            rawTotal += raw.reduce(0) { $0 + UInt64($1.count) }
        }
        let version: UInt16 = options & 1 == 0 ? 2 : options & 2 == 0 ? 3 : 4
        return try header(
            &headerInput, body: (body, rawTotal), version: version,
            compression: compression | (options & 32 != 0 ? 0x20 : 0) | prime.compressionFlags)
    }

    /// `bytes` through `encoder`, sync-flushed: one piece, as the patch writer emits it.
    static func compress(_ bytes: [UInt8], with encoder: LZMA2StreamEncoder) throws(OTAError) -> [UInt8] {
        var piece: [UInt8] = []
        let outcome: Result<Void, OTAError> = bytes.withUnsafeBytes { raw in
            do throws(OTAError) {
                try encoder.update(raw) { piece += $0 }
                try encoder.flush { piece += $0 }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try outcome.get()
        return piece
    }

    /// LEB128, as docs/FORMAT.md specifies the patch's varints.
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
