import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Body coding 5: inserted x86-64 operands in a fifth stream, by kind (`InsertsOperands`). The
/// split must undo itself on any bytes at any offset, move exactly the operands the rule names,
/// pay on new code, and every malformed operands stream must be refused with its own message,
/// never read out of bounds.
@Suite struct InsertsOperandsTests {
    typealias Kind = InsertsOperands.Kind

    /// Splits `bytes` as one INSERT at `offset`.
    static func split(_ bytes: [UInt8], offset: Int64) -> (main: [UInt8], operands: [(UInt32, Kind)]) {
        var main: [UInt8] = []
        var operands: [(UInt32, Kind)] = []
        bytes.withUnsafeBufferPointer {
            InsertsOperands.split($0.baseAddress!, count: $0.count, offset: offset, main: &main) {
                operands.append(($0, $1))
            }
        }
        return (main, operands)
    }

    /// The frame operands stream for `operands` (as the writer lays it out).
    static func layout(_ operands: [(UInt32, Kind)]) -> [UInt8] {
        var frame = FrameOperands()
        for (value, kind) in operands { frame.append(value, kind) }
        return frame.take()
    }

    /// Joins `main` and the laid-out `operands` back into `count` bytes at `offset`; also the main
    /// bytes used and the operand bytes left.
    static func join(_ main: [UInt8], _ operands: [UInt8], count: Int, offset: Int64) throws(OTAError) -> (
        bytes: [UInt8], used: Int, left: Int
    ) {
        var out = [UInt8](repeating: 0, count: count)
        let padded = main + [0]  // a valid pointer even when `main` is empty
        let result: Result<(Int, Int), OTAError> = padded.withUnsafeBufferPointer { m in
            operands.withUnsafeBufferPointer { o in
                out.withUnsafeMutableBufferPointer { target in
                    do throws(OTAError) {
                        var reader = FrameOperandsReader(o)
                        try reader.readCounts(at: offset)
                        let used = try InsertsOperands.join(
                            main: m.baseAddress!, available: main.count, into: target.baseAddress!, count: count,
                            offset: offset, operands: &reader)
                        return .success((used, reader.left))
                    } catch {
                        return .failure(error)
                    }
                }
            }
        }
        let (used, left) = try result.get()
        return (out, used, left)
    }

    /// The rule one position at a time, written from docs/FORMAT.md without the encoder's code:
    /// the operand positions and kinds it moves.
    static func ruleOperands(_ bytes: [UInt8]) -> [(Int, Kind)] {
        let rip: Set<UInt8> = [
            0x01, 0x03, 0x09, 0x0B, 0x21, 0x23, 0x29, 0x2B, 0x31, 0x33, 0x39, 0x3B, 0x63, 0x85, 0x87, 0x88, 0x89, 0x8A,
            0x8B, 0x8D,
        ]
        var found: [(Int, Kind)] = []
        var p = 0
        while p + 5 <= bytes.count {
            let c = bytes[p]
            var hit: (Int, Kind)?
            if c == 0xE8 {
                hit = (p + 1, .call)
            } else if c == 0xE9 {
                hit = (p + 1, .jump)
            } else if p + 6 <= bytes.count, c == 0x0F, bytes[p + 1] >= 0x80, bytes[p + 1] <= 0x8F {
                hit = (p + 2, .jump)
            } else if p + 6 <= bytes.count, rip.contains(c), bytes[p + 1] & 0xC7 == 5 {
                hit = (p + 2, .data)
            }
            guard let hit else {
                p += 1
                continue
            }
            found.append(hit)
            p = hit.0 + 4
        }
        return found
    }

