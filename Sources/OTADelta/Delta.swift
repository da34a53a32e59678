public import OTABase

/// Delta images: `diff(old, new) -> patch` and a streaming `apply(old, patch) -> new`.
///
/// ```swift
/// let patch = try Delta.diff(old: oldBytes, new: newBytes)
/// let rebuilt = try Delta.apply(old: oldBytes, patch: patch)
/// ```
/// For images on disk use `createPatch(old:new:output:)` and `applyPatch(old:patch:output:)`;
/// the vehicle side feeds a `DeltaDecoder` straight from the bundle stream.
public enum Delta {
    /// Makes a patch from two in-memory images.
    public static func diff(old: [UInt8], new: [UInt8], options: DeltaOptions = DeltaOptions()) throws(OTAError)
        -> [UInt8]
    {
        var patch: [UInt8] = []
        let (header, _) = try withBuffers(old, new) { (o, n) throws(OTAError) in
            try DeltaEncoder(options: options).encode(old: o, new: n, progress: nil) {
                (bytes: [UInt8]) throws(OTAError) in patch += bytes
            }
        }
        patch.replaceSubrange(0..<header.count, with: header)
        return patch
    }

    /// Applies a patch to an in-memory old image (the old image's hash runs beside the decoding,
    /// or after it for a small image, on the caller's thread; the result is returned only when
    /// both hashes match).
    public static func apply(old: [UInt8], patch: [UInt8], limits: DeltaLimits = DeltaLimits()) throws(OTAError)
        -> [UInt8]
    {
        var out: [UInt8] = []
        // `threads(oldSize:newSize:patchSize:)` for a small image, else sequential as ever (an
        // in-memory apply pipelined was not measured). The header is decoded once, here.
        let header = patch.count >= DeltaPatchHeader.byteCount ? try DeltaPatchHeader.decode(patch) : nil
        let small = header.map {
            Self.threads(oldSize: UInt64(old.count), newSize: $0.newSize, patchSize: UInt64(patch.count)) == .callerOnly
        }
        let threads: DeltaDecoder.Threads = small == true ? .callerOnly : .sequential
        let decoder = DeltaDecoder(
            source: MemoryDeltaSource(old), limits: limits, sourceCheck: .concurrent, threads: threads
        ) { (piece: UnsafeRawBufferPointer) throws(OTAError) in out.append(contentsOf: piece) }
        if let header { try decoder.begin(with: header) }
        _ = try decoder.decodeAll(patch, from: header == nil ? 0 : DeltaPatchHeader.byteCount)
        return out
    }

    /// Reads two image files, writes a patch to `output` atomically.
    public static func createPatch(
        old oldPath: String, new newPath: String, output: String, options: DeltaOptions = DeltaOptions(),
        progress: DeltaProgress? = nil
    ) throws(OTAError) -> DeltaCreateReport {
        let started = ContinuousClock.now
        let old = try ImageBytes(path: oldPath)
        let new = try ImageBytes(path: newPath)
        let writer = try AtomicFileWriter(path: output, refusingInputs: true)
        let (header, statistics) = try old.withBuffer { (o) throws(OTAError) in
            try new.withBuffer { (n) throws(OTAError) in
                try DeltaEncoder(options: options).encode(
                    old: o, new: n, progress: progress,
                    eviction: DeltaEncoder.ImageEviction(old: old.evict, new: new.evict)
                ) { (bytes: [UInt8]) throws(OTAError) in try writer.write(bytes) }
            }
        }
        try writer.overwrite(header, at: 0)
        let patchSize = writer.bytesWritten
        try writer.commit()
        return DeltaCreateReport(
            oldSize: Int64(old.count), newSize: Int64(new.count), patchSize: patchSize,
            seconds: started.duration(to: .now).seconds, statistics: statistics)
    }

