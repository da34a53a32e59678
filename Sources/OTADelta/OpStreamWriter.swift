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
    /// Inserted code's relative fields are written absolute for this instruction set
    /// (`InsertsFilter`, body coding 3 or 4; 5 with `operandsSplit`).
    var insertsFilter: ReferenceArchitecture?
    /// With the x86-64 filter: the operands go to the operands stream (`InsertsOperands`, body
    /// coding 5); the writer must have five streams.
    var operandsSplit = false
    /// Each INSERT's bytes are preceded by the zeros that keep them word-aligned in the inserts
    /// stream (`InsertsAlignment`, body coding bit 0x20): the stream position they are counted
    /// from, the primed old bytes; nil without alignment.
    var alignedInserts: Int64?
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
        case .insert(let length):
            var done = 0
            while done < length {
                let piece = min(length - done, PatchFrame.maxOpLength)
                writer.append(.control, DeltaOperation.insertCode)
                writer.appendVarint(.control, UInt64(piece))
                if let primed = alignedInserts {
                    let padding = InsertsAlignment.padding(
                        offset: Int64(newPosition), streamPosition: primed + insertsStreamBytes)
                    for _ in 0..<padding { writer.append(.inserts, 0) }
                    insertsStreamBytes += Int64(padding + piece)
                }
                if operandsSplit {
                    filtered.removeAll(keepingCapacity: true)
                    let writer = writer
                    InsertsOperands.split(
                        new.baseAddress! + newPosition, count: piece, offset: Int64(newPosition), main: &filtered
                    ) { writer.appendOperand($0, $1) }
                    filtered.withUnsafeBufferPointer { writer.append(.inserts, $0) }
                } else if let insertsFilter {
                    filtered.removeAll(keepingCapacity: true)
                    filtered.append(contentsOf: new[newPosition..<(newPosition + piece)])
                    filtered.withUnsafeMutableBufferPointer {
                        InsertsFilter.apply(
                            insertsFilter, $0.baseAddress!, count: piece, offset: Int64(newPosition), encode: true)
                    }
                    filtered.withUnsafeBufferPointer { writer.append(.inserts, $0) }
                } else {
                    writer.append(.inserts, UnsafeBufferPointer(rebasing: new[newPosition..<(newPosition + piece)]))
                }
                newPosition += piece
                done += piece
                statistics.operations += 1
                try endFrameIfFull(sink)
            }
            statistics.insertBytes += Int64(length)
        }
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
            case .insert: continue
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
