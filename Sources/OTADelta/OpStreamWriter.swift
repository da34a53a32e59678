internal import OTABase

/// Feeds ops' bytes to a `PatchFrameWriter`'s streams, cutting long ADD and INSERT ops so each
/// op's data stays inside one frame, and closing frames as they fill.
struct OpStreamWriter {
    /// The transform and the old image's sites, when the patch carries one.
    struct Prediction {
        let transform: ReferenceTransform
        let analysis: ReferenceAnalysis
        let mapIndex: ReferenceTransform.MapIndex

        init(transform: ReferenceTransform, analysis: ReferenceAnalysis) {
            self.transform = transform
            self.analysis = analysis
            mapIndex = ReferenceTransform.MapIndex(transform.map)
        }
    }

    let old: UnsafeBufferPointer<UInt8>
    let new: UnsafeBufferPointer<UInt8>
    let writer: PatchFrameWriter
    var prediction: Prediction?
    /// The ops were matched on images with reference fields cleared: a COPY may then be equal
    /// only masked, and is written as an ADD (with or without prediction).
    var maskedMatching = false
    /// How the inserted bytes are written (`DeltaPatchHeader.BodyCoding`): as they are, filtered
    /// (`InsertsFilter`), with their operands in the operands stream (`InsertsOperands`; the
    /// writer must have five streams), and word-aligned (`InsertsAlignment`).
    var bodyCoding = DeltaPatchHeader.BodyCoding.plain
    /// Primed old bytes the inserts stream's positions start from (`InsertsPrime`), which the
    /// alignment counts.
    var primedInserts: Int64 = 0
    /// Bytes written to the inserts stream so far, padding included.
    private var insertsStreamBytes: Int64 = 0
    /// An INSERT's bytes as filtered, reused from op to op.
    private var filtered: [UInt8] = []
    private var oldCursor = 0
    private(set) var newPosition = 0

    init(old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, writer: PatchFrameWriter) {
        self.old = old
        self.new = new
        self.writer = writer
    }

    /// RECOMPRESSED ops for the next `length` bytes (at most 256 KiB each).
    private mutating func writeRebuilt(
        _ length: Int, statistics: inout DeltaStatistics, sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) {
        var done = 0
        while done < length {
            let piece = min(length - done, PatchFrame.maxOpLength)
            writer.append(.control, DeltaOperation.recompressedCode)
            writer.appendVarint(.control, UInt64(piece))
            newPosition += piece
            done += piece
            statistics.operations += 1
            try endFrameIfFull(sink)
        }
        statistics.recompressedBytes += Int64(length)
    }

    mutating func write(
        _ op: DeltaOperation, statistics: inout DeltaStatistics, sink: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) {
        switch op {
        case .copy(let oldStart, let length)
        where maskedMatching
            && !memcmpEqual(old.baseAddress! + oldStart, new.baseAddress! + newPosition, length):
            // Equal only with reference fields masked: an ADD (with prediction, as chosen below).
            try write(.add(oldStart: oldStart, length: length), statistics: &statistics, sink: sink)
        case .copy(let oldStart, let length):
            writer.append(.control, DeltaOperation.copyCode)
            writer.appendVarint(.control, Varint.zigzag(Int64(oldStart - oldCursor)))
            writer.appendVarint(.control, UInt64(length))
            oldCursor = oldStart + length
            newPosition += length
            statistics.copyBytes += Int64(length)
            statistics.operations += 1
            try endFrameIfFull(sink)
        case .add(let oldStart, let length):
            var done = 0
            while done < length {
                let piece = min(length - done, PatchFrame.maxOpLength)
                let base = basis(oldStart: oldStart + done, length: piece)
                if base == nil {
                    writer.append(.control, DeltaOperation.addCode)
                } else {
                    writer.append(.control, DeltaOperation.predictedAddCode)
                    statistics.predictedAddBytes += Int64(piece)
                }
                writer.appendVarint(.control, Varint.zigzag(Int64(oldStart + done - oldCursor)))
                writer.appendVarint(.control, UInt64(piece))
                if let base {
                    DeltaEncoder.addPayload(base: base, new: new.baseAddress! + newPosition, length: piece, to: writer)
                } else {
                    DeltaEncoder.addPayload(
                        base: old.baseAddress! + oldStart + done, new: new.baseAddress! + newPosition, length: piece,
                        to: writer)
                }
                oldCursor = oldStart + done + piece
                newPosition += piece
                done += piece
                statistics.operations += 1
                try endFrameIfFull(sink)
            }
            statistics.addBytes += Int64(length)
        case .rebuilt(let length):
            try writeRebuilt(length, statistics: &statistics, sink: sink)
        case .insert(let length):
            var done = 0
            while done < length {
                let piece = min(length - done, PatchFrame.maxOpLength)
                writer.append(.control, DeltaOperation.insertCode)
                writer.appendVarint(.control, UInt64(piece))
                if bodyCoding.insertsAligned {
                    let padding = InsertsAlignment.padding(
                        offset: Int64(newPosition), streamPosition: primedInserts + insertsStreamBytes)
                    for _ in 0..<padding { writer.append(.inserts, 0) }
                    insertsStreamBytes += Int64(padding + piece)
                }
                appendInserted(count: piece)
                newPosition += piece
                done += piece
                statistics.operations += 1
                try endFrameIfFull(sink)
            }
            statistics.insertBytes += Int64(length)
        }
    }

