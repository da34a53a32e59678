import Dispatch
import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Hostile patches: each attack is refused with its own stable error code, never a crash, an
/// out-of-range access or an unbounded allocation.
@Suite struct AdversarialPatchTests {
    static let old = RoundTripTests.texty(50_000, seed: 1)
    static let new: [UInt8] = {
        var new = old
        new.replaceSubrange(1000..<1010, with: Array("CHANGED".utf8))
        new += RoundTripTests.random(3000, seed: 2)
        return new
    }()
    static let patch: [UInt8] = try! Delta.diff(old: old, new: new)

    /// The four raw streams of one frame, in `PatchStream` order.
    struct Streams {
        var control: [UInt8] = []
        var runs: [UInt8] = []
        var differences: [UInt8] = []
        var inserts: [UInt8] = []
        var all: [[UInt8]] { [control, runs, differences, inserts] }
    }

    static let dictionaries: [UInt32] = [1 << 20, 1 << 20, 1 << 20, 1 << 20]

    /// One frame around hand-written streams: the frame header (raw sizes, or `rawSizes` to lie
    /// about them, then packed sizes) and each stream compressed with a fresh LZMA2 encoder.
    static func frame(_ streams: Streams, rawSizes: [UInt64]? = nil, dictionaries: [UInt32] = dictionaries) throws
        -> [UInt8]
    {
        var pieces: [[UInt8]] = []
        for (index, bytes) in streams.all.enumerated() {
            var piece: [UInt8] = []
            if !bytes.isEmpty {
                let encoder = try LZMA2StreamEncoder(LZMA2Settings(dictionarySize: dictionaries[index]))
                try bytes.withUnsafeBytes { raw in try encoder.update(raw) { piece += $0 } }
                try encoder.flush { piece += $0 }
            }
            pieces.append(piece)
        }
        var out: [UInt8] = []
        for size in rawSizes ?? streams.all.map({ UInt64($0.count) }) { out += varint(size) }
        for piece in pieces { out += varint(UInt64(piece.count)) }
        return out + pieces.joined()
    }

    /// A patch with a valid header for `old` around the given frames (default: one frame of
    /// `streams`); `bodySize` defaults to the streams' total.
    static func craft(
        _ streams: Streams = Streams(), frames: [[UInt8]]? = nil, newSize: UInt64 = 100, newHash: [UInt8]? = nil,
        bodySize: UInt64? = nil, dictionaries: [UInt32] = dictionaries, trailing: [UInt8] = []
    ) throws -> [UInt8] {
        let header = DeltaPatchHeader(
            hashAlgorithm: .sha256, oldSize: UInt64(old.count), newSize: newSize,
            bodySize: bodySize ?? UInt64(streams.all.reduce(0) { $0 + $1.count }), dictionarySizes: dictionaries,
            oldHash: try Hasher.hash(.sha256, old),
            newHash: Digest(algorithm: .sha256, bytes: newHash ?? [UInt8](repeating: 0, count: 32)))
        let body = try frames ?? [frame(streams, dictionaries: dictionaries)]
        return try header.encoded() + body.joined() + trailing
    }

    /// The encoded header of a hand-built patch rebuilding `new` from `old` (SHA-256 of both) whose
    /// frames hold `bodySize` stream bytes in all.
    static func header(old: [UInt8], new: [UInt8], bodySize: UInt64, dictionaries: [UInt32] = dictionaries) throws
        -> [UInt8]
    {
        try DeltaPatchHeader(
            hashAlgorithm: .sha256, oldSize: UInt64(old.count), newSize: UInt64(new.count), bodySize: bodySize,
            dictionarySizes: dictionaries, oldHash: try Hasher.hash(.sha256, old),
            newHash: try Hasher.hash(.sha256, new)
        ).encoded()
    }

    /// The streams of a one-frame patch, decoded (to mutate them).
    static func streams(of patch: [UInt8]) throws -> Streams {
        let header = try DeltaPatchHeader.decode(patch)
        var offset = DeltaPatchHeader.byteCount
        var values: [UInt64] = []
        while values.count < 8 {
            guard
                case .value(let value, let next) = try patch.withUnsafeBufferPointer({ try Varint.read($0, at: offset) }
                )
            else { break }
            values.append(value)
            offset = next
        }
        var decoded: [[UInt8]] = []
        for index in 0..<4 {
            let packed = Int(values[4 + index])
            var out: [UInt8] = []
            if packed > 0 {
                try LZMA2StreamDecoder(dictionarySize: header.dictionarySizes[index])
                    .decode(Array(patch[offset..<(offset + packed)]), count: Int(values[index]), into: &out)
            }
            decoded.append(out)
            offset += packed
        }
        #expect(offset == patch.count, "the test patch must be one frame")
        return Streams(control: decoded[0], runs: decoded[1], differences: decoded[2], inserts: decoded[3])
    }

