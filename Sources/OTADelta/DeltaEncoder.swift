internal import Dispatch
internal import OTABase

/// Makes a patch from two images held in memory (or mapped).
///
/// Time: linear in the image sizes for the block pass and the suffix sorting, plus
/// O(n log n) for the match search of the bytes the block pass leaves. Memory: the two images
/// (with the transform the masked copies instead while matching, when the images are mapped
/// files the caller lets the encoder evict; the masked new image is freed during the suffix
/// sort), plus 4 bytes per indexed old byte while sorting, then the bits a position needs (the
/// old bytes no block run uses when runs use at least half of it, else the whole window: default
/// 1 GiB windows, so at most ~4.2 GiB extra), plus a lookup table (256 KiB, or 64 MiB for windows of
/// 64 MiB and more), the op list and the four LZMA2 encoders (set up once matching is done when
/// the patch has the transform), with up to 8 MiB of frames held raw while the inserts' coding
/// is chosen (`PatchFrameWriter`), or up to 32 MiB in flight with `DeltaOptions.parallelInserts`.
struct DeltaEncoder {
    /// Drops an image from memory until it is next read (for mapped files; never for bytes
    /// that exist only in memory).
    struct ImageEviction {
        var old: () -> Void
        var new: () -> Void
    }

    let options: DeltaOptions
    /// The inserted bytes' LZMA2 compression is the longest single task of a diff; nice length
    /// 48 instead of the preset's 64 made it ~9% faster for +0.02% on libpython (32: +0.2%).
    static let insertsNiceLength: UInt32 = 48
    /// Gaps longer than this are matched in pieces, in parallel.
    static let matchPiece = 4 << 20