    /// The `count` new bytes at `newPosition` of an INSERT to the inserts stream: as they are,
    /// filtered (`InsertsFilter`) or with their operands sent to the operands stream
    /// (`InsertsOperands.split`), as `bodyCoding` says.
    private mutating func appendInserted(count: Int) {
        let bytes = UnsafeBufferPointer(rebasing: new[newPosition..<(newPosition + count)])
        guard let insertsFilter = bodyCoding.insertsFilter else { return writer.append(.inserts, bytes) }
        filtered.removeAll(keepingCapacity: true)
        if bodyCoding.operandsSplit {
            let writer = writer
            InsertsOperands.split(bytes.baseAddress!, count: count, offset: Int64(newPosition), main: &filtered) {
                writer.appendOperand($0, $1)
            }
        } else {
            filtered.append(contentsOf: bytes)
            filtered.withUnsafeMutableBufferPointer {
                InsertsFilter.apply(
                    insertsFilter, $0.baseAddress!, count: count, offset: Int64(newPosition), encode: true)
            }
        }
        filtered.withUnsafeBufferPointer { writer.append(.inserts, $0) }
    }

    private func endFrameIfFull(_ sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        if writer.pendingBytes >= PatchFrame.target { try writer.endFrame(sink: sink) }
    }

    /// The predicted old bytes for an ADD of old `[oldStart, +length)` written at the current
    /// new position, when they differ from the new bytes in fewer places than the plain old
    /// bytes do (then the op is an ADDP); nil for a plain ADD.
    private func basis(oldStart: Int, length: Int) -> UnsafePointer<UInt8>? {
        guard let prediction else { return nil }
        let misses = Self.siteMisses(
            prediction, old: old, new: new, oldStart: oldStart, newStart: newPosition, length: length)
        return misses.predicted < misses.plain ? UnsafePointer(prediction.analysis.scratch.baseAddress!) : nil
    }

    /// The site bytes of old `[oldStart, +length)` that differ from new `[newStart, +length)`,
    /// taken plain and predicted (the prediction is left in the analysis' scratch buffer).
    private static func siteMisses(
        _ prediction: Prediction, old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>, oldStart: Int,
        newStart: Int, length: Int
    ) -> (plain: Int, predicted: Int) {
        let sites = prediction.analysis.sites(from: Int64(oldStart), to: Int64(oldStart + length))
        guard !sites.isEmpty else { return (0, 0) }
        let o = old.baseAddress! + oldStart
        let n = new.baseAddress! + newStart
        let p = prediction.analysis.scratch
        p.baseAddress!.update(from: o, count: length)
        prediction.transform.predict(
            UnsafeMutableBufferPointer(rebasing: p[0..<length]), oldStart: Int64(oldStart), newStart: Int64(newStart),
            sites: sites, index: prediction.mapIndex)
        // Only the site bytes can differ between the two bases.
        var plainMisses = 0
        var predictedMisses = 0
        for site in sites {
            let at = Int(site.offset) - oldStart
            guard at >= 0, at + 4 <= length else { continue }
            for k in at..<(at + 4) {
                if o[k] != n[k] { plainMisses += 1 }
                if p[k] != n[k] { predictedMisses += 1 }
            }
        }
        return (plainMisses, predictedMisses)
    }

    /// The differing site bytes that ADDP ops would remove if `ops` (matched on masked images)
    /// were written with `prediction`: the sum over the ADD pieces `write` would make ADDPs of,
    /// of plain minus predicted misses. Stops counting once the sum exceeds `enough`.
    static func predictionGain(
        _ ops: [DeltaOperation], prediction: Prediction, old: UnsafeBufferPointer<UInt8>,
        new: UnsafeBufferPointer<UInt8>, enough: Int
    ) -> Int {
        var gain = 0
        var position = 0
        for op in ops {
            defer { position += op.length }
            let oldStart: Int
            switch op {
            case .insert, .rebuilt: continue
            case .copy(let start, let length):
                if memcmpEqual(old.baseAddress! + start, new.baseAddress! + position, length) { continue }
                oldStart = start
            case .add(let start, _): oldStart = start
            }
            var done = 0
            while done < op.length {
                let piece = min(op.length - done, PatchFrame.maxOpLength)
                let misses = siteMisses(
                    prediction, old: old, new: new, oldStart: oldStart + done, newStart: position + done, length: piece)
                if misses.predicted < misses.plain { gain += misses.plain - misses.predicted }
                if gain > enough { return gain }
                done += piece
            }
        }
        return gain
    }
}
