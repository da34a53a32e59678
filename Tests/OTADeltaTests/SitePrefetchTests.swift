import OTACore
import OTATestSupport
import Testing

@testable import OTADelta

/// The decoder scans old blocks for reference sites on another thread when its source allows
/// reads from two threads (`SitePrefetcher`); a source that does not is scanned in place. Both
/// must give the same bytes and, for any damaged patch, the same error.
@Suite struct SitePrefetchTests {
    /// An old image behind the plain `DeltaSource` protocol only: no second thread reads it.
    final class PlainSource: DeltaSource {
        let bytes: [UInt8]
        var byteCount: Int64 { Int64(bytes.count) }
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
            Array(bytes[Int(offset)..<Int(offset) + count])
        }
    }

    /// The new image, or the error's code and message.
    static func outcome(_ patch: [UInt8], source: any DeltaSource) -> String {
        var out: [UInt8] = []
        let decoder = DeltaDecoder(source: source) { (bytes: [UInt8]) throws(OTAError) in out += bytes }
        do {
            try decoder.update(patch)
            _ = try decoder.finish()
            return "ok \(out)"
        } catch {
            return "\(error.code.rawValue): \(error.message)"
        }
    }

    @Test(arguments: [SyntheticELF.Machine.x86_64, .aarch64])
    func `sites scanned ahead give the bytes and errors of sites scanned in place`(
        machine: SyntheticELF.Machine
    ) throws {
        let (old, new) = ReferenceTransformTests.pair(machine)
        let patch = try Delta.diff(old: old, new: new)
        #expect(try DeltaPatchHeader.decode(patch).hasTransform)
        #expect(Self.outcome(patch, source: MemoryDeltaSource(old)) == "ok \(new)")
        #expect(Self.outcome(patch, source: PlainSource(old)) == "ok \(new)")
        var generator = SeededGenerator(seed: 77)
        for _ in 0..<150 {
            var damaged = patch
            let i =
                Int(generator.next() % UInt64(patch.count - DeltaPatchHeader.byteCount)) + DeltaPatchHeader.byteCount
            damaged[i] ^= UInt8(1 << (generator.next() % 8))
            #expect(
                Self.outcome(damaged, source: MemoryDeltaSource(old)) == Self.outcome(damaged, source: PlainSource(old))
            )
        }
    }
}