    /// Writes the patch to `sink`: a 108-byte placeholder, then the framed streams. Returns the
    /// header, which the caller puts over the placeholder (its body size is known only at the
    /// end: compression starts on the first pieces while the matcher works on later ones).
    /// `eviction`, when given, drops `old` or `new` from memory until it is read again (mapped
    /// files: `MappedFile.evict`); the encoder uses it while it matches on masked copies.
    func encode(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, progress: DeltaProgress?,
        eviction: ImageEviction? = nil, sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) -> (header: [UInt8], statistics: DeltaStatistics) {
        for size in [options.dictionarySize, options.streamingDictionarySize] {
            guard size.nonzeroBitCount == 1,
                DeltaPatchHeader.dictionaryExponents.contains(UInt8(size.trailingZeroBitCount))
            else {
                throw OTAError(
                    .deltaDictionary, "the patch dictionary must be a power of two, 4 KiB...256 MiB (got \(size))")
            }
        }
        progress?("index", 0)
        // The executable transform: match on copies with reference fields cleared. The matcher
        // then reads only those copies: when the caller lets us, each image is hashed and dropped
        // from memory once its copy is made, until the ops are written.
        var oldHash: Digest?
        var newHash: Digest?
        var hashError: OTAError?
        func hashThenEvict(_ image: UnsafeBufferPointer<UInt8>, _ evict: () -> Void) -> Digest? {
            do throws(OTAError) {
                let digest = try Hasher.hash(options.hashAlgorithm, UnsafeRawBufferPointer(image))
                evict()
                return digest
            } catch {
                hashError = error
                return nil
            }
        }
        let analysis =
            options.referenceTransform
            ? ReferenceAnalysis(
                old: old, new: new, regions: options.forcedTransformRegions, pairs: options.pairAArch64References,
                doneWithOld: { if let eviction { oldHash = hashThenEvict(old, eviction.old) } },
                doneWithNew: { if let eviction { newHash = hashThenEvict(new, eviction.new) } },
                evictOld: eviction?.old, evictNew: eviction?.new)
            : nil
        if let hashError { throw hashError }
        let plan = plan(
            old: analysis.map { UnsafeBufferPointer($0.maskedOld) } ?? old,
            new: analysis.map { UnsafeBufferPointer($0.maskedNew) } ?? new)
        // The index searches a packed copy of the old bytes: the masked old image is done with.
        if plan.space.isPacked { analysis?.releaseMaskedOld() }
        // Nothing reads the masked new image during the suffix sort: made again after it (from
        // the new image and its packed sites), so the sort's peak does not hold it.
        analysis?.releaseMaskedNew()
        let evictNew = eviction?.new
        let matchNew = MatchNewBytes {
            guard let analysis else { return new }
            return analysis.remaskedNew(new, evict: evictNew)
        }
        let results = PieceResults(count: plan.pieces.count)
        // Primed, with every op awaited (the transform's matching), a second set of ops keeps
        // only the covers worth `newCodeCoverScore`; used when the update is mostly new code.
        // Mostly new or not is known once every op is: until then both covers' lists are made
        // (`matchPieces` stops the second once the first copies more than half).
        let primeCandidate =
            options.insertsPriming != .never
            ? Self.insertsPrime(
                oldSize: old.count, limit: Self.primeLimit(insertedBytes: nil, limit: options.dictionarySize)) : nil
        var prime = options.insertsPriming == .always ? primeCandidate : nil
        let scores =
            primeCandidate != nil && analysis != nil
            ? [options.minimumCoverScore, Self.newCodeCoverScore] : [options.minimumCoverScore]
        let input = SharedMatchInput(plan: plan, minimumScores: scores)
        let matching = DispatchGroup()
        // With the transform every op is awaited before the first is written: the pieces can be
        // matched in any order. Without it, the writer takes them in new order as they come.
        let anyOrder = analysis != nil
        DispatchQueue.global().async(group: matching) {
            Self.matchPieces(
                input.plan, new: matchNew.bytes, minimumScores: input.minimumScores, longestFirst: anyOrder,
                results: results)
        }
        defer { matching.wait() }
        // Otherwise hashing overlaps the suffix sort.
        if oldHash == nil { oldHash = try Hasher.hash(options.hashAlgorithm, UnsafeRawBufferPointer(old)) }
        if newHash == nil { newHash = try Hasher.hash(options.hashAlgorithm, UnsafeRawBufferPointer(new)) }

        // The streams the recompressed-streams block rebuilds, chosen while the matcher runs:
        // the ops are cut around them (`RebuiltRangeCutter`) before anything counts them.
        let choice =
            options.recompressStreams
            ? RecompressedStreams.choose(
                old: old, new: new, dictionaryLimit: options.dictionarySize, limits: DeltaLimits()) : nil

        try sink([UInt8](repeating: 0, count: DeltaPatchHeader.byteCount))
        var statistics = DeltaStatistics()
        // The block comes first after the header. With the transform it is made once the
        // matcher is done, so its LZMA2 encoder's memory (~10 bytes a byte of its window) does
        // not add to the suffix sort's peak; otherwise the frames start while the matcher runs,
        // so it is made now, beside the matcher.
        var recompressed: RecompressedStreams?
        func writeRecompressed() throws(OTAError) {
            guard let choice else { return }
            recompressed = try RecompressedStreams.make(
                choice, old: old, new: new, dictionaryLimit: options.dictionarySize, preset: options.preset,
                extreme: options.extreme)
            if let recompressed {
                try sink(recompressed.block)
                statistics.recompressedBlockBytes = Int64(recompressed.block.count)
            }
        }
        if analysis == nil { try writeRecompressed() }
        var transform: ReferenceTransform?
        var prediction: OpStreamWriter.Prediction?
        var allOps: [DeltaOperation] = []
        var insertedBytes: Int?
        if let analysis {
            // The map needs every op's alignment before the first op is written.
            var lists = [[DeltaOperation]](repeating: [], count: scores.count)
            try Self.forEachJoinedOp(plan, results: results, alternatives: scores.count) { lists[$0].append($1) }
            if let choice { lists = lists.map { RebuiltRangeCutter.cut($0, ranges: choice.holes) } }
            allOps = lists[0]
            if lists.count > 1 && Self.isMostlyNew(lists[0]) {
                allOps = lists[1]
                prime = primeCandidate
            }
            lists = []
            var pairs: [(old: Int, new: Int, length: Int)] = []
            var position = 0
            var inserted = 0
            for op in allOps {
                switch op {
                case .copy(let o, let l), .add(let o, let l): pairs.append((o, position, l))
                case .insert(let l): inserted += l
                case .rebuilt: break
                }
                position += op.length
            }
            // Every op is known: the suffix index is gone once the matcher returns, and the
            // masked images are not needed any more; free both before the encoders are set up.
            matching.wait()
            analysis.releaseMaskedImages()
            analysis.unpackOldSites()
            try writeRecompressed()
            // A block no smaller than its streams was dropped: their bytes are inserted after all.
            if choice != nil && recompressed == nil {
                allOps = allOps.map { op in
                    guard case .rebuilt(let length) = op else { return op }
                    return .insert(length: length)
                }
            }
            insertedBytes = inserted
            if prime != nil {
                prime = Self.insertsPrime(
                    oldSize: old.count, limit: Self.primeLimit(insertedBytes: inserted, limit: options.dictionarySize))
            }
            let made = analysis.transform(pairs: pairs, old: old, new: new, maxEntries: options.maxTransformMapEntries)
            // The block pays only when its predictions remove more differing bytes than it
            // has bytes; else the same ops go out as format 2 (identical images, data-only
            // changes, images too small for the map to pay).
            let block = try Self.transformBlock(made)
            let candidate = OpStreamWriter.Prediction(transform: made, analysis: analysis)
            let enough = Self.transformPayback * block.count
            let gain = OpStreamWriter.predictionGain(
                allOps, prediction: candidate, old: old, new: new, enough: enough)
            statistics.predictedSiteBytes = Int64(gain)
            if gain > enough || options.keepTransform {
                try sink(block)
                statistics.transformMapEntries = made.map.count
                statistics.transformBytes = Int64(block.count)
                transform = made
                prediction = candidate
            }
        }
        // A trial decides whether the filter pays: on the first inserted bytes when every op is
        // known (the transform's matching), else (the ops stream out) on the new image's start.
        // The same trial chooses the inserts' literal coding when it saw the inserted bytes
        // (or aligned them), else the writer chooses it from its first frames.
        var bodyCoding = DeltaPatchHeader.BodyCoding.plain
        var insertsCoding: InsertsCoding?
        if let architecture = ELFLayout.architecture(of: new), options.filterInserts || options.alignInserts {
            let ops = analysis != nil ? allOps : [.insert(length: min(new.count, InsertsFilter.sampleBytes))]
            let choice = try InsertsFilter.trial(
                architecture, ops: ops, new: new, filter: options.filterInserts, splitOperands: options.splitOperands,
                align: options.alignInserts, dictionaryLimit: options.dictionarySize,
                primedBytes: Int64(prime?.length ?? 0))
            bodyCoding = choice.bodyCoding(architecture)
            if analysis != nil || choice.aligned { insertsCoding = choice.coding }
        }
        let settings = streamSettings(
            newSize: new.count, insertedBytes: insertedBytes, primedBytes: prime.map { Int($0.length) } ?? 0,
            operandsSplit: bodyCoding.operandsSplit)
        let priming = prime == nil ? DeltaPatchHeader.Prime.none : .primed(bodyCoding)
        var splitPrime = priming == .oldBytesSplit ? prime.map { $0.splitOldBytes(old) } : nil
        defer { splitPrime?.deallocate() }
        let preset =
            splitPrime
            ?? prime.map {
                UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: old[Int($0.start)..<Int($0.start + $0.length)]))
            }
        let writer = try PatchFrameWriter(
            settings: settings, insertsPreset: preset,
            splitInserts: options.parallelInserts ? insertedBytes : nil, insertsCoding: insertsCoding)
        // The encoder copied the prime when the coding was known at once: free the split bytes.
        if writer.insertsCoding != nil {
            splitPrime?.deallocate()
            splitPrime = nil
        }
        if let prime { try sink(prime.encoded()) }
        var stream = OpStreamWriter(old: old, new: new, writer: writer)
        stream.prediction = prediction
        stream.maskedMatching = analysis != nil
        stream.bodyCoding = bodyCoding
        stream.primedInserts = Int64(prime?.length ?? 0)
        var written = 0
        // With the transform, matching is over when the ops are written: the images are read
        // only around the writer's position, so they are dropped from memory every MiB (the
        // address map and the prediction check read them whole just before).
        var nextEviction = 0
        func write(_ op: DeltaOperation) throws(OTAError) {
            if analysis != nil, let eviction, stream.newPosition >= nextEviction {
                eviction.old()
                eviction.new()
                nextEviction = stream.newPosition + (1 << 20)
            }
            try stream.write(op, statistics: &statistics, sink: sink)
            if written & 1023 == 0 { progress?("delta", Double(stream.newPosition) / Double(max(new.count, 1))) }
            written += 1
        }
        if analysis != nil {
            for op in allOps { try write(op) }
            allOps = []
        } else {
            var cutter = recompressed.map { RebuiltRangeCutter(ranges: $0.holes) }
            try Self.forEachJoinedOp(plan, results: results) { (_, op) throws(OTAError) in
                if cutter == nil { return try write(op) }
                try cutter!.cut(op, write)
            }
        }
        try writer.finish(sink: sink)
        progress?("delta", 1)
        var header = DeltaPatchHeader(
            hashAlgorithm: options.hashAlgorithm, oldSize: UInt64(old.count), newSize: UInt64(new.count),
            bodySize: writer.totalRawBytes, dictionarySizes: settings.prefix(4).map(\.dictionarySize),
            oldHash: oldHash!, newHash: newHash!)
        header.bodyCoding = bodyCoding
        header.prime = priming
        header.recompressed = recompressed != nil
        if transform != nil {
            header.version =
                analysis?.pairs == true ? DeltaPatchHeader.pairedVersion : DeltaPatchHeader.transformVersion
        }
        return (try header.encoded(), statistics)
    }

    /// Every op of `plan` in new order (block runs as they are, pieces' ops as the matcher
    /// publishes them), neighbours that continue each other joined (`OpJoiner`), for each of the
    /// first `alternatives` op lists the matcher made (`body` gets the list's index).
    static func forEachJoinedOp(
        _ plan: Plan, results: PieceResults, alternatives: Int = 1,
        _ body: (Int, DeltaOperation) throws(OTAError) -> Void
    ) throws(OTAError) {
        var joiners = [OpJoiner](repeating: OpJoiner(), count: alternatives)
        func take(_ op: DeltaOperation, _ list: Int) throws(OTAError) {
            if let done = joiners[list].take(op) { try body(list, done) }
        }
        for segment in plan.segments {
            switch segment {
            case .run(let run):
                let op: DeltaOperation =
                    run.exact
                    ? .copy(oldStart: run.oldStart, length: run.length)
                    : .add(oldStart: run.oldStart, length: run.length)
                for list in 0..<alternatives { try take(op, list) }
            case .piece(let k):
                let lists = results.take(k)
                for list in 0..<alternatives {
                    for op in lists[list] { try take(op, list) }
                }
            }
        }
        for list in 0..<alternatives { if let last = joiners[list].pending { try body(list, last) } }
    }

    /// Minimum cover score of a primed patch of an update that is mostly new code: its short
    /// covers cost more as ops than as LZMA2 matches into the primed old bytes. Measured on the
    /// Rust tuning corpus (2026-11-30, primed): 64, 256 and 1024 all smaller than 16 on the 16
    /// pairs, 1024 the smallest of them on all 16 (1.5-6.8% below 16); no covers but the block
    /// runs was smaller still on 14 but 2.6% larger on alacritty amd64, whose old and inserted
    /// bytes outgrow the dictionary. On the tuning corpus's pairs, which are mostly copied,
    /// 1024 is 7-25% larger on postgres, libpython, librsvg and mariadbd (5% smaller on
    /// containerd): so it is used only when `isMostlyNew`.
    static let newCodeCoverScore = 1024

    /// Whether at least half of the new image is new to `ops` (every op of the patch): inserted,
    /// or in a changed stream the recompressed-streams block rebuilds. A changed stream is new
    /// content, which only its puffed form shares with the old one. Counting only the inserted
    /// bytes (of all, or of those the block leaves to the ops) turned git-delta amd64 (held-out
    /// set 4) from mostly new to not, unprimed and 9.5% larger (1,172,433 → 1,283,564 bytes).
    static func isMostlyNew(_ ops: [DeltaOperation]) -> Bool {
        var new = 0
        var total = 0
        for op in ops {
            switch op {
            case .insert(let length), .rebuilt(let length): new += length
            case .copy, .add: break
            }
            total += op.length
        }
        return new * 2 >= total && total > 0
    }

    /// The transform is written only when its predictions remove more than this many differing
    /// site bytes per byte of its block (a differing byte costs the plain patch about one
    /// compressed byte or less).
    static let transformPayback = 1

    /// The transform block after the header: dictionary exponent, raw and packed sizes, the
    /// block compressed as one raw LZMA2 piece.
    static func transformBlock(_ transform: ReferenceTransform) throws(OTAError) -> [UInt8] {
        let raw = transform.encoded()
        var exponent: UInt8 = 12
        while exponent < DeltaPatchHeader.transformDictionaryExponents.upperBound && 1 << Int(exponent) < raw.count {
            exponent += 1
        }
        let encoder = try LZMA2StreamEncoder(
            LZMA2Settings(preset: 9, dictionarySize: 1 << UInt32(exponent), literalContextBits: 0, positionBits: 0))
        var packed: [UInt8] = []
        let result: Result<Void, OTAError> = raw.withUnsafeBytes { bytes in
            do throws(OTAError) {
                try encoder.update(bytes) { packed += $0 }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        try encoder.flush { packed += $0 }
        var block: [UInt8] = [exponent]
        Varint.append(UInt64(raw.count), to: &block)
        Varint.append(UInt64(packed.count), to: &block)
        return block + packed
    }

    /// The most old bytes the inserts' dictionary starts with, and the most it holds beside them,
    /// unless more than this is inserted (`primeLimit`). With `--dictionary-size 16MiB`, a 16 MiB
    /// prime and dictionary made alacritty's patches 0.03-0.12% smaller than 8 MiB ones, for
    /// 45-50% more diff memory, and ripgrep's and bat's amd64 byte-identical for 20 MiB more (the
    /// other Rust tuning pairs fit in 8 MiB).
    static let maximumPrime: UInt32 = 8 << 20

    /// How many old bytes the inserts' dictionary may start with: `maximumPrime`, or, when more
    /// than that is inserted (`insertedBytes`, known in format 3), the dictionary that holds the
    /// inserted bytes; never more than `limit`. Where more than 8 MiB is inserted, a prime that
    /// fills a 16 MiB dictionary made held-out cargo amd64's patch 2% smaller than an 8 MiB one
    /// (docs/PERFORMANCE.md, "A fourth held-out corpus, and a 16 MiB inserts dictionary").
    static func primeLimit(insertedBytes: Int?, limit: UInt32) -> UInt32 {
        InsertsCoding.dictionary(for: insertsWindow(inserted: insertedBytes ?? 0), limit: limit)
    }

    /// The bytes the inserts' dictionary is made to hold when `inserted` bytes are inserted:
    /// `maximumPrime`, or the inserted bytes when more. The one rule behind `primeLimit` and
    /// `streamSettings`.
    static func insertsWindow(inserted: Int) -> Int {
        max(inserted, Int(maximumPrime))
    }

    /// The old bytes the inserts' dictionary starts with: the first `limit` bytes of the old
    /// image (all of it when it fits); nil for an empty old image. The first, not the last: an
    /// executable's first bytes hold its symbol and relocation tables and the start of its code,
    /// which inserted code and relocations resemble; its last are unwind tables and data.
    /// Smaller on 9 of the 12 pairs whose old image outgrows 8 MiB, by up to 1.5%
    /// (docs/PERFORMANCE.md, "Which old bytes are primed").
    static func insertsPrime(oldSize: Int, limit: UInt32) -> InsertsPrime? {
        let length = min(oldSize, Int(limit))
        guard length > 0 else { return nil }
        return InsertsPrime(start: 0, length: UInt64(length))
    }

    /// LZMA2 settings of the four streams, or five with `operandsSplit`: the inserts get at most
    /// the configured dictionary (the vehicle's budget: `dictionarySize`, or
    /// `streamingDictionarySize` when the inserted bytes are not known); the operands a quarter of theirs
    /// (`DeltaPatchHeader.operandsDictionarySize`); the others are small streams that gain nothing
    /// beyond 1 MiB.
    /// No stream gets a dictionary larger than the new image rounded up to a power of two, nor
    /// the inserts one larger than what it must hold: when the inserted bytes are known
    /// (`insertedBytes`, format 3) they and the old bytes it starts with (`primedBytes`) up to
    /// `maximumPrime`, past it the inserted bytes alone (`primeLimit` then fills that dictionary);
    /// else the new image and the primed bytes. A larger one finds nothing more and costs the
    /// encoder's memory (an 8 MiB dictionary is ~93 MiB by liblzma's estimate) and the vehicle's.
    func streamSettings(newSize: Int, insertedBytes: Int? = nil, primedBytes: Int = 0, operandsSplit: Bool = false)
        -> [LZMA2Settings]
    {
        let limit = insertedBytes == nil ? options.streamingDictionarySize : options.dictionarySize
        func fit(_ bytes: Int) -> UInt32 { InsertsCoding.dictionary(for: bytes, limit: limit) }
        let whole = fit(newSize)
        let held =
            insertedBytes.map { min($0, newSize) }.map { inserted in
                min(inserted + primedBytes, Self.insertsWindow(inserted: inserted))
            } ?? newSize + primedBytes
        let inserts = fit(held)
        let streams = PatchStream.allCases.prefix(PatchStream.count(operandsSplit: operandsSplit))
        return streams.map { stream in
            let dictionary: UInt32 =
                switch stream {
                case .inserts: inserts
                case .operands: DeltaPatchHeader.operandsDictionarySize(inserts: inserts)
                default: min(limit, 1 << 20, whole)
                }
            return LZMA2Settings(
                preset: options.preset, extreme: options.extreme, dictionarySize: dictionary,
                literalContextBits: stream.literalContextBits, positionBits: stream.positionBits,
                niceLength: stream == .inserts ? Self.insertsNiceLength : nil)
        }
    }
}
