public import OTABase

/// Settings for making a patch.
public struct DeltaOptions: Sendable {
    /// Hash recorded for the old and new images (the bundle suite's hash).
    public var hashAlgorithm: HashAlgorithm = .sha256
    /// The largest LZMA2 dictionary of the inserted bytes (a power of two, 4 KiB...256 MiB): the
    /// vehicle's decoder needs about this much memory, a quarter more for the inserted x86-64
    /// operands (body coding 5), plus up to 3 MiB for the other streams. A patch uses less when
    /// less holds what the stream must (`DeltaEncoder.streamSettings`): past 8 MiB only a patch
    /// that inserts more than 8 MiB. 16 MiB (hdiffz's `-c-lzma2-9-16m`) since 2026-12-02, 8 MiB
    /// before: such patches 2-8% smaller on a held-out corpus, for about 8 MiB more memory on the
    /// vehicle (docs/PERFORMANCE.md, "A fourth held-out corpus, and a 16 MiB inserts dictionary").
    public var dictionarySize: UInt32 = 16 << 20
    /// The same bound for a patch whose inserted bytes are not known before it is written (no
    /// executable transform; the new image bounds it instead): 8 MiB unless `setDictionarySize`
    /// gives one, as a larger one is not measured there.
    public var streamingDictionarySize: UInt32 = 8 << 20
    /// xz preset 0...9 and extreme mode (measured no smaller on our corpus once ADD payloads
    /// were run-length coded); the dictionary size above overrides the preset's.
    public var preset: UInt32 = 9
    public var extreme = false
    /// Old bytes indexed by one suffix array (4 bytes of memory per byte). Larger old images are
    /// matched in half-overlapping windows of this size, plus whole-image block matching.
    public var windowSize = 1 << 30
    /// Block size of the whole-image block pass (the filesystem block size).
    public var blockSize = 4096
    /// Shortest run of whole blocks the block pass keeps (shorter ones go to the matcher).
    public var minimumBlockRun = 32 << 10
    /// Estimated compressed bytes a cover must save to be kept (`CoverMatcher`); 12-20 gave
    /// the smallest patches on the benchmark corpus (HDiffPatch uses 6 with its own estimate).
    public var minimumCoverScore = 16
    /// When block copies use at least this fraction of the old image, the suffix array indexes
    /// only the old bytes they do not use (see `OldIndexSpace`); above 1 never. 0.35 since
    /// 2026-11-30 (0.5 before): the four corpus pairs between the two, packed, used 23-34% less
    /// diff memory for patches within ±164 bytes (docs/PERFORMANCE.md, "A third held-out
    /// corpus", which this choice has seen).
    public var packedIndexThreshold = 0.35
    /// The executable transform (patch format 3): when both images hold x86-64 or AArch64 ELF
    /// code, match with reference fields masked and let ADD ops predict the new references
    /// (`ReferenceTransform`); an op uses the prediction only where it leaves fewer differing
    /// bytes. Without ELF code the patch is format 2, whatever this says.
    public var referenceTransform = true
    /// Pair AArch64 ADRPs with the ADD/LDR/STR that use their register (patch format 4, written
    /// only when the old image holds AArch64 code); off, AArch64 patches are format 3, which
    /// decoders older than format 4 read.
    public var pairAArch64References = true
    /// Write inserted code's relative fields absolute by their new-image offset (body coding 3
    /// for AArch64, 4 for x86-64, `InsertsFilter`) when the new image is an ELF file of that
    /// instruction set and a trial on the first inserted MiB says it pays; off, coding 2.
    public var filterInserts = true
    /// With the x86-64 filter: move the inserted operands to a stream of their own, by kind
    /// (body coding 5, `InsertsOperands`) when the same trial says that is smaller than coding
    /// 4: 2.1-3.4% smaller patches on the eight amd64 Rust tuning pairs, 0.3-0.5% on postgres
    /// and mariadbd amd64, the same on the rest (docs/PERFORMANCE.md, "Inserted x86-64 operands
    /// in a stream of their own"); off, decoders older than body coding 5 read the patch.
    public var splitOperands = true
    /// Keep inserted AArch64 code word-aligned in the inserts stream with zero padding (body
    /// coding bit 0x20, `InsertsAlignment`) when the new image is an AArch64 ELF file and the
    /// inserts trial says the padded bytes compress smaller with LZMA2 `lc 2 / lp 2 / pb 2`:
    /// 3.5-5.5% smaller patches on the arm64 Rust tuning pairs, up to 1.8% on the other arm64
    /// tuning pairs (docs/PERFORMANCE.md, "Inserted AArch64 code kept word-aligned"); off,
    /// decoders older than the bit read the patch.
    public var alignInserts = true
    /// When the inserts stream's LZMA2 dictionary starts with old-image bytes (the 0x10 bit of the
    /// body coding, `InsertsPrime`: the old image's first `dictionarySize` bytes, all of it when
    /// it fits), so inserted bytes find matches in the old image that no op pays to copy; an
    /// update that is mostly new code then keeps only covers worth
    /// `DeltaEncoder.newCodeCoverScore`.
    public enum InsertsPriming: String, Sendable, CaseIterable {
        /// Never: decoders without the bit read the patch.
        case never
        /// When every op is known first (the transform's matching) and at least half of the new
        /// image is inserted (`DeltaEncoder.isMostlyNew`): 2.1-4.9% smaller on the Rust tuning
        /// corpus, for more diff time and memory there (the LZMA2 encoder's match finder over
        /// the primed bytes, a larger dictionary); updates that are mostly copied are not
        /// primed, and their patches are those of `never`.
        case mostlyNew
        /// Always: also 0.04-3.2% smaller on updates that are mostly copied (the tuning
        /// corpus's), for up to ~4.7 s more diff time and ~90 MiB more diff memory there
        /// (docs/PERFORMANCE.md, "Inserts primed with old bytes").
        case always
    }