    @Test func `split and join undo each other on any bytes at any offset`() throws {
        var moved = 0
        for seed in UInt64(1)...300 {
            var generator = SeededGenerator(seed: seed &* 104_729)
            let count = Int(generator.next() % 700)
            let bytes =
                switch seed % 3 {
                case 0: InsertsFilterTests.x86Dense(count, seed: seed)
                case 1: InsertsFilterTests.x86Code(count, seed: seed)
                default: RoundTripTests.random(count, seed: seed)
                }
            for offset in [Int64(generator.next() % 1_000_000), 0x7FFF_FFFF_FFFF_0001, Int64.max - Int64(count)] {
                let (main, operands) = Self.split(bytes, offset: offset)
                #expect(main.count + 4 * operands.count == count)
                let (rebuilt, used, left) = try Self.join(main, Self.layout(operands), count: count, offset: offset)
                #expect(rebuilt == bytes, "seed \(seed), \(count) bytes at \(offset)")
                #expect(used == main.count && left == 0, "seed \(seed): \(used) of \(main.count) used, \(left) left")
                moved += operands.count
            }
        }
        #expect(moved > 1000)
    }

    @Test func `the split moves exactly the operands the rule names, converted where coding 4 would`() {
        for seed in UInt64(1)...200 {
            var generator = SeededGenerator(seed: seed)
            let count = Int(generator.next() % 400)
            let bytes = InsertsFilterTests.x86Dense(count, seed: seed)
            let offset = Int64(generator.next() % 100_000)
            let (main, operands) = Self.split(bytes, offset: offset)
            let expected = Self.ruleOperands(bytes)
            #expect(operands.map(\.1) == expected.map(\.1), "seed \(seed): kinds")
            var rest: [UInt8] = []
            var next = 0
            for ((value, _), (o, _)) in zip(operands, expected) {
                rest += bytes[next..<o]
                next = o + 4
                let raw = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
                let last = bytes[o + 3]
                let whole = raw | UInt32(last) << 24
                if last == 0 || last == 0xFF {
                    // Coding 4's conversion: + (offset of the operand's end), modulo 2^25, sign-extended.
                    let position = UInt32(truncatingIfNeeded: offset + Int64(o) + 4)
                    var converted = (whole &+ position) & 0x01FF_FFFF
                    if converted & 0x0100_0000 != 0 { converted |= 0xFE00_0000 }
                    #expect(value == converted, "seed \(seed) operand at \(o)")
                } else {
                    #expect(value == whole, "seed \(seed) operand at \(o): a far value moves as it is")
                }
            }
            rest += bytes[next...]
            #expect(main == rest, "seed \(seed): the other bytes, in order")
        }
    }

    @Test func `calls to one target read the same, and the frame lays out calls, jumps and data in turn`() {
        var bytes = [UInt8](repeating: 0x90, count: 0x100)
        func put(_ at: Int, _ opcode: [UInt8], target: Int32) {
            bytes.replaceSubrange(at..<at + opcode.count, with: opcode)
            let end = at + opcode.count + 4
            withUnsafeBytes(of: (target - Int32(end)).littleEndian) {
                bytes.replaceSubrange(end - 4..<end, with: $0)
            }
        }
        put(0x10, [0x48, 0x8D, 0x05], target: 0x900)  // lea rax, [rip + ...]: REX, then 8D 05
        put(0x20, [0xE8], target: 0x800)
        put(0x30, [0x0F, 0x85], target: 0x40)
        put(0x40, [0xE8], target: 0x800)
        put(0x50, [0xE9], target: 0x10)
        let (main, operands) = Self.split(bytes, offset: 0x1000)
        #expect(operands.map(\.1) == [.data, .call, .jump, .call, .jump])
        #expect(operands[1].0 == operands[3].0)
        #expect(operands[1].0 == 0x1800)
        #expect(main.count == bytes.count - 20)
        let frame = Self.layout(operands)
        #expect(frame.prefix(2) == [2, 2])  // two calls, two jumps, then the data reference
        #expect(Array(frame[2..<6]) == [0, 0, 0x18, 0])  // the first call, most significant first
        #expect(frame.count == 2 + 20)
    }

