internal import Dispatch
internal import OTABase
internal import Synchronization

/// The LZMA2 literal coding of the inserts stream (`lc` literal context bits, `pb` position
/// bits), chosen per patch from the first inserted bytes (`PatchFrameWriter`): the two
/// candidates are each best on some images. `lc`, `lp` and `pb` travel inside the raw LZMA2
/// stream, so the choice is not a format change.
///
/// Measured on the tuning corpus (docs/PERFORMANCE-LOG.md, "A second held-out corpus" and "The
/// inserts stream's literal coding chosen per patch"): lc 3 / pb 2 (xz's default) gives
/// patches up to 1.5% smaller on postgres, libpython and mariadbd; lc 1 / pb 0 up to 0.1%
/// smaller on librsvg and containerd.
struct InsertsCoding: Equatable, Sendable {
    var literalContextBits: UInt32
    var positionBits: UInt32
    var literalPositionBits: UInt32 = 0

    /// Previous fixed choice, kept when a trial is a tie or not possible.
    static let lowContext = InsertsCoding(literalContextBits: 1, positionBits: 0)
    static let xzDefault = InsertsCoding(literalContextBits: 3, positionBits: 2)
    static let candidates = [lowContext, xzDefault]
    /// The coding of word-aligned inserts (body coding bit 0x20, `InsertsAlignment`): literals
    /// and matches by position within the word. Not a trial candidate: the filter's trial
    /// aligns the inserts only when they compress smaller with it.
    static let wordAligned = InsertsCoding(literalContextBits: 2, positionBits: 2, literalPositionBits: 2)
    /// The operands stream's coding (body coding 5): 4-byte values, no literal context.
    static let operands = InsertsCoding(
        literalContextBits: PatchStream.operands.literalContextBits, positionBits: PatchStream.operands.positionBits)

    /// Inserted bytes the choice compresses at most (the first ones of the patch).
    static let sampleBytes = 1 << 20

    /// The trial's xz preset: a fast match finder. On the first MiB of the tuning corpus's
    /// inserts it ranks the two codings as preset 9 does on all 11 pairs, in a seventh of the
    /// time (docs/PERFORMANCE-LOG.md, "Idle machine, 2026-11-30 04:40").
    static let trialPreset: UInt32 = 1

    /// The candidate that compresses `sample` (inserted bytes) smallest at `trialPreset`, with
    /// a dictionary no larger than the sample or `dictionaryLimit`, each tried on its own thread;
    /// `lowContext` on a tie or when `sample` is empty.
    static func choose(_ sample: [UInt8], dictionaryLimit: UInt32) throws(OTAError) -> InsertsCoding {
        guard !sample.isEmpty else { return lowContext }
        let sizes = try trialSizes(
            candidates.map { (sample, $0) }, dictionarySize: dictionary(for: sample.count, limit: dictionaryLimit))
        return smallest(Array(zip(candidates, sizes)))
    }

    /// The coding of the smallest size, the earliest on a tie (`lowContext` first): the one rule
    /// of every literal-coding choice (`choose`, `InsertsFilter.trial`).
    static func smallest(_ sized: [(coding: InsertsCoding, size: Int)]) -> InsertsCoding {
        var best = 0
        for index in sized.indices.dropFirst() where sized[index].size < sized[best].size { best = index }
        return sized[best].coding
    }

    /// The compressed size of each trial's bytes with its coding at `trialPreset` and
    /// `dictionarySize`, each on its own thread.
    static func trialSizes(_ trials: [(bytes: [UInt8], coding: InsertsCoding)], dictionarySize: UInt32)
        throws(OTAError) -> [Int]
    {
        let settings = LZMA2Settings(preset: trialPreset, dictionarySize: dictionarySize)
        let outcomes = Mutex<[Result<Int, OTAError>?]>(Array(repeating: nil, count: trials.count))
        DispatchQueue.concurrentPerform(iterations: trials.count) { index in
            let outcome: Result<Int, OTAError>
            do throws(OTAError) {
                outcome = .success(
                    try compressedSize(trials[index].bytes, settings: settings, coding: trials[index].coding))
            } catch {
                outcome = .failure(error)
            }
            outcomes.withLock { $0[index] = outcome }
        }
        var sizes: [Int] = []
        for outcome in outcomes.withLock({ $0 }) { sizes.append(try outcome!.get()) }
        return sizes
    }

    /// `settings` with this coding.
    func applied(to settings: LZMA2Settings) -> LZMA2Settings {
        var settings = settings
        settings.literalContextBits = literalContextBits
        settings.literalPositionBits = literalPositionBits
        settings.positionBits = positionBits
        return settings
    }

    /// A dictionary for `count` bytes (a trial's sample, a stream's bytes): the smallest power of
    /// two from 4 KiB that holds them (a larger one finds nothing more), at most `limit`.
    static func dictionary(for count: Int, limit: UInt32 = 8 << 20) -> UInt32 {
        var size: UInt32 = 4096
        while Int(size) < count && size < limit { size <<= 1 }
        return size
    }

    static func compressedSize(_ bytes: [UInt8], settings: LZMA2Settings, coding: InsertsCoding)
        throws(OTAError) -> Int
    {
        let encoder = try LZMA2StreamEncoder(coding.applied(to: settings))
        var size = 0
        let result: Result<Void, OTAError> = bytes.withUnsafeBytes { raw in
            do throws(OTAError) {
                try encoder.update(raw) { size += $0.count }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        try encoder.flush { size += $0.count }
        return size
    }
}
