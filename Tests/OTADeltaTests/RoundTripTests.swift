import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Generated image pairs: each is rebuilt byte for byte from its patch.
@Suite struct RoundTripTests {
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            let word = generator.next()
            for b in 0..<min(8, count - i) { out[i + b] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(b))) }
            i += 8
        }
        return out
    }

    /// Text-like data: words from a small vocabulary, so it compresses and repeats.
    static func texty(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        let words = ["vehicle", "update", "slot", "image", "the", "a", "of", "delta", "block", "hash", "\n", "    "]
        var out: [UInt8] = []
        while out.count < count { out += Array(words[Int(generator.next() % UInt64(words.count))].utf8) + [32] }
        return Array(out.prefix(count))
    }

    static func roundTrip(_ old: [UInt8], _ new: [UInt8], options: DeltaOptions = DeltaOptions()) throws -> [UInt8] {
        let patch = try Delta.diff(old: old, new: new, options: options)
        let rebuilt = try Delta.apply(old: old, patch: patch)
        #expect(rebuilt == new)
        return patch
    }

    @Test func `empty and tiny images round trip`() throws {
        _ = try Self.roundTrip([], [])
        _ = try Self.roundTrip([], [1, 2, 3])
        _ = try Self.roundTrip([1, 2, 3], [])
        _ = try Self.roundTrip([7], [7])
        _ = try Self.roundTrip(Array("hello world".utf8), Array("hello, world!".utf8))
    }

    @Test func `random data with an edit is small`() throws {
        let old = Self.random(300_000, seed: 1)
        var new = old
        new.replaceSubrange(1000..<1100, with: Self.random(50, seed: 2))  // change and shrink
        new.insert(contentsOf: Self.random(5000, seed: 3), at: 150_000)  // insert
        new.removeSubrange(200_000..<210_000)  // delete
        for i in stride(from: 250_000, to: 260_000, by: 97) { new[i] &+= 1 }  // scattered byte edits
        let patch = try Self.roundTrip(old, new)
        #expect(patch.count < 8_000, "patch \(patch.count) bytes")
    }

    @Test func `unrelated images still round trip`() throws {
        _ = try Self.roundTrip(Self.random(100_000, seed: 4), Self.random(120_000, seed: 5))
    }

    @Test func `zero-heavy images are fast and tiny`() throws {
        var old = [UInt8](repeating: 0, count: 8 << 20)
        old.replaceSubrange(4096..<20_000, with: Self.random(15_904, seed: 6))
        var new = [UInt8](repeating: 0, count: 9 << 20)
        new.replaceSubrange(100_000..<115_904, with: old[4096..<20_000])
        new.replaceSubrange(5_000_001..<5_000_101, with: Self.random(100, seed: 7))  // unaligned data in free space
        let started = ContinuousClock.now
        let patch = try Self.roundTrip(old, new)
        #expect(patch.count < 2_000, "patch \(patch.count) bytes")
        #expect(started.duration(to: .now) < .seconds(60))
    }

    @Test func `repetitive input does not go quadratic`() throws {
        let unit = Array("abcabcabd".utf8)
        var old: [UInt8] = []
        while old.count < 2 << 20 { old += unit }
        var new = old
        new.insert(contentsOf: Array("xyz".utf8), at: 1_000_000)
        new += [UInt8](repeating: 0x61, count: 1 << 20)  // one long run
        let started = ContinuousClock.now
        let patch = try Self.roundTrip(old, new)
        #expect(patch.count < 2_000, "patch \(patch.count) bytes")
        #expect(started.duration(to: .now) < .seconds(60))
    }

    @Test func `a filesystem-like image with moved and changed blocks`() throws {
        // 4 KiB blocks: files of random data, free space of zeros.
        let blocks = 512
        var old = [UInt8](repeating: 0, count: blocks * 4096)
        for b in 0..<300 where b % 7 != 3 {
            old.replaceSubrange(b * 4096..<(b + 1) * 4096, with: Self.random(4096, seed: 100 + UInt64(b)))
        }
        var new = old
        // Move a 40-block file to free space and change a few bytes of it.
        let file = Array(old[40 * 4096..<80 * 4096])
        new.replaceSubrange(400 * 4096..<440 * 4096, with: file)
        new.replaceSubrange(40 * 4096..<80 * 4096, with: [UInt8](repeating: 0, count: 40 * 4096))
        new[400 * 4096 + 123] ^= 0xff
        // A rewritten file of text, and metadata blocks touched.
        new.replaceSubrange(100 * 4096..<110 * 4096, with: Self.texty(40960, seed: 9))
        for b in [0, 1, 2, 250] { new[b * 4096 + 17] &+= 3 }
        let patch = try Self.roundTrip(old, new)
        #expect(patch.count < 12_000, "patch \(patch.count) bytes")
    }

    @Test func `executable-like data with shifted addresses`() throws {
        // Instructions with 4-byte little-endian absolute addresses; the new build inserts code
        // early, so every later address moves by the same amount.
        // Most instructions are unchanged; one in five carries an absolute address.
        var generator = SeededGenerator(seed: 11)
        var instructions: [(bytes: [UInt8], address: UInt32?)] = []
        var size = 0
        while size < 400_000 {
            if generator.next() % 5 == 0 {
                let address = UInt32(0x400000 + Int(generator.next() % 400_000))
                instructions.append(([0xe8, UInt8(generator.next() % 16)], address))
            } else {
                let word = generator.next()
                instructions.append((withUnsafeBytes(of: word, Array.init).prefix(6).map { $0 }, nil))
            }
            size += 6
        }
        func build(shift: UInt32) -> [UInt8] {
            var out: [UInt8] = []
            for (bytes, address) in instructions {
                out += bytes
                if let address { out += withUnsafeBytes(of: (address + shift).littleEndian, Array.init) }
            }
            return out
        }
        let old = build(shift: 0)
        let new = Self.random(3000, seed: 12) + build(shift: 3000)
        let patch = try Self.roundTrip(old, new)
        let xzOfNew = try XZEncoder.compress(new, preset: 9)
        #expect(patch.count * 4 < xzOfNew.count, "patch \(patch.count) vs xz \(xzOfNew.count)")
    }

    @Test func `windowed matching of an image larger than one window`() throws {
        let old = Self.texty(600_000, seed: 20) + Self.random(600_000, seed: 21)
        var new = old
        new.insert(contentsOf: Self.random(1000, seed: 22), at: 900_000)
        new.replaceSubrange(10..<20, with: [1, 2, 3])
        var options = DeltaOptions()
        options.windowSize = 256 << 10
        let patch = try Self.roundTrip(old, new, options: options)
        #expect(patch.count < 6_000, "patch \(patch.count) bytes")
    }

    @Test func `ops that jump between many old blocks and across their edges`() throws {
        // The decoder reads the old image through a cache of a few 64 KiB blocks and hands the
        // new image out in 256 KiB pieces from a ring of buffers. Pieces of 3,001 old bytes taken
        // in a scrambled order, each with one byte changed: more old blocks in play than it
        // caches, reads straddling block edges and the short last block (1.2 MB is not a multiple
        // of 64 KiB), and a new image of more pieces than the ring holds.
        let old = Self.random(1_200_000, seed: 50)
        var generator = SeededGenerator(seed: 51)
        var new: [UInt8] = []
        while new.count < 1_100_000 {
            let start = Int(generator.next() % UInt64(old.count - 3001))
            new += old[start..<(start + 3001)]
            new[new.count - 1500] &+= 1
        }
        new += old.suffix(5000)
        let patch = try Self.roundTrip(old, new)
        // The same through a file (pread) as from memory, and through the array-piece output.
        let directory = try TemporaryDirectory("delta-block-cache")
        let (oldPath, patchPath, outPath) = (
            directory.appending("old"), directory.appending("patch"), directory.appending("new")
        )
        try AtomicFileWriter.write(old, to: oldPath)
        try AtomicFileWriter.write(patch, to: patchPath)
        _ = try Delta.applyPatch(old: oldPath, patch: patchPath, output: outPath)
        #expect(try InputFile(path: outPath).readAll(limit: Int.max) == new)
        var pieces: [UInt8] = []
        let decoder = DeltaDecoder(source: try FileDeltaSource(path: oldPath)) {
            (bytes: [UInt8]) throws(OTAError) in pieces += bytes
        }
        try decoder.update(patch)
        _ = try decoder.finish()
        #expect(pieces == new)
    }

    @Test(arguments: [1, 7, 4096])
    func `the decoder accepts the patch in pieces of any size`(pieceSize: Int) throws {
        // Small input pieces make xz hand out small output pieces, so op headers, ADD run
        // pairs and literals are cut at every possible boundary.
        let old = Self.texty(60_000, seed: 40)
        var new = old
        for i in stride(from: 100, to: 60_000, by: 997) { new[i] &+= 1 }
        new.insert(contentsOf: Self.random(700, seed: 41), at: 30_000)
        let patch = try Delta.diff(old: old, new: new)
        var out: [UInt8] = []
        let decoder = DeltaDecoder(source: MemoryDeltaSource(old)) { (bytes: [UInt8]) throws(OTAError) in out += bytes }
        var offset = 0
        while offset < patch.count {
            let end = min(offset + pieceSize, patch.count)
            try decoder.update(Array(patch[offset..<end]))
            offset = end
        }
        _ = try decoder.finish()
        #expect(out == new)
    }

    @Test(arguments: HashAlgorithm.allCases)
    func `the header records the chosen hash`(algorithm: HashAlgorithm) throws {
        var options = DeltaOptions()
        options.hashAlgorithm = algorithm
        let old = Self.texty(10_000, seed: 30)
        let new = Self.texty(12_000, seed: 31)
        let patch = try Self.roundTrip(old, new, options: options)
        let header = try DeltaPatchHeader.decode(Array(patch.prefix(DeltaPatchHeader.byteCount)))
        #expect(header.oldHash == (try Hasher.hash(algorithm, old)))
        #expect(header.newHash == (try Hasher.hash(algorithm, new)))
        #expect(header.newSize == 12_000)
    }
}