    @Test func `malformed operand sections are refused with what is wrong`() throws {
        let call: [UInt8] = [0xE8, 1, 2, 3, 4, 0x90]
        let (main, operands) = Self.split(call, offset: 0)
        #expect(operands.count == 1)
        let good = Self.layout(operands)
        #expect(try Self.join(main, good, count: call.count, offset: 0).bytes == call)
        func message(_ mainBytes: [UInt8], _ stream: [UInt8]) -> String? {
            do {
                _ = try Self.join(mainBytes, stream, count: call.count, offset: 0)
                return nil
            } catch {
                #expect(error.code == .deltaMalformed)
                return error.message
            }
        }
        // The call's operand filed as a jump: no call left.
        #expect(message(main, [0, 1] + good[2...])?.contains("no call operand left") == true)
        // Counts beyond the stream, counts that end early, a malformed count.
        #expect(message(main, [2, 0] + good[2...])?.contains("declares 2 calls and 0 jumps") == true)
        #expect(message(main, [1, 0x80])?.contains("end inside their counts") == true)
        #expect(message(main, [UInt8](repeating: 0xFF, count: 11))?.contains("malformed operand count") == true)
        // Jumps declared beyond what is left after the calls (overflow-safe: a huge count).
        #expect(message(main, [1] + Self.varint(UInt64.max) + good[2...])?.contains("declares 1 calls") == true)
        // The inserts stream one byte short.
        #expect(message(Array(main.dropLast()), good)?.contains("runs past its frame's inserted bytes") == true)
        // An operand left over is not the join's to refuse: the frame's check names it.
        let (_, _, left) = try Self.join(main, [2, 0] + good[2...] + good[2...], count: call.count, offset: 0)
        #expect(left == 4)
    }

    static func varint(_ value: UInt64) -> [UInt8] { AdversarialPatchTests.varint(value) }

    /// A body-coding-5 patch of one frame around hand-written streams (control, runs,
    /// differences, inserts, operands) for `AdversarialPatchTests.old`, rebuilding `new`.
    static func crafted(_ streams: [[UInt8]], new: [UInt8]) throws -> [UInt8] {
        let dictionaries: [UInt32] = [1 << 16, 1 << 16, 1 << 16, 1 << 16]
        let old = AdversarialPatchTests.old
        var header = DeltaPatchHeader(
            hashAlgorithm: .sha256, oldSize: UInt64(old.count), newSize: UInt64(new.count),
            bodySize: UInt64(streams.reduce(0) { $0 + $1.count }), dictionarySizes: dictionaries,
            oldHash: try Hasher.hash(.sha256, old), newHash: try Hasher.hash(.sha256, new))
        header.bodyCoding = .operandsSplitX86
        var pieces: [[UInt8]] = []
        for (index, bytes) in streams.enumerated() {
            var piece: [UInt8] = []
            if !bytes.isEmpty {
                let size = index == 4 ? DeltaPatchHeader.operandsDictionarySize(inserts: 1 << 16) : dictionaries[index]
                let encoder = try LZMA2StreamEncoder(LZMA2Settings(dictionarySize: size))
                try bytes.withUnsafeBytes { raw in try encoder.update(raw) { piece += $0 } }
                try encoder.flush { piece += $0 }
            }
            pieces.append(piece)
        }
        var frame: [UInt8] = []
        for bytes in streams { frame += varint(UInt64(bytes.count)) }
        for piece in pieces { frame += varint(UInt64(piece.count)) }
        return try header.encoded() + frame + pieces.joined()
    }

