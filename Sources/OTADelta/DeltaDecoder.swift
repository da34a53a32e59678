internal import Dispatch
public import OTABase

/// The streaming patch applier: feed it the patch's bytes in any pieces; it reads the old image
/// by offset and hands the new image out in order, in pieces of at most 256 KiB.
///
/// It checks the old image's size against the header before any output, and its hash either
/// before any output (`SourceCheck.beforeOutput`) or on another thread while the patch is decoded
/// (`.concurrent`: `finish` waits for it, and a mismatch is reported as the old-hash error in
/// place of any later one, so output may have been handed out but must not be committed until
/// `finish` returns). At the end it checks the new image's hash. Frames and ops are bounds-checked against the header's
/// sizes, so a hostile patch cannot read outside the old image, write past the new size or make
/// the decoder allocate more than its fixed buffers (the stream dictionaries, at most
/// `limits.xzMemoryLimit`; with the default settings 11 MiB, 13 MiB with the fifth stream of
/// body coding 5, and 19 / 23 MiB for a patch that inserts more than 8 MiB; plus at most about 7 MiB: one frame of at most
/// 2 MiB of stream bytes, or two when pipelined, one compressed piece (pipelined, the first
/// frame's pieces until its last has come: its stream bytes compressed), a 256 KiB old-image cache
/// (four 64 KiB blocks) and two 256 KiB output pieces; pipelined, a third output piece and four
/// batches of ADD work left to the second thread, each at most 2,048 predictions, 8,192 ADD
/// runs and 4,096 sites plus one 64 KiB block's, about 190 KiB when no block has more). A patch
/// with recompressed streams (`RecompressedStreamsReader`) first needs that block's dictionary,
/// freed before the first frame, and keeps the streams' rebuilt bytes (at most
/// `limits.maxRecompressedBytes`) until the ops have placed them.
public final class DeltaDecoder {
    /// When the old image's hash is checked.
    public enum SourceCheck: Sendable {
        /// The whole old image is hashed before the first output byte: for an output that
        /// cannot be taken back.
        case beforeOutput
        /// Hashed on another thread while the patch is decoded (the old image is read twice at
        /// once instead of one after the other): for an output committed only after `finish`
        /// returns (a temporary file, memory). A source that cannot read from two threads at
        /// once (not a `DirectDeltaSource`) is hashed before output as with `.beforeOutput`.
        case concurrent
    }

    /// Which threads a decoder runs on.
    package enum Threads: Sendable, CaseIterable {
        /// None of its own: frames, both hashes and `output` on the caller's thread. The new image
        /// is hashed as each piece is handed out and, with `.concurrent`, the old image when
        /// `finish` or an error first needs the verdict, so the errors and their order are those
        /// of `.concurrent`. For a small image, where the threads' start-up and hand-offs cost
        /// more than the work they would overlap (`Delta.threads(oldSize:newSize:patchSize:)`).
        case callerOnly
        /// Frames and `output` on the caller's thread; the new image hashed on a serial queue
        /// behind it and, with `.concurrent`, the old one on another thread.
        case sequential
        /// Each frame's ops on a thread of the decoder's own while the caller's thread decodes
        /// the next frame's streams, and their second half (the ADDs' predictions and
        /// differences, and `output`) on another (`PieceFinisher`): for an output that may be
        /// called from another thread than `update`'s and touches nothing the caller uses before
        /// `finish` returns. An op's error is reported by the next `update` after it, or by
        /// `finish`. A caller that gives up on the decoder for an error of its own calls
        /// `waitUntilIdle` before letting it go.
        case pipelined
    }

    public private(set) var header: DeltaPatchHeader?
    private let source: any DeltaSource
    /// The same source when it reads into the decoder's buffers without allocating.
    private let directSource: (any DirectDeltaSource)?
    private let limits: DeltaLimits
    private let sourceCheck: SourceCheck
    /// The new image's hash the header must declare, when the caller has it signed.
    private let expectedNewHash: Digest?
    /// The old image's hash with `.concurrent`, once the header is read: running on another
    /// thread, or (`Threads.callerOnly`) run on the caller's when first asked for.
    private var sourceHash: (any SourceVerdict)?
    private let output: (UnsafeRawBufferPointer) throws(OTAError) -> Void
    /// Hashes the output on a second core while the next piece is decoded, or
    /// (`Threads.callerOnly`) each piece as it is handed out.
    private var newHasher: (any OutputHashing)?
    private let threads: Threads

    private enum Phase {
        case header
        /// Reading the recompressed-streams block (body compression with the 0x80 bit).
        case recompressed
        /// Collecting the reference transform block (format 3).
        case transform
        /// Collecting the inserts prime block (body compression with the 0x10 bit).
        case prime
        case frameHeader
        /// Collecting the compressed piece of stream `index` of the current frame.
        case piece(index: Int)
    }
    private var phase = Phase.header
    /// Bytes of the header, frame header or piece being collected.
    private var pending: [UInt8] = []
    private var decoders: [LZMA2StreamDecoder] = []
    private var rawSizes = [Int](repeating: 0, count: PatchStream.allCases.count)
    private var packedSizes = [Int](repeating: 0, count: PatchStream.allCases.count)
    /// Decoded streams: the frame being decoded fills `frameBuffers[filling]`; pipelined, the
    /// frame before may still be running from the other one.
    private let frameBuffers = [FrameBuffers(), FrameBuffers()]
    private var filling = 0
    /// Frame headers read so far (errors name the frame).
    private var frameCount = 0
    /// Pipelined decoding: runs each frame's ops on its own thread (nil: on the caller's).
    private let executor: FrameExecutor?
    /// Pipelined: the first frame's pieces are kept whole as they come (`firstPieces`, by
    /// stream) and decoded once the last has come, the one with the most compressed bytes on
    /// this helper's thread and the others on the caller's (`decodeFirstFrame`). Nothing else
    /// can run before the first frame's ops, so its decoding is the one wholly in the apply's
    /// path; later frames are decoded while the frame before runs.
    private let pieceHelper: FrameExecutor?
    private var firstPieces: [[UInt8]] = []
    /// Still collecting the first frame's pieces (pipelined, until `decodeFirstFrame`).
    private var collectsFirst: Bool
    /// Stream bytes of all frames so far (the header declares the total).
    private var rawSeen: UInt64 = 0

