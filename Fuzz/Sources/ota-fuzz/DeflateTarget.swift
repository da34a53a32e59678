import OTACore
import OTADelta

/// The deflate stream codec of recompressed streams: `DeflatePuff` takes apart the old image's
/// streams on the vehicle (bytes a block names), `DeflateHuff` writes the new ones back from the
/// block's puffed parts (hostile). The first byte picks how the rest is read:
///
/// - even: the rest is a stream after `prefix` container bytes (the byte's bits 1-2: 0, 2 or
///   10) with `suffix` trailer bytes (bits 3-4: 0, 4 or 8). Whatever puff accepts, huff must
///   write back to exactly the bytes puff consumed.
/// - odd: three 16-bit lengths, then the headers, tokens and data parts for huff, which must
///   refuse or write, never trap.
struct DeflateTarget: FuzzTarget {
    static let name = "deflate"
    static let summary = "DeflatePuff.puff (huff of its result must give the bytes back), DeflateHuff.huff on raw parts"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        var reader = FuzzInput(input)
        let mode = reader.byte()
        if mode & 1 == 0 {
            let prefix = [0, 2, 10, 0][Int(mode >> 1) & 3]
            let suffix = [0, 4, 8, 0][Int(mode >> 3) & 3]
            let bytes = reader.rest()
            let puffed: (stream: PuffedStream, consumed: Int)
            do throws(DeflateStreamError) {
                puffed = try bytes.withUnsafeBufferPointer { (raw) throws(DeflateStreamError) in
                    try DeflatePuff.puff(
                        UnsafeRawBufferPointer(raw), prefixLength: prefix, suffixLength: suffix, maxData: 1 << 20)
                }
            } catch {
                return
            }
            var output: [UInt8] = []
            do throws(DeflateStreamError) {
                try puffed.stream.huff(into: &output)
            } catch {
                FuzzTargets.violated("deflate: huff refused what puff made: \(error.message)")
            }
            guard output.elementsEqual(bytes.prefix(puffed.consumed)) else {
                FuzzTargets.violated("deflate: huff wrote other bytes than the \(puffed.consumed) puff read")
            }
        } else {
            let sizes = (0..<3).map { _ in Int(reader.integer(UInt16.self)) }
            let parts = sizes.map { reader.bytes($0) }
            var output: [UInt8] = []
            try? PuffedStream(headers: parts[0], tokens: parts[1], data: parts[2]).huff(into: &output)
        }
    }
}