extension RoundTripTests {
    @Test func `a dictionary that is not a power of two or above 256 MiB is refused`() {
        var options = DeltaOptions()
        options.dictionarySize = 3 << 20
        #expect(throws: OTAError(.deltaDictionary, "")) {
            _ = try Delta.diff(old: [1, 2, 3], new: [1, 2, 4], options: options)
        }
        options.dictionarySize = 512 << 20
        #expect(throws: OTAError(.deltaDictionary, "")) {
            _ = try Delta.diff(old: [1, 2, 3], new: [1, 2, 4], options: options)
        }
    }
}

extension RoundTripTests {
    /// An output that throws on one piece (a full disk): its own error is what the decoder
    /// reports, no later piece reaches the output, and every piece before it did, whatever the
    /// decoder's threads (`DeltaDecoder.Threads`).
    @Test(arguments: [0, 1, 3])
    func `an output that fails on a piece gets no later piece and its error is reported`(failing: Int) throws {
        // 1.3 MB: five 256 KiB output pieces.
        let old = Self.random(1_300_000, seed: 60)
        var new = old
        for i in stride(from: 1000, to: new.count, by: 50_000) { new[i] &+= 1 }
        let patch = try Delta.diff(old: old, new: new)
        for threads in DeltaDecoder.Threads.allCases {
            var written: [UInt8] = []
            var calls = 0
            let decoder = DeltaDecoder(source: MemoryDeltaSource(old), sourceCheck: .concurrent, threads: threads) {
                (piece: UnsafeRawBufferPointer) throws(OTAError) in
                calls += 1
                if calls == failing + 1 { throw OTAError(.ioWrite, "no space left for piece \(calls)") }
                written += piece
            }
            var caught: OTAError?
            do {
                _ = try decoder.decodeAll(patch, pieceSize: 4096)
            } catch {
                caught = error
            }
            #expect(caught?.code == .ioWrite, "\(threads)")
            #expect(caught?.message == "no space left for piece \(failing + 1)", "\(threads)")
            #expect(calls == failing + 1, "\(threads): pieces handed to the output")
            // (Compared outside #expect: a failure would diff 1.3 MB arrays element by element.)
            let writtenBefore = written == Array(new.prefix(failing * (256 << 10)))
            #expect(writtenBefore, "\(threads): \(written.count) bytes written")
            // Asked again, the decoder still refuses to finish, and writes nothing more.
            #expect(throws: (any Error).self) { _ = try decoder.finish() }
            #expect(calls == failing + 1, "\(threads)")
        }
    }
}