    private var oldCursor: Int64 = 0
    /// With aligned inserts (body coding bit 0x20): the inserts stream's position, its bytes read
    /// so far (padding included) and the primed old bytes before them.
    private var insertsStreamPosition: Int64 = 0
    /// The recompressed-streams block being read, then the deflate bytes it rebuilt and how many
    /// of them the RECOMPRESSED ops have taken.
    private var recompressedReader: RecompressedStreamsReader?
    private var recompressed: [UInt8] = []
    private var recompressedTaken = 0
    /// Output bytes accounted for by the ops run so far.
    private var written: Int64 = 0
    /// The output piece being filled: `outCount` bytes of `out`, one of `outSlots` pieces of
    /// `outBuffers` used in turn. A full piece is handed to the new image's hasher, which may
    /// still read it while the next `BackgroundHasher.depth` pieces are filled (with one slot
    /// more than that, the piece filled next is never still being read), and to the output.
    private let outBuffers: UnsafeMutableBufferPointer<UInt8>
    private var out: UnsafeMutableBufferPointer<UInt8>
    private var outSlot = 0
    private var outCount = 0
    /// Pipelined, one slot more: the finisher works on the piece before the one being filled.
    private let outSlots: Int
    private static let outPiece = 256 << 10
    /// Pipelined: the second half of each frame's ops, on a thread of its own. The frame thread
    /// runs the ops (streams, every check, old reads, the reference scan) and hands it what is
    /// left of them in batches (`PieceWork`); it predicts the references left to it, adds the
    /// differences and hands each full piece out. On AArch64 code the window scan predicts most
    /// sites itself as it finds them, on the frame thread; only plain ADRPs (which a later use
    /// may pair) and x86-64's cached sites are left to the finisher. Nil: all of it where the
    /// ops run.
    private let finisher: PieceFinisher?
    /// With a finisher: the batch being filled (`pieceWork[workIndex]`) and those handed to it,
    /// used in turn; a batch is filled again once the finisher is done with it.
    private let pieceWork: [PieceWork]
    private var workIndex = 0

    /// Format 3: the transform, its scanner, and the sites of recently read old blocks.
    private var transform: ReferenceTransform?
    private var scanner: ReferenceScanner?
    private var mapIndex: ReferenceTransform.MapIndex?
    /// The transform block's whole length once its sizes are read.
    private var transformLength: Int?
    private var siteCache: [(block: Int64, sites: [BlockSite])] = []
    /// AArch64 code only: each ADDP's sites are found by scanning its own old bytes and a few
    /// words around them (`ReferenceScanner.scan(block:bytes:within:into:)`), not whole blocks,
    /// so no block is scanned again when it falls out of `siteCache` (unused then).
    private var scansWindows = false
    /// The sites one block gives the ADDP being predicted: scanned from its window, or copied
    /// out of `siteCache`.
    private var windowSites: [ReferenceSite] = []
    private var siteCacheNext = 0
    /// Old blocks whose sites are kept (ops mostly read old bytes in order, a few blocks apart).
    private static let siteCacheBlocks = 8

    /// The x86-64 sites of the block being scanned, before they are copied into `siteCache` at
    /// their exact count: room for the most a block's regions can hold if they do not overlap
    /// (sites are at least 4 bytes apart), allocated with the first block scanned, its pages
    /// touched as sites fill them.
    private var blockSites = UnsafeMutableBufferPointer<BlockSite>(start: nil, count: 0)
    private static let maxBlockSites = Int(ReferenceTransform.scanBlock) / 4

    /// Takes each x86-64 site of a whole block's scan as a `BlockSite` (x86-64 sites have no
    /// context) into `sites`; leaves the other kinds in the scan's output.
    private struct X86SiteCollector: SiteConsumer {
        let blockStart: Int64
        let sites: UnsafeMutablePointer<BlockSite>
        var count = 0

        @inline(__always)
        mutating func take(offset: Int64, kind: ReferenceKind, word: UInt32, target: UInt64) -> Bool {
            // Full (regions that overlap, in a hostile transform): the rest go the long way.
            guard kind == .x86Rel32, count < DeltaDecoder.maxBlockSites else { return false }
            sites[count] = BlockSite(offset: UInt16(truncatingIfNeeded: offset - blockStart), kind: kind, context: 0)
            count += 1
            return true
        }
    }

    /// A site of a block in `siteCache`: 8 bytes where a `ReferenceSite` takes 16 (x86-64 code
    /// has thousands of sites a 64 KiB block, so the cache's eight blocks are most of the
    /// decoder's memory beyond its fixed buffers).
    private struct BlockSite {
        /// From the block's start (blocks are 64 KiB).
        var offset: UInt16
        var kind: ReferenceKind
        var context: UInt32
    }

