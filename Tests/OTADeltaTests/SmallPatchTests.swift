import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// Identical, near-identical, empty and tiny images: the encoder never pays for the executable
/// transform when its predictions buy nothing, so such patches are as small as the plain form.
@Suite struct SmallPatchTests {
    /// A patch made by the encoder itself (for its statistics), checked to rebuild `new`.
    static func encode(_ old: [UInt8], _ new: [UInt8], options: DeltaOptions = DeltaOptions()) throws -> (
        patch: [UInt8], statistics: DeltaStatistics
    ) {
        let (patch, statistics) = try encoded(old, new, options: options)
        #expect(try Delta.apply(old: old, patch: patch) == new)
        return (patch, statistics)
    }

    /// A patch made by the encoder itself, and its statistics.
    static func encoded(_ old: [UInt8], _ new: [UInt8], options: DeltaOptions = DeltaOptions()) throws -> (
        patch: [UInt8], statistics: DeltaStatistics
    ) {
        var patch: [UInt8] = []
        let (header, statistics) = try old.withUnsafeBufferPointer { o in
            try new.withUnsafeBufferPointer { n in
                try DeltaEncoder(options: options).encode(old: o, new: n, progress: nil) {
                    (bytes: [UInt8]) throws(OTAError) in patch += bytes
                }
            }
        }
        patch.replaceSubrange(0..<header.count, with: header)
        return (patch, statistics)
    }

    @Test(arguments: [SyntheticELF.Machine.x86_64, .aarch64])
    func `identical programs make a plain patch no larger than without the transform`(
        _ machine: SyntheticELF.Machine
    ) throws {
        let image = SyntheticELF.image(SyntheticELF.newVersion, machine: machine)
        let (patch, statistics) = try Self.encode(image, image)
        let plain = try RoundTripTests.roundTrip(image, image, options: ReferenceTransformTests.withoutTransform())
        #expect(try DeltaPatchHeader.decode(patch).version == 2)
        #expect(statistics.transformBytes == 0 && statistics.transformMapEntries == 0)
        // (Off, the filter's trial runs on the new image's start and may choose five streams: two
        // more bytes of frame header with nothing inserted.)
        #expect(patch.count <= plain.count, "with the transform on \(patch.count) bytes, off \(plain.count)")
        // The floor: the header (two digests), one frame header and one COPY.
        #expect(patch.count <= DeltaPatchHeader.byteCount + 24, "\(patch.count) bytes")
    }

    @Test(arguments: [SyntheticELF.Machine.x86_64, .aarch64])
    func `a program whose data alone changed gets no transform block`(_ machine: SyntheticELF.Machine) throws {
        let old = SyntheticELF.image(SyntheticELF.oldVersion, machine: machine)
        var new = old
        // A few bytes at the end of the data segment: no code moved, no reference changed.
        for i in stride(from: new.count - 4000, to: new.count - 3000, by: 50) { new[i] &+= 1 }
        let (patch, statistics) = try Self.encode(old, new)
        let plain = try RoundTripTests.roundTrip(old, new, options: ReferenceTransformTests.withoutTransform())
        #expect(try DeltaPatchHeader.decode(patch).version == 2)
        #expect(statistics.transformBytes == 0 && statistics.predictedAddBytes == 0)
        #expect(patch.count <= plain.count, "with the transform on \(patch.count) bytes, off \(plain.count)")
    }

    @Test(arguments: [SyntheticELF.Machine.x86_64, .aarch64])
    func `recompiled code still carries the transform block it pays for`(_ machine: SyntheticELF.Machine) throws {
        let (old, new) = ReferenceTransformTests.pair(machine)
        let (patch, statistics) = try Self.encode(old, new)
        #expect(try DeltaPatchHeader.decode(patch).version == (machine == .x86_64 ? 3 : 4))
        #expect(statistics.transformBytes > 0)
        #expect(statistics.predictedSiteBytes > statistics.transformBytes)
    }

    @Test func `empty and tiny images cost the header and at most one small frame`() throws {
        let header = DeltaPatchHeader.byteCount
        #expect(try Self.encode([], []).patch.count == header)
        #expect(try Self.encode([1, 2, 3], []).patch.count == header)
        for (old, new) in [([UInt8](), [UInt8]([1, 2, 3])), ([7], [7]), (Array("hello".utf8), Array("hello".utf8))] {
            let (patch, _) = try Self.encode(old, new)
            #expect(try DeltaPatchHeader.decode(patch).version == 2)
            #expect(patch.count <= header + 24, "\(old.count) -> \(new.count) bytes: patch \(patch.count) bytes")
        }
    }
}