    /// Applies the patch file to the old image (read by offset: a file or block device) and
    /// writes the new image to `output` atomically; nothing is left behind on failure.
    public static func applyPatch(
        old oldPath: String, patch patchPath: String, output: String, limits: DeltaLimits = DeltaLimits(),
        progress: DeltaProgress? = nil
    ) throws(OTAError) -> DeltaApplyReport {
        let started = ContinuousClock.now
        let source = try FileDeltaSource(path: oldPath)
        let patch = try InputFile(path: patchPath)
        let patchSize = try patch.size()
        // Device writes start every MiB and are flushed every 2 MiB on a thread of the writer's,
        // so the fsync before the rename waits for the tail only.
        let writer = try AtomicFileWriter(path: output, flushEvery: EarlyFlusher.interval)
        writer.writeback = 1 << 20
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // The first read holds the header unless the patch is shorter. Decoded here, once (a
        // malformed one is reported as the decoder reports it), it says with the patch's size
        // whether the work is small enough for one thread, and is handed to the decoder. A patch
        // too short for a header is left to the decoder, which reports it from `finish`.
        var count = try patch.readFully(into: &buffer)
        let header = count >= DeltaPatchHeader.byteCount ? try DeltaPatchHeader.decode(buffer) : nil
        let decoderThreads =
            header.map {
                Self.threads(oldSize: UInt64(source.byteCount), newSize: $0.newSize, patchSize: UInt64(patchSize))
            } ?? .callerOnly
        // The output is a temporary file renamed into place only after `finish` has checked
        // both hashes: the old image's hash can run beside the decoding (or, on one thread,
        // after it: the same errors in the same order).
        // Pipelined: the writer is used only by the decoder's thread until `finish` returns.
        let decoder = DeltaDecoder(source: source, limits: limits, sourceCheck: .concurrent, threads: decoderThreads) {
            (piece: UnsafeRawBufferPointer) throws(OTAError) in
            try writer.write(piece)
        }
        var start = 0
        if let header {
            try decoder.begin(with: header)
            start = DeltaPatchHeader.byteCount
        }
        var read: Int64 = 0
        while count > 0 {
            try buffer.withUnsafeBufferPointer { (bytes) throws(OTAError) in
                try decoder.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<count])))
            }
            start = 0
            read += Int64(count)
            progress?("apply", Double(read) / Double(max(patchSize, 1)))
            do {
                count = try patch.read(into: &buffer)
            } catch {
                // The frame running still holds the writer: it must let go (and the temporary
                // file go) before this error is reported.
                decoder.waitUntilIdle()
                throw error
            }
        }
        let applied = try decoder.finish()
        try writer.commit()
        return DeltaApplyReport(
            oldSize: Int64(applied.oldSize), newSize: Int64(applied.newSize), patchSize: patchSize,
            seconds: started.duration(to: .now).seconds, newHash: applied.newHash.description)
    }

    /// The decoder's threads for a patch of `patchSize` bytes that rebuilds `newSize` bytes from
    /// an old image of `oldSize`: on the caller's thread alone (`.callerOnly`) when old and new
    /// together are at most `oneThreadBytes` and the patch at most `oneThreadPatchBytes`, else
    /// `.pipelined`. There the threads' start and hand-offs cost more than the hashing and
    /// decoding they would overlap; the decoding grows with the patch. Measured on programs from
    /// the tuning packages and prefixes of them (loaded machine, paired wall ratios): patches of
    /// 0.2-48 KB, images of 0.5-4 MiB, 0.68-1.03× the pipelined wall, none slower; a 96 KB patch
    /// of 2 MiB 0.97-1.07× (undecided), 182 KB of 4 MiB 1.18× (slower): docs/PERFORMANCE-LOG.md,
    /// "`ota-patch`, small images on one thread".
    /// Sizes are unsigned, as the header and the installer's signed metadata give them, so no
    /// caller converts or guards them.
    package static func threads(oldSize: UInt64, newSize: UInt64, patchSize: UInt64) -> DeltaDecoder.Threads {
        let small =
            patchSize <= oneThreadPatchBytes && newSize <= oneThreadBytes && oldSize <= oneThreadBytes - newSize
        return small ? .callerOnly : .pipelined
    }
    package static let oneThreadBytes: UInt64 = 4 << 20
    package static let oneThreadPatchBytes: UInt64 = 64 << 10

    private static func withBuffers<T>(
        _ old: [UInt8], _ new: [UInt8],
        _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws(OTAError) -> T
    ) throws(OTAError) -> T {
        let result: Result<T, OTAError> = old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n in
                do throws(OTAError) { return .success(try body(o, n)) } catch { return .failure(error) }
            }
        }
        return try result.get()
    }
}

/// Figures from `createPatch`.
public struct DeltaCreateReport: Sendable, Codable {
    public var oldSize: Int64
    public var newSize: Int64
    public var patchSize: Int64
    public var seconds: Double
    public var statistics: DeltaStatistics
}

/// Figures from `applyPatch`.
public struct DeltaApplyReport: Sendable, Codable {
    public var oldSize: Int64
    public var newSize: Int64
    public var patchSize: Int64
    public var seconds: Double
    public var newHash: String
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