    // A cache of old bytes in whole 64 KiB blocks (the scan's blocks), so runs of short ops
    // and the scan of the block they read do not each cost a pread: ops jump back and forth
    // between a few places of the old image (measured: one 64 KiB window read 3-8x the image).
    private let cache = UnsafeMutableRawBufferPointer.allocate(byteCount: cacheSize, alignment: pageAlignment)
    /// Which old block each slot of `cache` holds (-1: none), and when it was last used.
    private let cacheBlocks = UnsafeMutableBufferPointer<Int64>.allocate(capacity: cacheSlots)
    private let cacheUses = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: cacheSlots)
    private var cacheClock: UInt64 = 0
    /// The block read last (-1: none) and where its bytes are: most ops read on from there.
    private var lastBlock: Int64 = -1
    private var lastBytes = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private static let cacheBlock = Int(ReferenceTransform.scanBlock)
    private static let cacheSlots = 4
    private static let cacheSize = cacheSlots * cacheBlock
    /// Reads longer than this go straight to the output, past the cache.
    private static let readAhead = 64 << 10
    /// The alignment of the buffers old-image reads land in. A buffer from `malloc` starts 16
    /// bytes into a page, and the kernel's copy of page-aligned file data to 16 bytes past a
    /// page boundary runs at a fifth of its speed on this machine's AMD EPYC (`rep movsb`;
    /// measured 54 against 6-13 µs a 64 KiB `pread`: docs/PERFORMANCE-LOG.md, "`ota-patch`, fourth
    /// round").
    static let pageAlignment = 4096

    /// - Parameter output: receives the new image's bytes in order.
    public convenience init(
        source: any DeltaSource, limits: DeltaLimits = DeltaLimits(), sourceCheck: SourceCheck = .beforeOutput,
        output: @escaping ([UInt8]) throws(OTAError) -> Void
    ) {
        self.init(source: source, limits: limits, sourceCheck: sourceCheck) {
            (piece: UnsafeRawBufferPointer) throws(OTAError) in try output([UInt8](piece))
        }
    }

    /// - Parameters:
    ///   - threads: where the frames, the hashes and `output` run (`Threads`). Errors are the
    ///     same and come in the same order whichever it is.
    ///   - expectedNewHash: the new image's hash as signed elsewhere (the vehicle's manifest): a
    ///     patch whose header declares another is refused (`delta.target-mismatch`) before any
    ///     output, so a `finish` that returns means the bytes handed to `output` hash to it.
    ///   - output: receives the new image's bytes in order, each piece valid only during the call
    ///     (no copy into an array: for a caller that writes them out at once).
    package init(
        source: any DeltaSource, limits: DeltaLimits = DeltaLimits(), sourceCheck: SourceCheck = .beforeOutput,
        threads: Threads = .sequential, expectedNewHash: Digest? = nil,
        output: @escaping (UnsafeRawBufferPointer) throws(OTAError) -> Void
    ) {
        let pipelined = threads == .pipelined
        self.threads = threads
        executor = pipelined ? FrameExecutor() : nil
        pieceHelper = pipelined ? FrameExecutor() : nil
        collectsFirst = pipelined
        firstPieces = pipelined ? [[UInt8]](repeating: [], count: PatchStream.allCases.count) : []
        finisher = pipelined ? PieceFinisher() : nil
        outSlots = BackgroundHasher.depth + (pipelined ? 1 + PieceFinisher.piecesAhead : 1)
        pieceWork = pipelined ? (0...PieceFinisher.jobsAhead).map { _ in PieceWork() } : []
        outBuffers = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.outPiece * outSlots, alignment: Self.pageAlignment
        ).bindMemory(to: UInt8.self)
        self.source = source
        directSource = source as? any DirectDeltaSource
        self.limits = limits
        self.sourceCheck = sourceCheck
        self.expectedNewHash = expectedNewHash
        self.output = output
        out = UnsafeMutableBufferPointer(rebasing: outBuffers[0..<Self.outPiece])
        cacheBlocks.initialize(repeating: -1)
        cacheUses.initialize(repeating: 0)
    }

    deinit {
        // The frame running may still use every buffer below (unless this is its own teardown,
        // which has drained the finisher); the finisher may still run the last piece `finish`
        // handed it if that failed.
        executor?.waitUnlessRunning()
        try? finisher?.drain()
        sourceHash?.stop()
        // The hasher may still be reading an output piece.
        newHasher?.drain()
        UnsafeMutableRawBufferPointer(outBuffers).deallocate()
        cache.deallocate()
        cacheBlocks.deallocate()
        cacheUses.deallocate()
        blockSites.deallocate()
    }

    /// Consumes the next bytes of the patch.
    public func update(_ bytes: [UInt8]) throws(OTAError) {
        try bytes.withUnsafeBufferPointer { (bytes) throws(OTAError) in try update(UnsafeRawBufferPointer(bytes)) }
    }

    /// Consumes the next bytes of the patch (not kept after the call returns).
    public func update(_ bytes: UnsafeRawBufferPointer) throws(OTAError) {
        do {
            try consume(bytes.assumingMemoryBound(to: UInt8.self))
        } catch {
            throw reported(error)
        }
    }

    /// Takes the patch's header, decoded by the caller from the patch's first
    /// `DeltaPatchHeader.byteCount` bytes, which are then not fed to `update` (a caller that read
    /// the header to choose the decoder's `Threads` does not have it decoded twice): the same
    /// checks, and errors, as `update` reading those bytes.
    package func begin(with header: DeltaPatchHeader) throws(OTAError) {
        guard case .header = phase, pending.isEmpty else { preconditionFailure("the header comes first, once") }
        do {
            try start(header)
        } catch {
            throw reported(error)
        }
    }

    /// The error `update` reports for `error`: an op's error in the frame running comes first in
    /// the patch; a wrong old image is reported as such, whatever it made go wrong since.
    private func reported(_ error: OTAError) -> OTAError {
        let earlier = executor?.settle()
        return sourceHash?.result() ?? earlier ?? error
    }

    /// Decodes a whole patch held in memory, from `start` on (past a header handed to `begin`),
    /// fed in pieces of `pieceSize` bytes as a stream would bring it, then `finish`es.
    package func decodeAll(_ patch: [UInt8], from start: Int = 0, pieceSize: Int = 64 << 10) throws(OTAError)
        -> DeltaPatchHeader
    {
        try patch.withUnsafeBufferPointer { (patch) throws(OTAError) in
            var offset = start
            while offset < patch.count {
                let end = min(offset + pieceSize, patch.count)
                try update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: patch[offset..<end])))
                offset = end
            }
        }
        return try finish()
    }

    /// Returns once no frame runs (pipelined): a caller that stops feeding the decoder for an
    /// error of its own calls it before letting the decoder go, so what the output holds (a
    /// temporary file to remove, say) is released on the caller's thread, not later on the
    /// decoder's. An op's error found meanwhile is dropped: the caller reports its own.
    public func waitUntilIdle() {
        _ = executor?.settle()
    }

    /// Confirms the patch ended exactly after the last frame and both images' hashes match (the
    /// old image's first: its mismatch is the error reported when both fail).
    public func finish() throws(OTAError) -> DeltaPatchHeader {
        let header: DeltaPatchHeader
        do {
            header = try finishBody()
        } catch {
            let earlier = executor?.settle()
            // A patch ending inside its first frame: the pieces kept so far come before the end.
            throw sourceHash?.result() ?? earlier ?? firstPiecesError() ?? error
        }
        if let failure = sourceHash?.result() { throw failure }
        return header
    }

    private func consume(_ bytes: UnsafeBufferPointer<UInt8>) throws(OTAError) {
        var index = 0
        while index < bytes.count {
            switch phase {
            case .header:
                let take = min(DeltaPatchHeader.byteCount - pending.count, bytes.count - index)
                pending += bytes[index..<(index + take)]
                index += take
                if pending.count == DeltaPatchHeader.byteCount {
                    try start(try DeltaPatchHeader.decode(pending))
                    pending.removeAll()
                }
            case .recompressed:
                index = try recompressedReader!.consume(bytes, from: index)
                if recompressedReader!.isDone {
                    recompressed = recompressedReader!.output
                    recompressedReader = nil
                    phase = phaseAfterRecompressed
                }
            case .transform:
                // Byte by byte until the block's sizes are read, then the rest at once.
                let take = transformLength.map { min($0 - pending.count, bytes.count - index) } ?? 1
                pending += bytes[index..<(index + take)]
                index += take
                try parseTransform()
            case .prime:
                pending.append(bytes[index])
                index += 1
                try parsePrime()
            case .frameHeader:
                guard let header, rawSeen < header.bodySize else {
                    throw OTAError(.deltaTrailingData, "data after the end of the patch body")
                }
                pending.append(bytes[index])
                index += 1
                try parseFrameHeader()
            case .piece(let stream):
                let take = min(packedSizes[stream] - pending.count, bytes.count - index)
                pending += bytes[index..<(index + take)]
                index += take
                if pending.count == packedSizes[stream] { try finishPiece(stream) }
            }
        }
    }

    /// The end of the patch: every frame run, the new image's size and hash.
    private func finishBody() throws(OTAError) -> DeltaPatchHeader {
        guard let header, let newHasher else {
            throw OTAError(.deltaTruncated, "patch ends inside its header")
        }
        try settle()
        guard case .frameHeader = phase, pending.isEmpty, rawSeen == header.bodySize else {
            throw OTAError(
                .deltaTruncated, "patch body ends early (\(rawSeen) of \(header.bodySize) stream bytes decoded)")
        }
        guard written == Int64(header.newSize) else {
            throw OTAError(
                .deltaShortOutput, "patch ops produce \(written) bytes, header declares \(header.newSize)")
        }
        guard recompressedTaken == recompressed.count else {
            throw OTAError(
                .deltaMalformed,
                "\(recompressed.count - recompressedTaken) of the \(recompressed.count) bytes the recompressed streams rebuilt are placed by no op"
            )
        }
        try flush()
        try finisher?.drain()
        guard newHasher.finalize().constantTimeEquals(header.newHash) else {
            throw OTAError(
                .deltaResultMismatch,
                "the rebuilt image's \(header.hashAlgorithm.rawValue) does not match the patch header")
        }
        return header
    }

    /// Checks the header against the limits and the old image, starts the old image's check and
    /// the stream decoders, and moves on to the transform block or the first frame.
    private func start(_ header: DeltaPatchHeader) throws(OTAError) {
        if let expectedNewHash, !header.newHash.constantTimeEquals(expectedNewHash) {
            throw OTAError(
                .deltaTargetMismatch,
                "the patch header's new image is \(header.newHash); the signed target is \(expectedNewHash)")
        }
        let memory = header.streamDictionarySizes.reduce(UInt64(0)) { $0 + UInt64($1) }
        guard memory <= limits.xzMemoryLimit else {
            throw OTAError(
                .deltaMemoryLimit,
                "patch streams need \(memory >> 20) MiB of decoder dictionaries, more than the \(limits.xzMemoryLimit >> 20) MiB allowed"
            )
        }
        guard source.byteCount == Int64(header.oldSize) else {
            throw OTAError(
                .deltaSourceMismatch,
                "the old image has \(source.byteCount) bytes, the patch expects \(header.oldSize)")
        }
        if sourceCheck == .concurrent, let directSource {
            sourceHash =
                threads == .callerOnly
                ? DeferredSourceCheck(source: directSource, algorithm: header.hashAlgorithm, expected: header.oldHash)
                : SourceHashCheck(source: directSource, algorithm: header.hashAlgorithm, expected: header.oldHash)
        } else {
            // Verify the whole old image before writing anything.
            try SourceHashCheck.verify(
                size: source.byteCount, algorithm: header.hashAlgorithm, expected: header.oldHash, buffer: cache
            ) { (offset, piece) throws(OTAError) in try readSource(at: offset, into: piece) }
        }
        do {
            decoders = try header.streamDictionarySizes.map { (size) throws(OTAError) in
                try LZMA2StreamDecoder(dictionarySize: size)
            }
        } catch {
            throw Self.translate(error)
        }
        self.header = header
        let hasher = try Hasher(header.hashAlgorithm)
        newHasher = threads == .callerOnly ? hasher : BackgroundHasher(hasher)
        if header.recompressed {
            recompressedReader = RecompressedStreamsReader(
                oldSize: header.oldSize, frameDictionaries: memory, limits: limits
            ) { [unowned self] (offset, buffer) throws(OTAError) in try self.readSource(at: offset, into: buffer) }
            phase = .recompressed
        } else {
            phase = phaseAfterRecompressed
        }
    }

    /// The phase after the header and its recompressed-streams block, if any.
    private var phaseAfterRecompressed: Phase {
        guard let header else { return .header }
        return header.hasTransform ? .transform : header.insertsPrimed ? .prime : .frameHeader
    }

    /// Tries to read the transform block collected in `pending`: dictionary exponent, raw and
    /// packed sizes, then the packed bytes.
    private func parseTransform() throws(OTAError) {
        guard let header else { return }
        let exponent = pending[0]
        guard DeltaPatchHeader.transformDictionaryExponents.contains(exponent) else {
            throw OTAError(.deltaTransformInvalid, "transform block dictionary 2^\(exponent) is outside 4 KiB...1 MiB")
        }
        let read: (values: [UInt64], next: Int)?
        do throws(DeltaFormatError) {
            read = try Varint.read(2, from: pending, at: 1)
        } catch {
            throw OTAError(.deltaTransformInvalid, "malformed size in the transform block")
        }
        guard let (sizes, offset) = read else { return }
        let (raw, packed) = (sizes[0], sizes[1])
        guard raw > 0, raw <= UInt64(limits.maxTransformBytes), packed <= UInt64(PatchFrame.maxPacked(raw: Int(raw)))
        else {
            throw OTAError(
                .deltaTransformInvalid,
                "transform block declares \(raw) bytes in \(packed) (limit \(limits.maxTransformBytes) bytes)")
        }
        transformLength = offset + Int(packed)
        guard pending.count == offset + Int(packed) else { return }
        var block: [UInt8] = []
        do {
            let decoder = try LZMA2StreamDecoder(dictionarySize: 1 << UInt32(exponent))
            try decoder.decode(Array(pending[offset...]), count: Int(raw), into: &block)
        } catch {
            throw Self.translate(error)
        }
        let transform = try ReferenceTransform.decode(
            block, oldSize: header.oldSize, newSize: header.newSize, limits: limits)
        self.transform = transform
        mapIndex = ReferenceTransform.MapIndex(transform.map)
        scanner = ReferenceScanner(
            regions: transform.oldRegions, pairs: header.version == DeltaPatchHeader.pairedVersion)
        scansWindows = transform.oldRegions.allSatisfy { $0.architecture != .x86_64 }
        pending.removeAll(keepingCapacity: true)
        phase = header.insertsPrimed ? .prime : .frameHeader
    }

    /// Tries to read the inserts prime block collected in `pending`; once read, puts its old
    /// bytes in the inserts stream's dictionary, or with a split prime their bytes other than
    /// operands (read and split 64 KiB at a time, never held whole).
    private func parsePrime() throws(OTAError) {
        guard let header else { return }
        let parsed = try pending.withUnsafeBufferPointer { (bytes) throws(OTAError) in
            try InsertsPrime.decode(
                bytes, oldSize: header.oldSize, dictionarySize: header.dictionarySizes[PatchStream.inserts.rawValue])
        }
        guard let (prime, _) = parsed else { return }
        pending.removeAll(keepingCapacity: true)
        var scratch: [UInt8] = []
        var preloaded = 0
        func preload(_ bytes: UnsafeRawBufferPointer) throws(OTAError) {
            do throws(OTAError) {
                try decoders[PatchStream.inserts.rawValue].preload(bytes, scratch: &scratch)
            } catch {
                throw Self.translate(error)
            }
            preloaded += bytes.count
        }
        let split = header.prime == .oldBytesSplit
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: InsertsPrime.splitPieceBytes, alignment: 16)
        defer { buffer.deallocate() }
        var main: [UInt8] = []
        for piece in prime.pieces {
            let read = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<piece.count])
            try readSource(at: Int64(piece.offset), into: read)
            guard split else {
                try preload(UnsafeRawBufferPointer(read))
                continue
            }
            // The piece's bytes other than operands (never more than it).
            main.removeAll(keepingCapacity: true)
            InsertsPrime.splitPiece(
                read.baseAddress!.assumingMemoryBound(to: UInt8.self), count: piece.count,
                offset: Int64(piece.offset), main: &main)
            try main.withUnsafeBufferPointer { (bytes) throws(OTAError) in try preload(UnsafeRawBufferPointer(bytes)) }
        }
        insertsStreamPosition = Int64(preloaded)
        phase = .frameHeader
    }

    /// Maps LZMA2 failures to delta codes, so a caller sees one family.
    static func translate(_ error: OTAError) -> OTAError {
        switch error.code {
        case .xzOutputLimit:
            return OTAError(
                .deltaBodyTooLarge, "a patch stream decompresses to more than its frame declares (xz bomb?)",
                cause: error.message)
        case .xzTruncated:
            return OTAError(
                .deltaCorrupt, "a patch stream piece decodes to less than its frame declares", cause: error.message)
        case .xzTrailingData, .xzCorrupt, .xzFormat, .xzOptions, .xzFailed, .xzMemoryLimit:
            return OTAError(.deltaCorrupt, "patch body is not valid LZMA2 data", cause: error.message)
        default:
            return error
        }
    }

    // MARK: - Frames

    /// Tries to read the frame header collected in `pending`: raw then packed size per stream.
    private func parseFrameHeader() throws(OTAError) {
        guard let header else { return }
        let read: (values: [UInt64], next: Int)?
        do throws(DeltaFormatError) {
            read = try Varint.read(PatchFrame.headerFields(streams: header.streamCount), from: pending, at: 0)
        } catch {
            throw OTAError(.deltaMalformed, "malformed number in the header of frame \(frameCount + 1)")
        }
        guard let values = read?.values else { return }
        frameCount += 1
        pending.removeAll(keepingCapacity: true)
        let count = header.streamCount
        let raw = values[0..<count]
        let packed = values[count...]
        let total = raw.reduce(UInt64(0)) { $0 &+ min($1, UInt64(PatchFrame.maxRawBytes) + 1) }
        guard raw.allSatisfy({ $0 <= UInt64(PatchFrame.maxRawBytes) }), total <= UInt64(PatchFrame.maxRawBytes) else {
            throw OTAError(
                .deltaMalformed, "a frame declares more than \(PatchFrame.maxRawBytes) stream bytes (\(Array(raw)))")
        }
        guard total > 0 else { throw OTAError(.deltaMalformed, "frame \(frameCount) of the patch is empty") }
        guard total <= header.bodySize - rawSeen else {
            throw OTAError(
                .deltaBodyTooLarge,
                "frames declare more stream bytes than the header's \(header.bodySize) (xz bomb?)")
        }
        for (r, p) in zip(raw, packed) {
            guard p <= UInt64(PatchFrame.maxPacked(raw: Int(r))), (p == 0) == (r == 0) else {
                throw OTAError(
                    .deltaMalformed, "a frame declares \(p) compressed bytes for \(r) stream bytes")
            }
        }
        // A body of four streams has no operands piece.
        let absent = [Int](repeating: 0, count: PatchStream.allCases.count - count)
        rawSizes = raw.map { Int($0) } + absent
        packedSizes = packed.map { Int($0) } + absent
        rawSeen += total
        try nextPiece(after: -1)
    }

    /// Moves to the next stream with a non-empty piece, or runs the frame when none is left.
    private func nextPiece(after stream: Int) throws(OTAError) {
        var next = stream + 1
        while next < PatchStream.allCases.count && packedSizes[next] == 0 {
            frameBuffers[filling].streams[next].removeAll(keepingCapacity: true)
            next += 1
        }
        if next < PatchStream.allCases.count {
            phase = .piece(index: next)
        } else {
            phase = .frameHeader
            if collectsFirst { try decodeFirstFrame() }
            try startFrame()
        }
    }

    /// Decodes the first frame's pieces kept in `firstPieces`: the largest on `pieceHelper`,
    /// the others here meanwhile; throws the error of the first piece in the patch that fails,
    /// as decoding them one by one as they came would have.
    private func decodeFirstFrame() throws(OTAError) {
        collectsFirst = false
        let pieces = firstPieces
        firstPieces = []
        let count = PatchStream.allCases.count
        let buffers = frameBuffers[filling]
        let streams = (0..<count).filter { packedSizes[$0] > 0 }
        guard let pieceHelper, streams.count > 1,
            let helped = streams.max(by: { pieces[$0].count < pieces[$1].count })
        else {
            return try decodeInOrder(pieces, streams)
        }
        // The helper decodes into buffers of its own, swapped in once it has ended.
        let helperBuffers = FrameBuffers()
        let decoder = decoders[helped]
        let (piece, raw) = (pieces[helped], rawSizes[helped])
        pieceHelper.run { () throws(OTAError) in
            do throws(OTAError) {
                try decoder.decode(piece, count: raw, into: &helperBuffers.streams[helped])
            } catch {
                throw Self.translate(error)
            }
        }
        var failure: (stream: Int, error: OTAError)?
        for stream in streams where stream != helped {
            do {
                try decodePiece(pieces[stream], stream, into: buffers)
            } catch {
                failure = (stream, error)
                break
            }
        }
        let helperFailure = pieceHelper.settle()
        if let failure, failure.stream < helped { throw failure.error }
        if let helperFailure { throw helperFailure }
        if let failure { throw failure.error }
        swap(&buffers.streams[helped], &helperBuffers.streams[helped])
    }

    /// Decodes the first frame's pieces kept so far, in order, when the patch ends inside that
    /// frame; the first one's error, if any.
    private func firstPiecesError() -> OTAError? {
        guard collectsFirst else { return nil }
        collectsFirst = false
        do {
            try decodeInOrder(firstPieces, firstPieces.indices.filter { !firstPieces[$0].isEmpty })
        } catch {
            return error
        }
        return nil
    }

    /// Decodes the kept `pieces` of `streams`, in patch order, into the frame being filled.
    private func decodeInOrder(_ pieces: [[UInt8]], _ streams: [Int]) throws(OTAError) {
        let buffers = frameBuffers[filling]
        for stream in streams { try decodePiece(pieces[stream], stream, into: buffers) }
    }

    /// Decodes stream `stream`'s piece of the frame being filled into `buffers`.
    private func decodePiece(_ piece: [UInt8], _ stream: Int, into buffers: FrameBuffers) throws(OTAError) {
        do {
            try decoders[stream].decode(piece, count: rawSizes[stream], into: &buffers.streams[stream])
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs the frame just decoded: at once, or pipelined on the executor once the frame before
    /// it has run (its error, if any, is thrown here), the next frame then filling the other
    /// buffers.
    private func startFrame() throws(OTAError) {
        let buffers = frameBuffers[filling]
        guard let executor else { return try runFrame(buffers) }
        try settle()
        filling ^= 1
        executor.run { () throws(OTAError) in try self.runFrame(buffers) }
    }

    /// Waits for the frame running, if pipelined; throws its error.
    private func settle() throws(OTAError) {
        if let failure = executor?.settle() { throw failure }
    }

    private func finishPiece(_ stream: Int) throws(OTAError) {
        if collectsFirst {
            // Kept whole for `decodeFirstFrame` (the next piece is collected into a new array).
            swap(&pending, &firstPieces[stream])
        } else {
            try decodePiece(pending, stream, into: frameBuffers[filling])
        }
        pending.removeAll(keepingCapacity: true)
        try nextPiece(after: stream)
    }

    // MARK: - Ops

    /// Runs the ops of a frame; every stream must be used up exactly. The streams are read
    /// through one `FrameStreams` value on the stack (plain cursors, no per-read access checks on
    /// the decoder's properties).
    private func runFrame(_ buffers: FrameBuffers) throws(OTAError) {
        let decoded = buffers.streams
        try decoded[PatchStream.control.rawValue].withUnsafeBufferPointer { (control) throws(OTAError) in
            try decoded[PatchStream.runs.rawValue].withUnsafeBufferPointer { (runs) throws(OTAError) in
                try decoded[PatchStream.differences.rawValue].withUnsafeBufferPointer {
                    (differences) throws(OTAError) in
                    try decoded[PatchStream.inserts.rawValue].withUnsafeBufferPointer { (inserts) throws(OTAError) in
                        try decoded[PatchStream.operands.rawValue].withUnsafeBufferPointer {
                            (operands) throws(OTAError) in
                            try runOps(
                                FrameStreams(
                                    control: control, runs: runs, differences: differences, inserts: inserts,
                                    operands: FrameOperandsReader(operands)))
                        }
                    }
                }
            }
        }
    }

    /// Runs the ops of a frame's `streams` to their end (see `runFrame`).
    private func runOps(_ streams: FrameStreams) throws(OTAError) {
        var frame = streams
        do throws(OTAError) {
            try frame.operands.readCounts(at: written)
            while frame.controlCursor < frame.control.count {
                try runOp(&frame)
            }
            for stream in PatchStream.allCases where frame.left(stream) != 0 {
                throw OTAError(
                    .deltaMalformed, "a frame's \(stream) stream holds \(frame.left(stream)) bytes no op uses")
            }
        } catch {
            // The finisher's error, on a piece handed out before, comes first.
            try finisher?.drain()
            throw error
        }
        // The next frame reuses these streams: every ADD that reads them is applied before the
        // frame ends (those of the piece being filled here).
        if let finisher {
            try finisher.drain()
            pieceWork[workIndex].replay(out.baseAddress!, transform: transform, index: mapIndex)
        }
    }

    /// The next varint at `cursor` of `bytes` (one of the frame's streams); its absence is a
    /// malformed patch.
    @inline(__always)
    private func varint(_ bytes: UnsafeBufferPointer<UInt8>, _ cursor: inout Int, _ what: String) throws(OTAError)
        -> UInt64
    {
        if cursor < bytes.count, bytes[cursor] < 0x80 {
            cursor += 1
            return UInt64(bytes[cursor - 1])
        }
        let parse: Varint.Parse
        do throws(DeltaFormatError) {
            parse = try Varint.read(bytes, at: cursor)
        } catch {
            throw OTAError(.deltaMalformed, "malformed number (\(what)) in patch at output offset \(written)")
        }
        guard case .value(let value, let next) = parse else {
            throw OTAError(.deltaMalformed, "\(what) missing from its frame at output offset \(written)")
        }
        cursor = next
        return value
    }

    private func runOp(_ frame: inout FrameStreams) throws(OTAError) {
        guard let header else { return }
        let code = frame.control[frame.controlCursor]
        frame.controlCursor += 1
        let isCode =
            code == DeltaOperation.copyCode || code == DeltaOperation.addCode || code == DeltaOperation.insertCode
            || (code == DeltaOperation.predictedAddCode && transform != nil)
            || (code == DeltaOperation.recompressedCode && header.recompressed)
        guard isCode else {
            throw OTAError(.deltaUnknownOp, "unknown op code \(code) in patch at output offset \(written)")
        }
        let delta =
            code == DeltaOperation.insertCode || code == DeltaOperation.recompressedCode
            ? 0 : Varint.unzigzag(try varint(frame.control, &frame.controlCursor, "op offset"))
        let lengthField = try varint(frame.control, &frame.controlCursor, "op length")
        guard lengthField > 0 else {
            throw OTAError(.deltaMalformed, "zero-length op in patch at output offset \(written)")
        }
        guard lengthField <= UInt64(Int64(header.newSize) - written) else {
            throw OTAError(
                .deltaOutputOverflow,
                "patch op writes \(lengthField) bytes at offset \(written), past the declared size \(header.newSize)")
        }
        guard code == DeltaOperation.copyCode || lengthField <= UInt64(PatchFrame.maxOpLength) else {
            throw OTAError(
                .deltaMalformed,
                "ADD, INSERT or RECOMPRESSED op of \(lengthField) bytes, more than \(PatchFrame.maxOpLength)")
        }
        let length = Int64(lengthField)
        if code == DeltaOperation.recompressedCode { return try runRecompressed(Int(length)) }
        if code == DeltaOperation.insertCode {
            if header.operandsSplit { return try runSplitInsert(Int(length), frame: &frame) }
            if header.insertsAligned { try skipAlignment(length: Int(length), frame: &frame) }
            guard length <= Int64(frame.inserts.count - frame.insertsCursor) else {
                throw InsertsOperands.missing(written)
            }
            try reserve(Int(length))
            (out.baseAddress! + outCount).update(
                from: frame.inserts.baseAddress! + frame.insertsCursor, count: Int(length))
            if let filter = header.insertsFilter {
                InsertsFilter.apply(
                    filter, out.baseAddress! + outCount, count: Int(length), offset: written, encode: false)
            }
            outCount += Int(length)
            frame.insertsCursor += Int(length)
            written += length
            try emitIfFull()
            return
        }
        // old start = cursor + signed delta, checked without overflow.
        let (start, overflow) = oldCursor.addingReportingOverflow(delta)
        guard !overflow, start >= 0, start <= Int64(header.oldSize), length <= Int64(header.oldSize) - start else {
            throw OTAError(
                .deltaOutOfRange,
                "patch op reads old bytes outside the old image (cursor \(oldCursor), delta \(delta), length \(length))"
            )
        }
        oldCursor = start + length
        let newStart = written
        written += length
        if code == DeltaOperation.copyCode {
            try copyOld(at: start, count: length)
        } else {
            try runAdd(
                at: start, length: Int(length), newStart: newStart, predicted: code == DeltaOperation.predictedAddCode,
                frame: &frame)
        }
    }

    /// A RECOMPRESSED op: the next `length` bytes the recompressed-streams block rebuilt.
    private func runRecompressed(_ length: Int) throws(OTAError) {
        guard length <= recompressed.count - recompressedTaken else {
            throw OTAError(
                .deltaMalformed,
                "a RECOMPRESSED op at output offset \(written) places \(length) bytes; the recompressed streams have \(recompressed.count - recompressedTaken) left"
            )
        }
        try reserve(length)
        recompressed.withUnsafeBufferPointer {
            (out.baseAddress! + outCount).update(from: $0.baseAddress! + recompressedTaken, count: length)
        }
        outCount += length
        recompressedTaken += length
        written += Int64(length)
        try emitIfFull()
    }

    /// Aligned inserts: skips the zero bytes before an INSERT of `length` bytes at the current
    /// output offset (`InsertsAlignment`); any other byte there, or too few, is a malformed patch.
    private func skipAlignment(length: Int, frame: inout FrameStreams) throws(OTAError) {
        let padding = InsertsAlignment.padding(offset: written, streamPosition: insertsStreamPosition)
        guard padding <= frame.inserts.count - frame.insertsCursor else {
            throw InsertsOperands.missing(written)
        }
        for k in 0..<padding where frame.inserts[frame.insertsCursor + k] != 0 {
            throw OTAError(
                .deltaMalformed, "the alignment before the INSERT at output offset \(written) holds a byte other than 0"
            )
        }
        frame.insertsCursor += padding
        insertsStreamPosition += Int64(padding + length)
    }

    /// An INSERT of body coding 5: its bytes from the inserts stream, its operands from the
    /// operands stream (`InsertsOperands.join`).
    private func runSplitInsert(_ length: Int, frame: inout FrameStreams) throws(OTAError) {
        let available = frame.inserts.count - frame.insertsCursor
        guard available > 0 else {
            throw InsertsOperands.missing(written)
        }
        try reserve(length)
        frame.insertsCursor += try InsertsOperands.join(
            main: frame.inserts.baseAddress! + frame.insertsCursor, available: available,
            into: out.baseAddress! + outCount, count: length, offset: written, operands: &frame.operands)
        outCount += length
        written += Int64(length)
        try emitIfFull()
    }

    /// An ADD (at most 256 KiB): the old bytes are copied into the output, references
    /// predicted for an ADDP, then the literal differences are added in place. Pipelined, the
    /// predictions and each checked run with literals are recorded in the batch being filled
    /// (`PieceWork`) instead, for the finisher: it adds them without parsing the runs again.
    private func runAdd(at start: Int64, length: Int, newStart: Int64, predicted: Bool, frame: inout FrameStreams)
        throws(OTAError)
    {
        try reserve(length)
        let dest = out.baseAddress! + outCount
        try fillOld(at: start, count: length, into: dest)
        if predicted { try predict(dest, count: length, oldStart: start, newStart: newStart) }
        let pipelined = finisher != nil
        // The batch's runs, kept in locals while the ADD's runs are checked (written back below).
        var records = pipelined ? pieceWork[workIndex].runs : UnsafeMutableBufferPointer(start: nil, count: 0)
        var recorded = pipelined ? pieceWork[workIndex].runCount : 0
        let runs = frame.runs
        let differences = frame.differences
        var runsCursor = frame.runsCursor
        var from = frame.differencesCursor
        var position = 0
        while position < length {
            let remaining = length - position
            let token = try varint(runs, &runsCursor, "ADD run")
            let zeros = token >> 3
            var literals = token & 7
            if literals == 7 {
                let more = try varint(runs, &runsCursor, "ADD run length")
                guard more <= UInt64(remaining) else {
                    throw OTAError(.deltaMalformed, "ADD run of \(more) literals does not fit its op")
                }
                literals += more
            }
            guard zeros <= UInt64(remaining), literals <= UInt64(remaining) - zeros, zeros + literals > 0 else {
                throw OTAError(
                    .deltaMalformed,
                    "ADD payload run (\(zeros) + \(literals)) does not fit the \(remaining) bytes left in its op")
            }
            position += Int(zeros)
            let count = Int(literals)
            guard count <= differences.count - from else {
                throw OTAError(.deltaMalformed, "ADD run of \(count) literals runs past its frame's difference bytes")
            }
            if count > 0 {
                let d = differences.baseAddress! + from
                if pipelined {
                    if recorded == PieceWork.maxRuns {
                        // Full within the ADD: its runs so far go with its predictions (already
                        // in this batch or an earlier one), the rest in the next batch, which
                        // the finisher has replayed and emptied before `handOff` returns.
                        pieceWork[workIndex].runCount = recorded
                        try handOff(piece: nil)
                        recorded = 0
                        records = pieceWork[workIndex].runs
                    }
                    if recorded == 0 { pieceWork[workIndex].differences = d }
                    records[recorded] = PieceWork.Run(offset: UInt32(outCount + position), count: UInt32(count))
                    recorded += 1
                } else {
                    PieceWork.add(d, count, to: dest + position)
                }
                from += count
            }
            position += count
        }
        if pipelined {
            let work = pieceWork[workIndex]
            work.runCount = recorded
            if work.isFull { try handOff(piece: nil) }
        }
        frame.runsCursor = runsCursor
        frame.differencesCursor = from
        outCount += length
        try emitIfFull()
    }

    /// Rewrites the references of old `[oldStart, +count)`, held at `bytes`, as predicted for new
    /// offset `newStart`, scanning (or recalling) the old blocks the range touches.
    private func predict(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, oldStart: Int64, newStart: Int64)
        throws(OTAError)
    {
        guard let transform else { return }
        let end = oldStart + Int64(count)
        let target = UnsafeMutableBufferPointer(start: bytes, count: count)
        var block = oldStart / ReferenceTransform.scanBlock
        while block * ReferenceTransform.scanBlock < end {
            windowSites.removeAll(keepingCapacity: true)
            if scansWindows, let scanner {
                // Each site is predicted as the scan finds it, but for plain ADRPs (a later use
                // may pair them), which come back in `windowSites`.
                let bytes = try cachedBlock(block)
                transform.withPrediction(target, oldStart: oldStart, newStart: newStart, index: mapIndex) {
                    scanner.scan(block: block, bytes: bytes, within: oldStart..<end, into: &windowSites, consumer: &$0)
                }
            } else {
                try appendCachedSites(ofBlock: block, within: oldStart..<end)
            }
            if !windowSites.isEmpty {
                if finisher != nil {
                    try predictLater(target, oldStart: oldStart, newStart: newStart)
                } else {
                    transform.predict(
                        target, oldStart: oldStart, newStart: newStart, sites: windowSites[...], index: mapIndex)
                }
            }
            block += 1
        }
    }

    /// Records, for the finisher, the prediction of `target` (in the piece being filled) at the
    /// sites of `windowSites`.
    private func predictLater(_ target: UnsafeMutableBufferPointer<UInt8>, oldStart: Int64, newStart: Int64)
        throws(OTAError)
    {
        if pieceWork[workIndex].sites.count + windowSites.count > PieceWork.maxSites { try handOff(piece: nil) }
        let work = pieceWork[workIndex]
        let first = work.sites.count
        work.sites += windowSites
        work.predicts.append(
            PieceWork.Predict(
                offset: UInt32(target.baseAddress! - out.baseAddress!), length: UInt32(target.count),
                firstSite: UInt32(first), endSite: UInt32(work.sites.count), oldStart: oldStart, newStart: newStart))
    }

    /// Appends to `windowSites` the sites of block `block` (from `siteCache`) that lie wholly in
    /// `range`.
    private func appendCachedSites(ofBlock block: Int64, within range: Range<Int64>) throws(OTAError) {
        let found = try sites(ofBlock: block)
        let blockStart = block * ReferenceTransform.scanBlock
        var next = found.partitioningIndex { blockStart + Int64($0.offset) >= range.lowerBound }
        while next < found.count, blockStart + Int64(found[next].offset) + 4 <= range.upperBound {
            let site = found[next]
            windowSites.append(
                ReferenceSite(offset: blockStart + Int64(site.offset), kind: site.kind, context: site.context))
            next += 1
        }
    }

    private func sites(ofBlock block: Int64) throws(OTAError) -> [BlockSite] {
        if let hit = siteCache.first(where: { $0.block == block }) { return hit.sites }
        guard let scanner else { return [] }
        // The ADDP's own bytes were just read through the cache, so its block is usually there.
        let bytes = try cachedBlock(block)
        let blockStart = block * ReferenceTransform.scanBlock
        // x86-64 sites go straight into `blockSites` (capacity kept from block to block); any
        // other (which the consumer does not see with its context) sends the block the long way.
        if blockSites.baseAddress == nil { blockSites = .allocate(capacity: Self.maxBlockSites) }
        var collector = X86SiteCollector(blockStart: blockStart, sites: blockSites.baseAddress!)
        var others: [ReferenceSite] = []
        scanner.scan(block: block, bytes: bytes, within: nil, into: &others, consumer: &collector)
        let found: [BlockSite]
        if others.isEmpty {
            // Kept at its exact size: the cache holds several blocks' sites.
            found = Array(UnsafeBufferPointer(start: blockSites.baseAddress, count: collector.count))
        } else {
            others.removeAll()
            scanner.scan(block: block, bytes: bytes, into: &others)
            found = others.map {
                BlockSite(offset: UInt16($0.offset - blockStart), kind: $0.kind, context: $0.context)
            }
        }
        if siteCache.count < Self.siteCacheBlocks {
            siteCache.append((block, found))
        } else {
            siteCache[siteCacheNext] = (block, found)
            siteCacheNext = (siteCacheNext + 1) % Self.siteCacheBlocks
        }
        return found
    }

    /// Exactly `buffer.count` old bytes at `offset`: straight into `buffer` where the source
    /// can, else through the source's array read.
    private func readSource(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) {
        if let directSource { return try directSource.read(at: offset, into: buffer) }
        let bytes = try source.read(at: offset, count: buffer.count)
        guard bytes.count == buffer.count else {
            throw OTAError(.ioShortRead, "the old image ended early at \(offset + Int64(bytes.count)) bytes")
        }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    /// Appends old bytes unchanged (already bounds-checked against the op).
    private func copyOld(at start: Int64, count: Int64) throws(OTAError) {
        var done: Int64 = 0
        while done < count {
            if outCount == Self.outPiece { try flush() }
            let step = Int(min(count - done, Int64(Self.outPiece - outCount)))
            try fillOld(at: start + done, count: step, into: out.baseAddress! + outCount)
            outCount += step
            done += Int64(step)
        }
        try emitIfFull()
    }

    /// Copies old bytes `[offset, offset + count)`, already bounds-checked, to `dest`; short
    /// reads are served from the block cache of the old image.
    private func fillOld(at offset: Int64, count: Int, into dest: UnsafeMutablePointer<UInt8>) throws(OTAError) {
        guard count > 0 else { return }
        if count > Self.readAhead {
            // Long reads go straight to the output.
            try readSource(at: offset, into: UnsafeMutableRawBufferPointer(start: dest, count: count))
            return
        }
        var done = 0
        while done < count {
            let position = offset + Int64(done)
            let block = position / ReferenceTransform.scanBlock
            let bytes = try cachedBlock(block)
            let from = Int(position - block * ReferenceTransform.scanBlock)
            let step = min(count - done, bytes.count - from)
            precondition(step > 0, "old range outside the image passed the op's bounds check")
            (dest + done).update(from: bytes.baseAddress! + from, count: step)
            done += step
        }
    }

    /// Old block `block` (`[block * 64 KiB, ...)`, shorter at the image's end), from the cache or
    /// read into its least recently used slot.
    @inline(__always)
    private func cachedBlock(_ block: Int64) throws(OTAError) -> UnsafeBufferPointer<UInt8> {
        if block == lastBlock { return lastBytes }
        lastBytes = try lookUpBlock(block)
        lastBlock = block
        return lastBytes
    }

    private func lookUpBlock(_ block: Int64) throws(OTAError) -> UnsafeBufferPointer<UInt8> {
        let start = block * ReferenceTransform.scanBlock
        let length = Int(min(ReferenceTransform.scanBlock, source.byteCount - start))
        cacheClock &+= 1
        var slot = 0
        for k in 0..<Self.cacheSlots {
            if cacheBlocks[k] == block {
                cacheUses[k] = cacheClock
                return UnsafeBufferPointer(
                    start: cache.baseAddress!.assumingMemoryBound(to: UInt8.self) + k * Self.cacheBlock, count: length)
            }
            if cacheUses[k] < cacheUses[slot] { slot = k }
        }
        let bytes = UnsafeMutableRawBufferPointer(
            rebasing: cache[(slot * Self.cacheBlock)..<(slot * Self.cacheBlock + length)])
        // Forgotten first, so a failed read leaves no slot claiming bytes it does not hold.
        cacheBlocks[slot] = -1
        lastBlock = -1
        try readSource(at: start, into: bytes)
        cacheBlocks[slot] = block
        cacheUses[slot] = cacheClock
        return UnsafeBufferPointer(bytes.bindMemory(to: UInt8.self))
    }

    /// Makes room for `count` (≤ 256 KiB) contiguous output bytes.
    private func reserve(_ count: Int) throws(OTAError) {
        if Self.outPiece - outCount < count { try flush() }
    }

    private func emitIfFull() throws(OTAError) {
        if outCount >= Self.outPiece { try flush() }
    }

    private func flush() throws(OTAError) {
        guard outCount > 0 else { return }
        let piece = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: out[0..<outCount]))
        outCount = 0
        outSlot = (outSlot + 1) % outSlots
        out = UnsafeMutableBufferPointer(
            rebasing: outBuffers[(outSlot * Self.outPiece)..<((outSlot + 1) * Self.outPiece)])
        if finisher == nil { return try emit(piece) }
        try handOff(piece: piece)
    }

    /// Hands the finisher the batch being filled (`pieceWork[workIndex]`), of the piece being
    /// filled or, with `piece`, of that piece, full (the next one already started), to hand out
    /// once done; returns once the next batch, and with `piece` the next slot, is free.
    private func handOff(piece: UnsafeRawBufferPointer?) throws(OTAError) {
        guard let finisher else { return }
        let work = pieceWork[workIndex]
        let base =
            piece.map { UnsafeMutablePointer(mutating: $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            ?? out.baseAddress!
        let transform = transform
        let index = mapIndex
        finisher.run(piece: piece != nil) { [unowned(unsafe) self] () throws(OTAError) in
            work.replay(base, transform: transform, index: index)
            if let piece { try self.emit(piece) }
        }
        workIndex = (workIndex + 1) % pieceWork.count
        // The finisher is then done with the batch `jobsAhead` before this one (the next one to
        // fill) and, with `piece`, has handed out the piece before this one: the hasher (depth 1)
        // is done with the piece before that, whose slot the new piece uses.
        try finisher.awaitPrevious(piece: piece != nil)
    }

    /// Hands a finished piece to the new image's hasher and the output.
    private func emit(_ piece: UnsafeRawBufferPointer) throws(OTAError) {
        newHasher?.update(piece)
        try output(piece)
    }
}
