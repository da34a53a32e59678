/// One frame's decoded streams (a class: the decoder fills one set while its executor may read
/// the other); the operands stream stays empty in a body of four.
final class FrameBuffers {
    var streams = [[UInt8]](repeating: [], count: PatchStream.allCases.count)
}

/// The decoded streams of the frame being run, and how far the ops have read each.
struct FrameStreams {
    let control: UnsafeBufferPointer<UInt8>
    let runs: UnsafeBufferPointer<UInt8>
    let differences: UnsafeBufferPointer<UInt8>
    let inserts: UnsafeBufferPointer<UInt8>
    var operands: FrameOperandsReader
    var controlCursor = 0
    var runsCursor = 0
    var differencesCursor = 0
    var insertsCursor = 0

    init(
        control: UnsafeBufferPointer<UInt8>, runs: UnsafeBufferPointer<UInt8>, differences: UnsafeBufferPointer<UInt8>,
        inserts: UnsafeBufferPointer<UInt8>, operands: FrameOperandsReader
    ) {
        self.control = control
        self.runs = runs
        self.differences = differences
        self.inserts = inserts
        self.operands = operands
    }

    /// Bytes of `stream` no op has read.
    func left(_ stream: PatchStream) -> Int {
        switch stream {
        case .control: control.count - controlCursor
        case .runs: runs.count - runsCursor
        case .differences: differences.count - differencesCursor
        case .inserts: inserts.count - insertsCursor
        case .operands: operands.left
        }
    }
}
