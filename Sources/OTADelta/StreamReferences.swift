/// Which earlier streams of the recompressed-streams block's history each new stream repeats,
/// found by fingerprints of its decompressed bytes, and so how far back the block's LZMA2
/// encoder must see. Its dictionary costs the encoder ~10 bytes of memory a byte, so it is
/// sized to the farthest reference, not to the whole history: git-delta's 138 changed assets
/// each repeat their own old version about 3.4 MB back, not the whole 7.2 MB.
///
/// Fingerprints are sampled where a gear hash (each byte's random 64-bit value added to the
/// hash shifted left by one, so it depends on the last 64 bytes) has its 6 high bits clear:
/// about one position in 64, the same positions in any stream holding the same bytes.
struct StreamReferences {
    /// For each fingerprint, the stream that last held it (the nearest to a later stream).
    private var holder: [UInt64: Int] = [:]
    /// Each stream's start in the history.
    private var starts: [Int] = []
    /// The history's bytes so far.
    private(set) var historyBytes = 0
    /// The farthest any new stream must see back from its end: to the start of the farthest
    /// earlier stream it repeats, else its own start.
    private(set) var reach = 0

    /// A new stream must share this share of its sampled fingerprints with an earlier stream
    /// (and at least `minimumVotes`) for that stream to count in its reach: one that shares
    /// only a few phrases is left out.
    static let voteShare = 16
    static let minimumVotes = 2

    /// Adds the next stream of the history, `size` bytes there, whose decompressed bytes are
    /// `data`: an old stream (`isNew` false) only offers its fingerprints; a new one first finds
    /// the earlier streams it repeats and extends `reach` to them, then offers its own.
    mutating func add(data: [UInt8], size: Int, isNew: Bool) {
        let index = starts.count
        let start = historyBytes
        let fingerprints = Self.fingerprints(data)
        if isNew {
            var counts: [Int: Int] = [:]
            for fingerprint in fingerprints {
                if let earlier = holder[fingerprint] { counts[earlier, default: 0] += 1 }
            }
            let needed = max(Self.minimumVotes, fingerprints.count / Self.voteShare)
            let farthest = counts.filter { $0.value >= needed }.map { starts[$0.key] }.min() ?? start
            reach = max(reach, start + size - farthest)
        }
        starts.append(start)
        historyBytes += size
        for fingerprint in fingerprints { holder[fingerprint] = index }
    }

    /// The sampled fingerprints of `data`, each once.
    static func fingerprints(_ data: [UInt8]) -> Set<UInt64> {
        var found = Set<UInt64>()
        var hash: UInt64 = 0
        data.withUnsafeBufferPointer { bytes in
            gear.withUnsafeBufferPointer { gear in
                for (position, byte) in bytes.enumerated() {
                    hash = hash << 1 &+ gear[Int(byte)]
                    if hash >> 58 == 0 && position >= 63 { found.insert(hash) }
                }
            }
        }
        return found
    }

    /// 256 fixed random values (splitmix64 from a constant seed).
    private static let gear: [UInt64] = {
        var state: UInt64 = 0x6F74_615F_7265_6163
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }()
}