    @Test func `hostile operands streams in a whole patch are refused by every decoder`() throws {
        // COPY 100 old bytes, then INSERT a call and a byte: E8, its operand, 90.
        let copy: [UInt8] = [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(100)
        let control = copy + [DeltaOperation.insertCode] + Self.varint(6)
        let new = Array(AdversarialPatchTests.old.prefix(100)) + [0xE8, 0x10, 0, 0, 0, 0x90]
        // Absolute: 0x10 + the new offset of the operand's end (105).
        let call: [UInt8] = [0, 0, 0, 0x10 + 105]
        let honest = try Self.crafted([control, [], [], [0xE8, 0x90], [1, 0] + call], new: new)
        #expect(AdversarialPatchTests.code(honest) == nil)
        let cases: [(streams: [[UInt8]], message: String)] = [
            ([control, [], [], [0xE8, 0x90], [1, 0] + call + call], "operands stream holds 4 bytes no op uses"),
            ([control, [], [], [0xE8, 0x90], [0, 1] + call], "no call operand left"),
            ([control, [], [], [0xE8, 0x90], [2, 0] + call], "declares 2 calls and 0 jumps"),
            ([control, [], [], [0xE8, 0x90], [1]], "end inside their counts"),
            ([control, [], [], [0xE8], [1, 0] + call], "runs past its frame's inserted bytes"),
            ([copy, [], [], [], [1, 0] + call], "operands stream holds"),
        ]
        for (streams, message) in cases {
            let patch = try Self.crafted(streams, new: new)
            let outcome = AdversarialPatchTests.outcome(patch, old: AdversarialPatchTests.old, threads: .sequential)
            #expect(outcome.code == "delta.malformed", "\(message): \(outcome.error ?? "applied")")
            #expect(outcome.error?.contains(message) == true, "\(outcome.error ?? "applied")")
            #expect(AdversarialPatchTests.code(patch) == "delta.malformed")
        }
        // A hostile operand value: the image is wrong, and its hash says so.
        let wrong = try Self.crafted([control, [], [], [0xE8, 0x90], [1, 0, 0, 0, 0, 0x11]], new: new)
        #expect(AdversarialPatchTests.code(wrong) == "delta.result-mismatch")
    }

    /// An x86-64 ELF pair whose new image inserts `code` bytes of calls, jumps and RIP-relative
    /// accesses.
    static func pair(seed: UInt64, code: Int = 240_000) -> (old: [UInt8], new: [UInt8]) {
        let old = InsertsFilterTests.elf(RoundTripTests.random(64 << 10, seed: seed), machine: 62)
        let new = InsertsFilterTests.elf(
            Array(old.prefix(32 << 10)) + [1, 2, 3] + InsertsFilterTests.x86Code(code, seed: seed + 1)
                + old.suffix(16 << 10), machine: 62)
        return (old, new)
    }

    @Test func `inserted x86-64 code gets body coding 5, round trips through every decoder and is smaller`()
        throws
    {
        let (old, new) = Self.pair(seed: 21)
        for transform in [true, false] {
            var options = DeltaOptions()
            options.referenceTransform = transform
            var four = options
            four.splitOperands = false
            let split = try RoundTripTests.roundTrip(old, new, options: options)
            let filtered = try RoundTripTests.roundTrip(old, new, options: four)
            let header = try DeltaPatchHeader.decode(split)
            #expect(split[11] == 5 && header.operandsSplit && header.insertsFilter == .x86_64)
            #expect(header.streamCount == 5)
            #expect(filtered[11] == 4)
            #expect(split.count < filtered.count, "split \(split.count) bytes, coding 4 \(filtered.count)")
            #expect(AdversarialPatchTests.code(split, old: old) == nil)
        }
        // Primed too, with the old bytes split as the inserts are (body coding 0x55).
        var primed = DeltaOptions()
        primed.insertsPriming = .always
        let patch = try RoundTripTests.roundTrip(old, new, options: primed)
        #expect(patch[11] == 0x55)
        #expect(AdversarialPatchTests.code(patch, old: old) == nil)
    }

    @Test func `coding 5 round trips on many frames, and on code the trial keeps at coding 4`() throws {
        // 3 MiB of inserted code: frames of their own operands each.
        let (old, new) = Self.pair(seed: 31, code: 3 << 20)
        let patch = try RoundTripTests.roundTrip(old, new)
        #expect(patch[11] == 5)
        #expect(try AdversarialPatchTests.frameCount(of: patch, streams: 5) > 8)
        #expect(AdversarialPatchTests.code(patch, old: old) == nil)
        // AArch64 code has no operands to split: coding 3 whatever the option says.
        let arm = InsertsFilterTests.elf(RoundTripTests.random(64 << 10, seed: 32))
        let armNew = InsertsFilterTests.elf(Array(arm.prefix(20_000)) + InsertsFilterTests.code(20_000, seed: 33))
        #expect(try RoundTripTests.roundTrip(arm, armNew)[11] & ~DeltaPatchHeader.compressionAlignedFlag == 3)
    }

    /// The trial judges the split against the plain bytes, not only against the filter's: code
    /// whose operands the filter leaves alone (far targets, last byte neither 00 nor FF) gains
    /// nothing filtered, yet its opcodes compress better without random operands between them.
    @Test func `the trial splits operands that the filter alone would not pay for`() throws {
        var generator = SeededGenerator(seed: 81)
        let fillers: [[UInt8]] = [
            [0x48, 0x85, 0xC0], [0x74, 0x05], [0x48, 0x89, 0xC7], [0x90], [0x31, 0xC0], [0x5D, 0xC3],
        ]
        var code: [UInt8] = []
        while code.count < 200_000 {
            for _ in 0..<(1 + generator.next() % 3) { code += fillers[Int(generator.next() % 6)] }
            // A call to one of eight far targets, stored relative as the filter leaves it.
            code += [0xE8, UInt8(generator.next() % 8) &* 37, 0x51, 0x9A, 0x12]
        }
        let ops: [DeltaOperation] = [.insert(length: code.count)]
        let verdict = try code.withUnsafeBufferPointer { try InsertsFilter.trial(.x86_64, ops: ops, new: $0) }
        #expect(verdict.verdict == .operandsSplit)
        let without = try code.withUnsafeBufferPointer {
            try InsertsFilter.trial(.x86_64, ops: ops, new: $0, splitOperands: false)
        }
        #expect(without.verdict == .plain)
    }

    @Test func `a body coding that does not match the frames is refused, never misread`() throws {
        let (old, new) = Self.pair(seed: 41, code: 60_000)
        let split = try Delta.diff(old: old, new: new)
        var options = DeltaOptions()
        options.splitOperands = false
        let four = try Delta.diff(old: old, new: new, options: options)
        #expect(split[11] == 5 && four[11] == 4)
        for (patch, claimed) in [(split, UInt8(4)), (split, 2), (four, 5), (four, 0x15)] {
            let edited = try AdversarialPatchTests.resealed(patch) { $0[11] = claimed }
            #expect(AdversarialPatchTests.code(edited, old: old) != nil, "coding \(claimed) claimed")
        }
    }

    @Test func `the operands stream's dictionary counts against the decoder's memory limit`() throws {
        let (old, new) = Self.pair(seed: 51, code: 60_000)
        let patch = try Delta.diff(old: old, new: new)
        let header = try DeltaPatchHeader.decode(patch)
        #expect(header.streamDictionarySizes.count == 5)
        #expect(header.streamDictionarySizes[4] == max(4096, header.dictionarySizes[3] / 4))
        let four = header.dictionarySizes.reduce(UInt64(0)) { $0 + UInt64($1) }
        var limits = DeltaLimits()
        limits.xzMemoryLimit = four  // enough for four streams, not for the fifth
        #expect(AdversarialPatchTests.code(patch, old: old, limits: limits) == "delta.memory-limit")
        limits.xzMemoryLimit = four + UInt64(header.streamDictionarySizes[4])
        #expect(AdversarialPatchTests.code(patch, old: old, limits: limits) == nil)
    }
}
