import OTABase
import OTATestSupport
import Testing

@testable import OTADelta

/// The inserts stream's literal coding is chosen per patch by compressing the inserted bytes
/// (or a sample) both ways; the patch carries the choice inside its LZMA2 stream and decodes.
@Suite struct InsertsCodingTests {
    /// 4-byte-aligned records of slowly growing counters: position bits and more literal
    /// context pay (python's lzma on similar records, at the trial's preset 1: 32,156 against 33,130
    /// bytes).
    static func records(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        for i in 0..<count {
            let counter = UInt32(1000 + i * 3) + UInt32.random(in: 0..<4, using: &random)
            let tag = UInt16.random(in: 0..<8, using: &random)
            withUnsafeBytes(of: counter.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: tag.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt16(0x1234).littleEndian) { bytes += $0 }
        }
        return bytes
    }

    /// Bytes drawn from eight letters: no context to learn, so fewer contexts pay
    /// (python's lzma on similar bytes, preset 1: 43,072 against 43,137).
    static func letters(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        let alphabet = Array("abcdefgh".utf8)
        return (0..<count).map { _ in alphabet.randomElement(using: &random)! }
    }

    static func choose(_ sample: [UInt8]) throws -> InsertsCoding {
        try InsertsCoding.choose(sample, dictionaryLimit: 1 << 20)
    }

    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count { withUnsafeBytes(of: random.next()) { bytes += $0 } }
        return Array(bytes[..<count])
    }

    @Test func `the coding that compresses the sample smaller is chosen`() throws {
        #expect(try Self.choose(Self.records(20_000, seed: 1)) == .xzDefault)
        #expect(
            try Self.choose(Self.letters(100_000, seed: 2)) == .lowContext)
        #expect(try Self.choose([]) == .lowContext)
    }

    /// The properties byte of the first compressed chunk of the inserts stream: lc + 9 × (lp +
    /// 5 × pb).
    static func insertsProperties(_ patch: [UInt8]) throws -> UInt8? {
        var at = DeltaPatchHeader.byteCount
        func varint() -> Int {
            var value = 0
            var shift = 0
            while true {
                let byte = patch[at]
                at += 1
                value |= Int(byte & 0x7f) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
        while at < patch.count {
            let raw = (0..<4).map { _ in varint() }
            let packed = (0..<4).map { _ in varint() }
            if raw[PatchStream.inserts.rawValue] > 0 {
                let piece = at + packed[0..<PatchStream.inserts.rawValue].reduce(0, +)
                // A compressed chunk that resets the state: control, 2 + 2 size bytes, properties.
                try #require(patch[piece] >= 0xc0)
                return patch[piece + 5]
            }
            at += packed.reduce(0, +)
        }
        return nil
    }

    @Test(arguments: [true, false])
    func `a patch carries the coding its first inserted bytes choose and round trips`(_ recordsFirst: Bool) throws {
        let old = Self.random(65_536, seed: 5)
        // More than the sample in each kind: the first MiB decides.
        let records = Self.records(200_000, seed: 1)
        let letters = Self.letters(1_200_000, seed: 2)
        let inserted = recordsFirst ? records + letters : letters + records
        let new = Array(old[..<32_768]) + inserted + Array(old[32_768...])
        let patch = try RoundTripTests.roundTrip(old, new)
        #expect(try Self.insertsProperties(patch) == (recordsFirst ? 3 + 9 * 5 * 2 : 1))
    }

    /// With every op known (the transform's matching), the filter's trial chooses the literal
    /// coding of the bytes the inserts stream will hold, by `choose`'s rule, and no frame is held.
    @Test func `the inserts filter's trial chooses the literal coding by the same rule`() throws {
        for architecture in [ReferenceArchitecture.x86_64, .aarch64] {
            for (bytes, expected) in [
                (Self.records(60_000, seed: 1), InsertsCoding.xzDefault), (Self.letters(300_000, seed: 2), .lowContext),
            ] {
                let choice = try bytes.withUnsafeBufferPointer {
                    try InsertsFilter.trial(architecture, ops: [.insert(length: bytes.count)], new: $0, align: false)
                }
                #expect(choice.verdict == .plain && !choice.aligned)
                #expect(choice.coding == expected, "\(architecture)")
                #expect(try Self.choose(bytes) == expected)
            }
        }
        let none = try [UInt8]().withUnsafeBufferPointer { try InsertsFilter.trial(.x86_64, ops: [], new: $0) }
        #expect(none == InsertsFilter.Choice(verdict: .plain, coding: .lowContext))
    }

    @Test func `with few inserted bytes the choice is made once enough frames are held`() throws {
        // 9 MiB of ADDs whose every byte differs fill more than `holdBytes` of frames before the
        // first inserted byte: the choice is made with nothing inserted (lc 1 / pb 0), though
        // the records inserted after them would choose lc 3 / pb 2.
        let old = Self.random(9 << 20, seed: 6)
        let records = Self.records(20_000, seed: 1)
        let new = old.map { $0 &+ 1 } + records
        var settings = DeltaEncoder(options: DeltaOptions()).streamSettings(newSize: new.count)
        settings[PatchStream.inserts.rawValue].dictionarySize = 1 << 20
        let writer = try PatchFrameWriter(settings: settings)
        var body: [UInt8] = []
        let sink = { (bytes: [UInt8]) throws(OTAError) in body += bytes }
        var statistics = DeltaStatistics()
        try old.withUnsafeBufferPointer { o in
            try new.withUnsafeBufferPointer { n in
                var stream = OpStreamWriter(old: o, new: n, writer: writer)
                try stream.write(.add(oldStart: 0, length: old.count), statistics: &statistics, sink: sink)
                try stream.write(.insert(length: records.count), statistics: &statistics, sink: sink)
            }
        }
        try writer.finish(sink: sink)
        #expect(writer.insertsCoding == .lowContext)
        let header = try AdversarialPatchTests.header(
            old: old, new: new, bodySize: writer.totalRawBytes, dictionaries: settings.map(\.dictionarySize))
        let patch = header + body
        #expect(try Self.insertsProperties(patch) == 1)
        #expect(try Delta.apply(old: old, patch: patch) == new)
    }
}
