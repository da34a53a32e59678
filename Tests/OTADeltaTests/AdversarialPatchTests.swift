import OTACore
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

    /// A patch around a hand-written op stream, with a valid header for `old`.
    static func craft(
        body: [UInt8], newSize: UInt64 = 100, newHash: [UInt8]? = nil, bodySize: UInt64? = nil,
        dictionarySize: UInt32 = 1 << 20, trailing: [UInt8] = []
    ) throws -> [UInt8] {
        let header = DeltaPatchHeader(
            hashAlgorithm: .sha256, oldSize: UInt64(old.count), newSize: newSize,
            bodySize: bodySize ?? UInt64(body.count), oldHash: try Hasher.hash(.sha256, old),
            newHash: Digest(algorithm: .sha256, bytes: newHash ?? [UInt8](repeating: 0, count: 32)))
        let encoder = try XZEncoder(preset: 6, dictionarySize: dictionarySize)
        var out = try header.encoded()
        try encoder.update(body) { out += $0 }
        try encoder.finish { out += $0 }
        return out + trailing
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        Varint.append(value, to: &out)
        return out
    }

    static func code(_ patch: [UInt8], old: [UInt8] = old) -> String? {
        do {
            _ = try Delta.apply(old: old, patch: patch)
            return nil
        } catch {
            return error.code
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
        let version = try Self.resealed(Self.patch) { $0[8] = 2 }
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

    @Test func `the wrong source image is refused before any output`() {
        var other = Self.old
        other[49_999] ^= 1
        #expect(Self.code(Self.patch, old: other) == "delta.source-mismatch")
        #expect(Self.code(Self.patch, old: Array(Self.old.dropLast())) == "delta.source-mismatch")
    }

    @Test func `copies outside the old image are refused`() throws {
        // Length past the end of old.
        let long = [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(60_000)
        #expect(Self.code(try Self.craft(body: long, newSize: 60_000)) == "delta.out-of-range")
        // Negative start.
        let negative =
            [DeltaOperation.addCode] + Self.varint(Varint.zigzag(-5)) + Self.varint(10)
            + [UInt8](repeating: 0, count: 10)
        #expect(Self.code(try Self.craft(body: negative)) == "delta.out-of-range")
        // Overflowing start after a copy moved the cursor.
        let overflow =
            [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(10)
            + [DeltaOperation.copyCode] + Self.varint(Varint.zigzag(Int64.max)) + Self.varint(10)
        #expect(Self.code(try Self.craft(body: overflow)) == "delta.out-of-range")
        // A start inside old whose end is past it.
        let straddle = [DeltaOperation.copyCode] + Self.varint(Varint.zigzag(49_990)) + Self.varint(20)
        #expect(Self.code(try Self.craft(body: straddle)) == "delta.out-of-range")
    }

    @Test func `ops that write past the declared size are refused`() throws {
        let insert = [DeltaOperation.insertCode] + Self.varint(101) + [UInt8](repeating: 1, count: 101)
        #expect(Self.code(try Self.craft(body: insert, newSize: 100)) == "delta.output-overflow")
        let copies =
            [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(60)
            + [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(60)
        #expect(Self.code(try Self.craft(body: copies, newSize: 100)) == "delta.output-overflow")
        let huge = [DeltaOperation.insertCode] + Self.varint(UInt64.max)
        #expect(Self.code(try Self.craft(body: huge, newSize: 100)) == "delta.output-overflow")
    }

    @Test func `malformed ops are refused`() throws {
        #expect(Self.code(try Self.craft(body: [9, 1, 1])) == "delta.unknown-op")
        #expect(Self.code(try Self.craft(body: [0])) == "delta.unknown-op")
        let zero = [DeltaOperation.insertCode] + Self.varint(0)
        #expect(Self.code(try Self.craft(body: zero)) == "delta.malformed")
        let longVarint = [DeltaOperation.insertCode] + [UInt8](repeating: 0xff, count: 11) + [1]
        #expect(Self.code(try Self.craft(body: longVarint)) == "delta.malformed")
        let cut = [DeltaOperation.insertCode] + Self.varint(50) + [UInt8](repeating: 1, count: 20)
        #expect(Self.code(try Self.craft(body: cut, newSize: 50)) == "delta.truncated")
    }

    @Test func `ADD payload runs must fit their op`() throws {
        let add = [DeltaOperation.addCode] + Self.varint(0) + Self.varint(10)
        // 8 zeros + 5 literals > 10.
        #expect(
            Self.code(try Self.craft(body: add + Self.varint(8) + Self.varint(5) + [1, 2, 3, 4, 5]))
                == "delta.malformed")
        // An empty pair would never advance.
        #expect(Self.code(try Self.craft(body: add + Self.varint(0) + Self.varint(0))) == "delta.malformed")
        // Zero count past the op.
        #expect(Self.code(try Self.craft(body: add + Self.varint(UInt64.max) + Self.varint(1))) == "delta.malformed")
        // Cut inside the literals.
        #expect(
            Self.code(try Self.craft(body: add + Self.varint(2) + Self.varint(8) + [1, 2], newSize: 10))
                == "delta.truncated")
    }

    @Test func `the longest legal op for one byte is accepted`() throws {
        // Non-minimal 10-byte varints are legal: ADD at delta 0, length 1, pair (0, 1), 1 byte.
        let zero: [UInt8] = [UInt8](repeating: 0x80, count: 9) + [0]
        let one: [UInt8] = [0x81] + [UInt8](repeating: 0x80, count: 8) + [0]
        let body = [DeltaOperation.addCode] + zero + one + [0, 1, 5]
        #expect(body.count == 24)
        let expected = [Self.old[0] &+ 5]
        let patch = try Self.craft(body: body, newSize: 1, newHash: try Hasher.hash(.sha256, expected).bytes)
        #expect(try Delta.apply(old: Self.old, patch: patch) == expected)
    }

    @Test func `a patch that builds too little or the wrong image is refused`() throws {
        let short = [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(50)
        #expect(Self.code(try Self.craft(body: short, newSize: 100)) == "delta.short-output")
        let wrong = [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(100)
        #expect(Self.code(try Self.craft(body: wrong, newSize: 100)) == "delta.result-mismatch")
        let right = try Self.craft(
            body: wrong, newSize: 100, newHash: try Hasher.hash(.sha256, Array(Self.old.prefix(100))).bytes)
        #expect(try Delta.apply(old: Self.old, patch: right) == Array(Self.old.prefix(100)))
    }

    @Test func `an xz bomb in the body is refused`() throws {
        // 64 MiB of valid-looking inserts declared as a 20-byte body.
        var bomb = [DeltaOperation.insertCode] + Self.varint(64 << 20)
        bomb += [UInt8](repeating: 0, count: 64 << 20)
        let patch = try Self.craft(body: bomb, newSize: 64 << 20, bodySize: 20)
        #expect(patch.count < 64 << 10)
        #expect(Self.code(patch) == "delta.body-too-large")
    }

    @Test func `a body needing a large xz dictionary is refused`() throws {
        let body = [DeltaOperation.copyCode] + Self.varint(0) + Self.varint(100)
        let patch = try Self.craft(body: body, dictionarySize: 64 << 20)
        #expect(Self.code(patch) == "delta.memory-limit")
    }

    @Test func `data after the body is refused`() throws {
        #expect(Self.code(Self.patch + [0]) == "delta.trailing-data")
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
        // Mutations of the decoded op stream, re-sealed, so the op parser sees them.
        let header = try DeltaPatchHeader.decode(Self.patch)
        let body = try XZDecoder.decompress(Array(Self.patch[108...]), outputLimit: header.bodySize)
        var accepted = 0
        for _ in 0..<1500 {
            var b = body
            for _ in 0..<(1 + generator.next() % 3) {
                let i = Int(generator.next() % UInt64(b.count))
                switch generator.next() % 3 {
                case 0: b[i] ^= UInt8(1 << (generator.next() % 8))
                case 1: b[i] = UInt8(truncatingIfNeeded: generator.next())
                default: b.removeSubrange(i..<min(b.count, i + Int(generator.next() % 8)))
                }
            }
            let patch = try Self.craft(
                body: b, newSize: header.newSize, newHash: header.newHash.bytes, dictionarySize: 1 << 16)
            let code = Self.code(patch)
            if code == nil { accepted += 1 }
            #expect(code == nil || code!.hasPrefix("delta."), "unexpected code \(code!)")
        }
        // A mutation only "succeeds" if it rebuilt the exact new image (the hash says so).
        #expect(accepted < 50)
    }
}
