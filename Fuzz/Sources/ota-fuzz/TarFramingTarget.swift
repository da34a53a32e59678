import OTACore

/// The raw tar framing check (`TarFraming`) that every bundle read passes through: the input
/// is fed whole, then again in pieces of varying sizes (as file reads deliver it). The verdict
/// and the failing offset must not depend on how the bytes were split.
struct TarFramingTarget: FuzzTarget {
    static let name = "tar"
    static let summary = "TarFraming.consume/finish, whole and in pieces (the verdict must not depend on the split)"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        let whole = Self.verdict(input, pieces: [input.count])
        var generator = SplitGenerator(input)
        let split = Self.verdict(input, pieces: generator.pieces(covering: input.count))
        if whole != split {
            FuzzTargets.violated("tar framing: whole input gives \(whole), split input gives \(split)")
        }
    }

    /// Feeds `input` in pieces of the given lengths; returns the error or the final state.
    static func verdict(_ input: [UInt8], pieces: [Int]) -> String {
        var framing = TarFraming()
        var start = 0
        do throws(OTAError) {
            for length in pieces where length > 0 {
                let piece = Array(input[start..<(start + length)])
                let outcome: Result<Void, OTAError> = piece.withUnsafeBytes { raw in
                    do throws(OTAError) {
                        try framing.consume(raw)
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }
                try outcome.get()
                start += length
            }
            try framing.finish()
            return "complete at \(framing.offset)"
        } catch {
            return "\(error.code.rawValue): \(error.message)"
        }
    }
}