    /// Frames of a patch without a transform block or prime block, of `streams` streams each
    /// (each header's packed sizes skipped over).
    static func frameCount(of patch: [UInt8], streams: Int = 4) throws -> Int {
        var offset = DeltaPatchHeader.byteCount
        var frames = 0
        while offset < patch.count {
            var values: [UInt64] = []
            while values.count < 2 * streams {
                guard
                    case .value(let value, let next) = try patch.withUnsafeBufferPointer({
                        try Varint.read($0, at: offset)
                    })
                else { return frames }
                values.append(value)
                offset = next
            }
            offset += Int(values[streams...].reduce(0, +))
            frames += 1
        }
        return frames
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        Varint.append(value, to: &out)
        return out
    }

    /// The error code applying `patch` gives (nil: it applies), checking on the way that the
    /// pipelined decoder, and the one that starts no thread (both hashes on the caller's thread)
    /// handed the header as `Delta.applyPatch` does for small images, hand out the same bytes and
    /// fail with the same error as the sequential one fed the whole patch.
    static func code(_ patch: [UInt8], old: [UInt8] = old, limits: DeltaLimits = DeltaLimits()) -> String? {
        let sequential = outcome(patch, old: old, threads: .sequential, limits: limits)
        let pipelined = outcome(patch, old: old, threads: .pipelined, limits: limits)
        let oneThread = outcome(patch, old: old, threads: .callerOnly, handsHeader: true, limits: limits)
        #expect(
            pipelined == sequential, "pipelined: \(pipelined.error ?? "applied"), not \(sequential.error ?? "applied")")
        #expect(
            oneThread == sequential, "one thread: \(oneThread.error ?? "applied"), not \(sequential.error ?? "applied")"
        )
        return sequential.code
    }

    /// What a decoder handed out, and its error (code and message) if it failed.
    struct Outcome: Equatable {
        var output: [UInt8]
        var error: String?
        var code: String?
    }

    /// Crafts the patch of `streams` for the new image `expected` and checks that the sequential
    /// and the pipelined decoder both rebuild it without an error; returns its hash.
    static func expectBothDecoders(_ streams: Streams, rebuild expected: [UInt8]) throws -> [UInt8] {
        let newHash = try Hasher.hash(.sha256, expected).bytes
        let patch = try craft(streams, newSize: UInt64(expected.count), newHash: newHash)
        let sequential = outcome(patch, old: old, threads: .sequential)
        let pipelined = outcome(patch, old: old, threads: .pipelined)
        let oneThread = outcome(patch, old: old, threads: .callerOnly, handsHeader: true)
        #expect(sequential.error == nil)
        #expect(pipelined.error == nil)
        #expect(oneThread.error == nil)
        // (Compared outside #expect: a failure would diff large arrays element by element.)
        let same = pipelined.output == expected && sequential.output == expected && oneThread.output == expected
        #expect(same)
        return newHash
    }

    /// Applies `patch` to `old` in memory (or read through `source`) with a decoder of `threads`,
    /// fed in pieces of 4,096 bytes; with `handsHeader`, as `Delta.applyPatch` does, the header is
    /// decoded here and handed to the decoder (`begin(with:)`), which is fed the rest.
    static func outcome(
        _ patch: [UInt8], old: [UInt8], source: (any DeltaSource)? = nil, threads: DeltaDecoder.Threads,
        handsHeader: Bool = false, limits: DeltaLimits = DeltaLimits()
    ) -> Outcome {
        var output: [UInt8] = []
        let decoder = DeltaDecoder(
            source: source ?? MemoryDeltaSource(old), limits: limits, sourceCheck: .concurrent, threads: threads
        ) {
            (piece: UnsafeRawBufferPointer) throws(OTAError) in output.append(contentsOf: piece)
        }
        do throws(OTAError) {
            var start = 0
            if handsHeader, patch.count >= DeltaPatchHeader.byteCount {
                try decoder.begin(with: try DeltaPatchHeader.decode(Array(patch[0..<DeltaPatchHeader.byteCount])))
                start = DeltaPatchHeader.byteCount
            }
            _ = try decoder.decodeAll(patch, from: start, pieceSize: 4096)
            return Outcome(output: output, error: nil, code: nil)
        } catch {
            return Outcome(output: output, error: "\(error.code.rawValue): \(error.message)", code: error.code.rawValue)
        }
    }

    /// Re-encodes a header after editing it, fixing its check so the edit itself is what is tested.
    static func resealed(_ patch: [UInt8], edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        var bytes = patch
        var head = Array(bytes[0..<104])
        edit(&head)
        head += try DeltaPatchHeader.check(head)
        bytes.replaceSubrange(0..<108, with: head)
        return bytes
    }

    @Test func `the valid patch applies`() throws {
        #expect(try Delta.apply(old: Self.old, patch: Self.patch) == Self.new)
    }

    @Test func `a truncated patch is refused`() {
        for cut in [0, 7, 50, 107, 108, 120, Self.patch.count / 2, Self.patch.count - 1] {
            #expect(Self.code(Array(Self.patch.prefix(cut))) == "delta.truncated", "cut at \(cut)")
        }
    }

    @Test func `header damage has its own codes`() throws {
        var magic = Self.patch
        magic[0] ^= 1
        #expect(Self.code(magic) == "delta.not-a-patch")
        let version = try Self.resealed(Self.patch) { $0[8] = 1 }
        #expect(Self.code(version) == "delta.version")
        var flipped = Self.patch
        flipped[50] ^= 0x10
        #expect(Self.code(flipped) == "delta.header-corrupt")
        let algorithm = try Self.resealed(Self.patch) { $0[10] = 9 }
        #expect(Self.code(algorithm) == "delta.header-invalid")
        let body = try Self.resealed(Self.patch) {
            $0.replaceSubrange(32..<40, with: [UInt8](repeating: 0xff, count: 8))
        }
        #expect(Self.code(body) == "delta.header-invalid")
    }

    @Test func `a bit flip in the body is refused`() {
        for position in stride(from: 120, to: Self.patch.count - 1, by: max(1, Self.patch.count / 40)) {
            var damaged = Self.patch
            damaged[position] ^= 0x04
            let code = Self.code(damaged)
            #expect(code?.hasPrefix("delta.") == true, "flip at \(position): \(code ?? "accepted")")
        }
    }

    @Test func `the wrong source image is refused`() {
        var other = Self.old
        other[49_999] ^= 1
        #expect(Self.code(Self.patch, old: other) == "delta.source-mismatch")
        #expect(Self.code(Self.patch, old: Array(Self.old.dropLast())) == "delta.source-mismatch")
    }

    /// The old image is hashed beside the decoding (`Delta.apply`, `applyPatch`): its mismatch
    /// is still the error reported, over whatever else the patch or the wrong bytes made fail.
    @Test func `a wrong source image is reported as such over any later error`() throws {
        var other = Self.old
        other[0] ^= 1
        // Every check that runs after the header: truncation, a body flip, trailing data, a
        // wrong new hash, ops that do not fill the image.
        var damaged = Self.patch
        damaged[Self.patch.count / 2] ^= 0x04
        let wrongResult = try Self.craft(
            Streams(control: [Self.insert] + Self.varint(3), inserts: [1, 2, 3]), newSize: 3)
        let short = try Self.craft(Streams(control: [Self.insert] + Self.varint(3), inserts: [1, 2, 3]), newSize: 4)
        let patches: [(String, [UInt8])] = [
            ("valid", Self.patch), ("truncated", Array(Self.patch.dropLast(3))), ("flipped", damaged),
            ("trailing", Self.patch + [0]), ("wrong new hash", wrongResult), ("short output", short),
        ]
        for (label, patch) in patches {
            #expect(Self.code(patch, old: other) == "delta.source-mismatch", "\(label)")
            #expect(Self.code(patch) != "delta.source-mismatch", "\(label): the right old image")
        }
    }

    /// With `.beforeOutput` (the installer's slot writes) the whole old image is checked before
    /// the decoder hands out its first byte.
    @Test func `a before-output source check hands out nothing for a wrong source image`() throws {
        var other = Self.old
        other[25_000] ^= 1
        for check in [DeltaDecoder.SourceCheck.beforeOutput, .concurrent] {
            var handedOut = 0
            let decoder = DeltaDecoder(source: MemoryDeltaSource(other), sourceCheck: check) {
                (bytes: [UInt8]) throws(OTAError) in handedOut += bytes.count
            }
            var code: String?
            do {
                try decoder.update(Self.patch)
                _ = try decoder.finish()
            } catch {
                code = error.code.rawValue
            }
            #expect(code == "delta.source-mismatch", "\(check)")
            if check == .beforeOutput { #expect(handedOut == 0) }
        }
    }

    static let copy = DeltaOperation.copyCode
    static let add = DeltaOperation.addCode
    static let insert = DeltaOperation.insertCode

    /// An ADD run token: `zeros` unchanged bytes then `literals` difference bytes.
    static func run(zeros: UInt64, literals: UInt64) -> [UInt8] {
        varint(zeros << 3 | min(literals, 7)) + (literals >= 7 ? varint(literals - 7) : [])
    }

    @Test func `copies outside the old image are refused`() throws {
        // Length past the end of old.
        let long = Streams(control: [Self.copy] + Self.varint(0) + Self.varint(60_000))
        #expect(Self.code(try Self.craft(long, newSize: 60_000)) == "delta.out-of-range")
        // Negative start.
        let negative = Streams(
            control: [Self.add] + Self.varint(Varint.zigzag(-5)) + Self.varint(10),
            runs: Self.run(zeros: 0, literals: 10), differences: [UInt8](repeating: 0, count: 10))
        #expect(Self.code(try Self.craft(negative)) == "delta.out-of-range")
        // Overflowing start after a copy moved the cursor.
        let overflow = Streams(
            control: [Self.copy] + Self.varint(0) + Self.varint(10) + [Self.copy]
                + Self.varint(Varint.zigzag(Int64.max)) + Self.varint(10))
        #expect(Self.code(try Self.craft(overflow)) == "delta.out-of-range")
        // A start inside old whose end is past it.
        let straddle = Streams(control: [Self.copy] + Self.varint(Varint.zigzag(49_990)) + Self.varint(20))
        #expect(Self.code(try Self.craft(straddle)) == "delta.out-of-range")
    }

    @Test func `ops that write past the declared size are refused`() throws {
        let insert = Streams(control: [Self.insert] + Self.varint(101), inserts: [UInt8](repeating: 1, count: 101))
        #expect(Self.code(try Self.craft(insert, newSize: 100)) == "delta.output-overflow")
        let copies = Streams(
            control: [Self.copy] + Self.varint(0) + Self.varint(60) + [Self.copy] + Self.varint(0) + Self.varint(60))
        #expect(Self.code(try Self.craft(copies, newSize: 100)) == "delta.output-overflow")
        let huge = Streams(control: [Self.insert] + Self.varint(UInt64.max))
        #expect(Self.code(try Self.craft(huge, newSize: 100)) == "delta.output-overflow")
    }

    @Test func `malformed ops are refused`() throws {
        #expect(Self.code(try Self.craft(Streams(control: [9, 1, 1]))) == "delta.unknown-op")
        #expect(Self.code(try Self.craft(Streams(control: [0]))) == "delta.unknown-op")
        let zero = Streams(control: [Self.insert] + Self.varint(0))
        #expect(Self.code(try Self.craft(zero)) == "delta.malformed")
        let longVarint = Streams(control: [Self.insert] + [UInt8](repeating: 0xff, count: 11) + [1])
        #expect(Self.code(try Self.craft(longVarint)) == "delta.malformed")
        // An op header cut at the end of its frame.
        let cutHeader = Streams(control: [Self.copy] + Self.varint(0))
        #expect(Self.code(try Self.craft(cutHeader)) == "delta.malformed")
        // An INSERT whose bytes are not all in its frame.
        let cut = Streams(control: [Self.insert] + Self.varint(50), inserts: [UInt8](repeating: 1, count: 20))
        #expect(Self.code(try Self.craft(cut, newSize: 50)) == "delta.malformed")
        // Bytes in a stream that no op uses.
        let leftover = Streams(
            control: [Self.copy] + Self.varint(0) + Self.varint(100), inserts: [1, 2, 3])
        #expect(Self.code(try Self.craft(leftover)) == "delta.malformed")
    }

    @Test func `ADD payload runs must fit their op`() throws {
        let add = [Self.add] + Self.varint(0) + Self.varint(10)
        // 8 zeros + 5 literals > 10.
        #expect(
            Self.code(
                try Self.craft(
                    Streams(control: add, runs: Self.run(zeros: 8, literals: 5), differences: [1, 2, 3, 4, 5])))
                == "delta.malformed")
        // An empty run would never advance.
        #expect(
            Self.code(try Self.craft(Streams(control: add, runs: Self.run(zeros: 0, literals: 0)))) == "delta.malformed"
        )
        // Zero count past the op.
        #expect(
            Self.code(try Self.craft(Streams(control: add, runs: Self.varint(UInt64.max - 7)))) == "delta.malformed")
        // Literal count past the op.
        #expect(
            Self.code(try Self.craft(Streams(control: add, runs: Self.varint(7) + Self.varint(UInt64.max))))
                == "delta.malformed")
        // Runs missing, and literals missing from the frame.
        #expect(Self.code(try Self.craft(Streams(control: add))) == "delta.malformed")
        #expect(
            Self.code(
                try Self.craft(Streams(control: add, runs: Self.run(zeros: 2, literals: 8), differences: [1, 2])))
                == "delta.malformed")
    }

    @Test func `the longest legal op for one byte is accepted`() throws {
        // Non-minimal 10-byte varints are legal: ADD at delta 0, length 1, a 1-literal run.
        let zero: [UInt8] = [UInt8](repeating: 0x80, count: 9) + [0]
        let one: [UInt8] = [0x81] + [UInt8](repeating: 0x80, count: 8) + [0]
        let streams = Streams(control: [Self.add] + zero + one, runs: Self.run(zeros: 0, literals: 1), differences: [5])
        #expect(streams.all.reduce(0) { $0 + $1.count } <= 24)
        let expected = [Self.old[0] &+ 5]
        let patch = try Self.craft(streams, newSize: 1, newHash: try Hasher.hash(.sha256, expected).bytes)
        #expect(try Delta.apply(old: Self.old, patch: patch) == expected)
    }

    @Test func `a patch that builds too little or the wrong image is refused`() throws {
        let short = Streams(control: [Self.copy] + Self.varint(0) + Self.varint(50))
        #expect(Self.code(try Self.craft(short, newSize: 100)) == "delta.short-output")
        let wrong = Streams(control: [Self.copy] + Self.varint(0) + Self.varint(100))
        #expect(Self.code(try Self.craft(wrong, newSize: 100)) == "delta.result-mismatch")
        let right = try Self.craft(
            wrong, newSize: 100, newHash: try Hasher.hash(.sha256, Array(Self.old.prefix(100))).bytes)
        #expect(try Delta.apply(old: Self.old, patch: right) == Array(Self.old.prefix(100)))
    }

    @Test func `frames are bounds-checked`() throws {
        let ops = Streams(control: [Self.copy] + Self.varint(0) + Self.varint(100))
        let piece = Array(try Self.frame(ops).dropFirst(8))
        func frame(raw: [UInt64], packed: [UInt64]) -> [UInt8] {
            (raw + packed).flatMap { Self.varint($0) } + piece
        }
        let size = UInt64(ops.control.count)
        let packed = UInt64(piece.count)
        // More stream bytes than a frame may hold.
        #expect(
            Self.code(try Self.craft(ops, frames: [frame(raw: [3 << 20, 0, 0, 0], packed: [packed, 0, 0, 0])]))
                == "delta.malformed")
        // A piece far larger than its stream bytes could need.
        #expect(
            Self.code(try Self.craft(ops, frames: [frame(raw: [size, 0, 0, 0], packed: [packed + 500, 0, 0, 0])]))
                == "delta.malformed")
        // Stream bytes without a piece, and an empty frame.
        #expect(
            Self.code(
                try Self.craft(
                    ops, frames: [frame(raw: [size, 5, 0, 0], packed: [packed, 0, 0, 0])], bodySize: size + 5))
                == "delta.malformed")
        #expect(Self.code(try Self.craft(ops, frames: [[0, 0, 0, 0, 0, 0, 0, 0]])) == "delta.malformed")
        // A frame header with a malformed number.
        #expect(Self.code(try Self.craft(ops, frames: [[UInt8](repeating: 0xff, count: 11)])) == "delta.malformed")
        // Frames declaring more stream bytes than the header.
        #expect(Self.code(try Self.craft(ops, bodySize: size - 1)) == "delta.body-too-large")
        // A piece that decodes to fewer bytes than declared.
        #expect(
            Self.code(
                try Self.craft(
                    ops, frames: [frame(raw: [size + 3, 0, 0, 0], packed: [packed, 0, 0, 0])], bodySize: size + 3))
                == "delta.corrupt")
    }

    @Test func `an xz bomb in a stream is refused`() throws {
        // 4 MiB of INSERT bytes in a piece whose frame declares 8 KiB: it decodes to far more.
        let declared: UInt64 = 8 << 10
        let bomb = Streams(
            control: [Self.insert] + Self.varint(declared), inserts: [UInt8](repeating: 0, count: 4 << 20))
        let frame = try Self.frame(bomb, rawSizes: [UInt64(bomb.control.count), 0, 0, declared])
        let patch = try Self.craft(
            bomb, frames: [frame], newSize: declared, bodySize: UInt64(bomb.control.count) + declared)
        #expect(patch.count < 4 << 10)
        #expect(Self.code(patch) == "delta.body-too-large")
    }

    @Test func `streams needing large dictionaries are refused`() throws {
        let body = Streams(control: [Self.copy] + Self.varint(0) + Self.varint(100))
        let patch = try Self.craft(body, dictionaries: [1 << 20, 1 << 20, 1 << 20, 64 << 20])
        #expect(Self.code(patch) == "delta.memory-limit")
        var small = DeltaLimits()
        small.xzMemoryLimit = 128 << 10  // below the four 64 KiB dictionaries this small patch needs
        #expect(throws: OTAError.self) { try Delta.apply(old: Self.old, patch: Self.patch, limits: small) }
        // A dictionary exponent outside 4 KiB...256 MiB.
        let exponent = try Self.resealed(Self.patch) { $0[15] = 40 }
        #expect(Self.code(exponent) == "delta.header-invalid")
    }

    @Test func `data after the body is refused`() throws {
        #expect(Self.code(Self.patch + [0]) == "delta.trailing-data")
    }

    /// Pipelined, a frame's ops run while the next frame is decoded: an op's error in one frame
    /// must still come before any error of the frames after it, and a whole-patch check at the
    /// end must wait for the last frame, exactly as when every frame runs in turn (`code`
    /// compares the two decoders' bytes out and errors).
    @Test func `a pipelined decoder reports errors in patch order`() throws {
        let good = Streams(control: [Self.copy] + Self.varint(0) + Self.varint(1000))
        let outside = Streams(control: [Self.copy] + Self.varint(Varint.zigzag(60_000)) + Self.varint(10))
        let size = { (streams: [Streams]) in UInt64(streams.reduce(0) { $0 + $1.all.reduce(0) { $0 + $1.count } }) }
        // An op out of range in frame 2, then a frame 3 whose header is malformed or is empty.
        let malformed = [UInt8](repeating: 0xFF, count: 12)
        let empty = [UInt8](repeating: 0, count: 8)
        for third in [malformed, empty] {
            let frames = [try Self.frame(good), try Self.frame(outside), third]
            let patch = try Self.craft(frames: frames, newSize: 1010, bodySize: size([good, outside]) + 100)
            #expect(Self.code(patch) == "delta.out-of-range")
        }
        // The same op error with the patch cut off right after its frame, or with bytes after the body.
        let frames = [try Self.frame(good), try Self.frame(outside)]
        let cut = try Self.craft(frames: frames, newSize: 1010, bodySize: size([good, outside]) + 100)
        #expect(Self.code(cut) == "delta.out-of-range")
        let trailing = try Self.craft(frames: frames, newSize: 1010, bodySize: size([good, outside]), trailing: [1])
        #expect(Self.code(trailing) == "delta.out-of-range")
        // Frames that are all valid: the last one's bytes reach the output before the size check.
        let short = try Self.craft(
            frames: [try Self.frame(good), try Self.frame(good)], newSize: 3000,
            bodySize: size([good, good]))
        #expect(Self.code(short) == "delta.short-output")
        let twice = try Self.craft(
            frames: [try Self.frame(good), try Self.frame(good)], newSize: 2000,
            bodySize: size([good, good]))
        #expect(Self.code(twice) == "delta.result-mismatch")
    }

    /// Pipelined, the first frame's pieces are decoded once all have come, the largest on a
    /// second thread beside the others: the error must still be the first failing piece's in
    /// the patch, as when each piece is decoded as it comes. Each combination of streams whose
    /// declared size is one byte short (it decodes to more: `delta.body-too-large`) or one byte
    /// over (`delta.corrupt`), the differences piece the largest; and the patch cut at each
    /// point inside such a frame (a corrupt piece kept before the end comes first).
    @Test func `the first frame's pieces fail in patch order`() throws {
        let streams = Streams(
            control: RoundTripTests.random(300, seed: 31), runs: RoundTripTests.random(3000, seed: 32),
            differences: RoundTripTests.random(20_000, seed: 33), inserts: RoundTripTests.random(5000, seed: 34))
        let sizes = streams.all.map { Int64($0.count) }
        var checked = 0
        for a in 0..<81 {
            let lies = (0..<4).map { Int64(a / [1, 3, 9, 27][$0] % 3) - 1 }
            guard lies.reduce(0, +) == 0, let first = lies.firstIndex(where: { $0 != 0 }) else { continue }
            let raw = zip(sizes, lies).map { UInt64($0 + $1) }
            let patch = try Self.craft(streams, frames: [try Self.frame(streams, rawSizes: raw)], newSize: 100_000)
            let expected = lies[first] < 0 ? "delta.body-too-large" : "delta.corrupt"
            #expect(Self.code(patch) == expected, "declared \(raw) for \(sizes)")
            checked += 1
        }
        #expect(checked == 18)
        // Control one byte over, differences one short: cut anywhere after the control piece,
        // the control piece's error; before it, the patch is too short.
        let raw = [sizes[0] + 1, sizes[1], sizes[2] - 1, sizes[3]].map { UInt64($0) }
        let whole = try Self.craft(streams, frames: [try Self.frame(streams, rawSizes: raw)], newSize: 100_000)
        // The control piece ends after the header, the frame header's eight sizes and its bytes.
        var offset = DeltaPatchHeader.byteCount
        var values: [UInt64] = []
        while values.count < 8,
            case .value(let value, let next) = try whole.withUnsafeBufferPointer({ try Varint.read($0, at: offset) })
        {
            values.append(value)
            offset = next
        }
        let controlEnd = offset + Int(values[4])
        let cuts =
            Array(stride(from: DeltaPatchHeader.byteCount, to: whole.count, by: 997))
            + [DeltaPatchHeader.byteCount + 1, offset - 1, offset, controlEnd - 1, controlEnd, controlEnd + 1]
        for cut in cuts {
            let expected = cut >= controlEnd ? "delta.corrupt" : "delta.truncated"
            #expect(
                Self.code(Array(whole.prefix(cut))) == expected,
                "cut at \(cut), the control piece ends at \(controlEnd)")
        }
        #expect(Self.code(Array(whole.prefix(whole.count - 1))) == "delta.corrupt")
    }

    /// A caller that drops a pipelined decoder while a frame runs (its own read of the patch
    /// failed, say): the frame's job then holds the last reference, so the decoder is torn down
    /// on the frame thread, which must neither wait for itself nor touch freed buffers.
    @Test func `a pipelined decoder dropped while a frame runs is torn down`() throws {
        // Frame 1 copies the 50,000-byte old image six times: 300,000 bytes, so its job hands a
        // full 256 KiB piece to the output (blocked below) before the frame ends.
        var copies = [Self.copy] + Self.varint(0) + Self.varint(50_000)
        for _ in 1..<6 { copies += [Self.copy] + Self.varint(Varint.zigzag(-50_000)) + Self.varint(50_000) }
        let first = Streams(control: copies)
        let second = Streams(control: [Self.copy] + Self.varint(Varint.zigzag(-50_000)) + Self.varint(10))
        let frame1 = try Self.frame(first)
        let patch = try Self.craft(
            frames: [frame1, try Self.frame(second)], newSize: 300_010,
            bodySize: UInt64(first.control.count + second.control.count))
        let gate = DispatchSemaphore(value: 0)
        let released = DispatchSemaphore(value: 0)
        var decoder: DeltaDecoder? = DeltaDecoder(
            source: ReleaseSignallingSource(Self.old, released: released), threads: .pipelined
        ) { (_: UnsafeRawBufferPointer) throws(OTAError) in gate.wait() }
        // The header and all of frame 1: the frame starts on the decoder's thread and blocks.
        try decoder?.update(Array(patch.prefix(DeltaPatchHeader.byteCount + frame1.count)))
        decoder = nil
        for _ in 0..<4 { gate.signal() }
        #expect(released.wait(timeout: .now() + 20) == .success, "the decoder was never torn down")
    }

    /// 120,000 ADDs of 5 bytes (each rereading old's first 5): the pipelined decoder hands their
    /// differences to its second thread in many batches a piece (`PieceWork` holds at most 8,192
    /// runs); the output, and a malformed last run's error after two full pieces were handed out,
    /// must be the sequential decoder's.
    @Test func `many small ADDs apply and fail as the sequential decoder's`() throws {
        let count = 120_000
        var streams = Streams()
        for i in 0..<count {
            streams.control += [Self.add] + Self.varint(Varint.zigzag(i == 0 ? 0 : -5)) + Self.varint(5)
            streams.runs += Self.run(zeros: 0, literals: 5)
            streams.differences += (0..<5).map { UInt8(truncatingIfNeeded: i &* 7 &+ $0) }
        }
        var expected: [UInt8] = []
        for i in 0..<(count * 5) { expected.append(Self.old[i % 5] &+ streams.differences[i]) }
        let newHash = try Self.expectBothDecoders(streams, rebuild: expected)
        // The last ADD's run claims 6 literals of its 5 bytes.
        var bad = streams
        bad.runs[bad.runs.count - 1] = 6
        let badPatch = try Self.craft(bad, newSize: UInt64(count * 5), newHash: newHash)
        #expect(Self.code(badPatch) == "delta.malformed")
        let handedOut = Self.outcome(badPatch, old: Self.old, threads: .pipelined).output.count
        // Two full pieces: an ADD never straddles one, so each holds 52,428 of them.
        #expect(handedOut == 2 * ((256 << 10) / 5 * 5))
    }

    /// Six ADDs of 50,000 bytes, each of 25,000 runs (one unchanged byte, one literal): the
    /// pipelined decoder's batch fills (`PieceWork.maxRuns`, 8,192 runs) within an ADD, three
    /// times an ADD, and is handed over there; the output, and a malformed last run's error,
    /// must be the sequential decoder's. (A batch that only checked its fullness between ADDs
    /// wrote past its runs: a trap in a debug build.)
    @Test func `ADDs of many runs fill a batch within an op`() throws {
        let adds = 6
        let length = Self.old.count
        var streams = Streams()
        for i in 0..<adds {
            streams.control +=
                [Self.add] + Self.varint(Varint.zigzag(i == 0 ? 0 : -Int64(length))) + Self.varint(UInt64(length))
            for j in 0..<(length / 2) {
                streams.runs += Self.run(zeros: 1, literals: 1)
                streams.differences.append(UInt8(truncatingIfNeeded: i &* 31 &+ j &+ 1))
            }
        }
        var expected: [UInt8] = []
        for i in 0..<adds {
            for j in 0..<length {
                expected.append(
                    j % 2 == 0 ? Self.old[j] : Self.old[j] &+ UInt8(truncatingIfNeeded: i &* 31 &+ j / 2 &+ 1))
            }
        }
        let newHash = try Self.expectBothDecoders(streams, rebuild: expected)
        // The last run claims 1 + 2 bytes where 2 of its op are left.
        var bad = streams
        bad.runs[bad.runs.count - 1] = Self.run(zeros: 1, literals: 2)[0]
        let badPatch = try Self.craft(bad, newSize: UInt64(adds * length), newHash: newHash)
        #expect(Self.code(badPatch) == "delta.malformed")
    }

    @Test func `thousands of mutated patches never crash`() throws {
        var generator = SeededGenerator(seed: 99)
        // Raw mutations of the patch bytes.
        for _ in 0..<1500 {
            var p = Self.patch
            switch generator.next() % 4 {
            case 0: p[Int(generator.next() % UInt64(p.count))] ^= UInt8(1 << (generator.next() % 8))
            case 1: p = Array(p.prefix(Int(generator.next() % UInt64(p.count))))
            case 2: p[108 + Int(generator.next() % UInt64(p.count - 108))] = UInt8(truncatingIfNeeded: generator.next())
            default: p.insert(UInt8(truncatingIfNeeded: generator.next()), at: Int(generator.next() % UInt64(p.count)))
            }
            let code = Self.code(p)
            #expect(code == nil || code!.hasPrefix("delta."), "unexpected code \(code!)")
        }
        // Mutations of the decoded streams, re-framed, so the op parser sees them.
        let header = try DeltaPatchHeader.decode(Self.patch)
        let original = try Self.streams(of: Self.patch)
        let nonEmpty = original.all.indices.filter { !original.all[$0].isEmpty }
        var accepted = 0
        for _ in 0..<1500 {
            var streams = original.all
            for _ in 0..<(1 + generator.next() % 3) {
                let s = nonEmpty[Int(generator.next() % UInt64(nonEmpty.count))]
                guard !streams[s].isEmpty else { continue }
                let i = Int(generator.next() % UInt64(streams[s].count))
                switch generator.next() % 3 {
                case 0: streams[s][i] ^= UInt8(1 << (generator.next() % 8))
                case 1: streams[s][i] = UInt8(truncatingIfNeeded: generator.next())
                default: streams[s].removeSubrange(i..<min(streams[s].count, i + 1 + Int(generator.next() % 8)))
                }
            }
            let mutated = Streams(control: streams[0], runs: streams[1], differences: streams[2], inserts: streams[3])
            let patch = try Self.craft(mutated, newSize: header.newSize, newHash: header.newHash.bytes)
            let code = Self.code(patch)
            if code == nil { accepted += 1 }
            #expect(code == nil || code!.hasPrefix("delta."), "unexpected code \(code!)")
        }
        // A mutation only "succeeds" if it rebuilt the exact new image (the hash says so).
        #expect(accepted < 50)
    }
}

/// An in-memory old image that signals when it is released (after its decoder's teardown).
private final class ReleaseSignallingSource: DeltaSource {
    let bytes: [UInt8]
    let released: DispatchSemaphore
    init(_ bytes: [UInt8], released: DispatchSemaphore) {
        self.bytes = bytes
        self.released = released
    }
    deinit { released.signal() }
    var byteCount: Int64 { Int64(bytes.count) }
    func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        Array(bytes[Int(offset)..<(Int(offset) + count)])
    }
}
