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
        where prediction != nil
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
                writer.append(.inserts, UnsafeBufferPointer(rebasing: new[newPosition..<(newPosition + piece)]))
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
        let sites = prediction.analysis.sites(from: Int64(oldStart), to: Int64(oldStart + length))
        guard !sites.isEmpty else { return nil }
        let o = old.baseAddress! + oldStart
        let n = new.baseAddress! + newPosition
        let p = prediction.analysis.scratch
        p.baseAddress!.update(from: o, count: length)
        prediction.transform.predict(
            UnsafeMutableBufferPointer(rebasing: p[0..<length]), oldStart: Int64(oldStart),
            newStart: Int64(newPosition),
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
        return predictedMisses < plainMisses ? UnsafePointer(p.baseAddress!) : nil
    }
}
