extension DeltaEncoder {
    /// Zero runs shorter than this stay inside a literal stretch of an ADD payload.
    static let minimumZeroRun = 2

    /// The payload of an ADD, as runs of (zero differences, literal differences) until `length`
    /// bytes are covered: a token per run in `runs` and the literal difference bytes in
    /// `differences`. Recompiled code differs from its old version in a few bytes per hundred,
    /// so most of an ADD is zero runs.
    static func addPayload(
        base o: UnsafePointer<UInt8>, new n: UnsafePointer<UInt8>, length: Int, to writer: PatchFrameWriter
    ) {
        var i = 0
        while i < length {
            let zeros = commonPrefixLength(o + i, n + i, length - i)
            var end = i + zeros
            // Literals run until a zero run of `minimumZeroRun` (or the end) starts.
            while end < length {
                if n[end] == o[end] {
                    let run = commonPrefixLength(o + end, n + end, min(minimumZeroRun, length - end))
                    if run >= minimumZeroRun || end + run == length { break }
                    end += run
                } else {
                    end += 1
                }
            }
            let literals = end - i - zeros
            writer.appendVarint(.runs, UInt64(zeros) << 3 | UInt64(min(literals, 7)))
            if literals >= 7 { writer.appendVarint(.runs, UInt64(literals - 7)) }
            for k in (i + zeros)..<end { writer.append(.differences, n[k] &- o[k]) }
            i = end
        }
    }
}