    /// When the inserts are primed with old bytes.
    public var insertsPriming = InsertsPriming.mostlyNew
    /// Compress the inserted bytes in two halves at once when every op is known first (the
    /// transform's matching), at least 2 MiB are inserted and the inserts are not primed
    /// (`PatchFrameWriter`). On the 10 Rust tuning pairs that insert that much: diff wall
    /// 0.75-0.99x (clearly faster on 5, within the noise on the rest), patches 0.04-0.41%
    /// larger, 19-35 MiB more diff memory; held out, cargo (25 MiB): 0.70-0.77x, 0.9-1.0%
    /// larger, ~90 MiB more (docs/PERFORMANCE.md, "Inserts compressed in two halves"). Primed,
    /// the second half would lose the primed old bytes (2.4-4.7% larger on four Rust pairs), so
    /// a primed patch is not split.
    /// Off by default; the patch is the same format either way.
    public var parallelInserts = false
    /// Carry the new image's changed zlib and gzip streams and deflated zip entries puffed, as a
    /// delta against the old image's, and write their deflate bits back on the vehicle (body
    /// compression bit 0x80, `RecompressedStreams`), when the block is smaller than the streams;
    /// off, decoders older than the bit read the patch.
    public var recompressStreams = true
    /// Most address map entries the transform may carry (the decoder's default limit).
    public var maxTransformMapEntries = DeltaLimits().maxTransformMapEntries
    /// Tests: write the transform block even when its predictions do not pay for it.
    var keepTransform = false
    /// Tests: regions to use instead of the ELF programs found in the images.
    var forcedTransformRegions: (old: [ReferenceTransform.Region], new: [ReferenceTransform.Region])?

    public init() {}
}

extension DeltaOptions {
    /// Sets `dictionarySize` and `streamingDictionarySize` from a command-line size (`8MiB`, `8M`, `512KiB`, `8388608`): a
    /// power of two from 1 MiB to 256 MiB, else `usage.invalid` (`ota delta create` and `ota-diff`).
    public mutating func setDictionarySize(_ text: String) throws(OTAError) {
        guard let bytes = Self.byteCount(text), bytes >= 1 << 20, bytes <= 256 << 20, bytes.nonzeroBitCount == 1 else {
            throw OTAError(
                .usageInvalid,
                "--dictionary-size must be a power of two from 1MiB to 256MiB, such as 8MiB (got \(text))")
        }
        dictionarySize = UInt32(bytes)
        streamingDictionarySize = UInt32(bytes)
    }

    /// `8MiB`, `8M`, `8388608`, `512KiB`: a byte count with an optional binary unit.
    static func byteCount(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let number = UInt64(text.dropLast(suffix.count)) else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        return UInt64(text)
    }
}
