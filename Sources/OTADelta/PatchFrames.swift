internal import Dispatch
internal import OTABase

/// The four streams of a patch body. Each is its own LZMA2 stream: op headers, run tokens,
/// difference bytes and inserted bytes each compress best among their own kind (measured:
/// 2-11% smaller patches than one interleaved stream; docs/PERFORMANCE.md).
public enum PatchStream: Int, CaseIterable, Sendable {
    /// Op codes, old offsets and lengths.
    case control
    /// ADD payload run tokens: `zeros << 3 | min(literals, 7)`, then `literals - 7` if >= 7.
    case runs
    /// ADD payload difference bytes (new - old) of the literal stretches.
    case differences
    /// INSERT bytes.
    case inserts

    /// LZMA2 literal context bits per stream (measured best on the corpus).
    var literalContextBits: UInt32 {
        switch self {
        case .control: 3
        case .runs, .differences, .inserts: 1
        }
    }
}

/// Frame sizes shared by the encoder and the decoder.
enum PatchFrame {
    /// The encoder closes a frame once its raw stream bytes reach this.
    static let target = 256 << 10
    /// ADD and INSERT ops are cut to at most this many output bytes, so one op's data always
    /// fits in one frame.
    static let maxOpLength = 256 << 10
    /// The decoder refuses a frame whose raw bytes exceed this (the encoder stays far below).
    static let maxRawBytes = 2 << 20
    /// Varints in a frame header: raw then packed size of each stream.
    static let headerFields = 2 * PatchStream.allCases.count

    /// The most compressed bytes a piece of `raw` bytes may take (LZMA2 stores incompressible
    /// data with 3 bytes per 64 KiB, plus chunk headers and the flush).
    static func maxPacked(raw: Int) -> Int { raw == 0 ? 0 : raw + raw / 256 + 64 }
}

/// Encoder side: collects each stream's bytes for the current frame, then compresses and
/// writes the frame (`raw sizes, packed sizes, four pieces`). Without settings it only counts.
final class PatchFrameWriter {
    private var encoders: [LZMA2StreamEncoder] = []
    private var pending: [[UInt8]] = Array(repeating: [], count: PatchStream.allCases.count)
    private(set) var pendingBytes = 0
    /// Raw stream bytes of all frames ended so far.
    private(set) var totalRawBytes: UInt64 = 0

    init(settings: [LZMA2Settings]) throws(OTAError) {
        for setting in settings { encoders.append(try LZMA2StreamEncoder(setting)) }
    }

    func append(_ stream: PatchStream, _ byte: UInt8) {
        pending[stream.rawValue].append(byte)
        pendingBytes += 1
    }

    func append(_ stream: PatchStream, _ bytes: UnsafeBufferPointer<UInt8>) {
        pending[stream.rawValue].append(contentsOf: bytes)
        pendingBytes += bytes.count
    }

    func appendVarint(_ stream: PatchStream, _ value: UInt64) {
        let before = pending[stream.rawValue].count
        Varint.append(value, to: &pending[stream.rawValue])
        pendingBytes += pending[stream.rawValue].count - before
    }

    /// Compresses and writes the pending frame (nothing when it is empty).
    func endFrame(sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        guard pendingBytes > 0 else { return }
        totalRawBytes += UInt64(pendingBytes)
        defer {
            for index in pending.indices { pending[index].removeAll(keepingCapacity: true) }
            pendingBytes = 0
        }
        guard !encoders.isEmpty else { return }
        // The inserts dominate the compression time: they get one core, the other three
        // streams the other.
        let pieces = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: encoders.count)
        pieces.initialize(repeating: [])
        defer { pieces.deinitialize().deallocate() }
        let failures = UnsafeMutableBufferPointer<OTAError?>.allocate(capacity: 2)
        failures.initialize(repeating: nil)
        defer { failures.deinitialize().deallocate() }
        let work = FrameCompression(encoders: encoders, pending: pending, pieces: pieces, failures: failures)
        DispatchQueue.concurrentPerform(iterations: 2) { task in
            let streams = task == 0 ? [PatchStream.inserts.rawValue] : [0, 1, 2]
            do throws(OTAError) {
                for index in streams { work.pieces[index] = try work.compress(index) }
            } catch {
                work.failures[task] = error
            }
        }
        if let failure = failures[0] ?? failures[1] { throw failure }
        var header: [UInt8] = []
        for bytes in pending { Varint.append(UInt64(bytes.count), to: &header) }
        for piece in pieces { Varint.append(UInt64(piece.count), to: &header) }
        try sink(header)
        for piece in pieces where !piece.isEmpty { try sink(piece) }
    }
}

/// One frame's compression work, split over two tasks that touch disjoint streams.
private struct FrameCompression: @unchecked Sendable {
    let encoders: [LZMA2StreamEncoder]
    let pending: [[UInt8]]
    let pieces: UnsafeMutableBufferPointer<[UInt8]>
    let failures: UnsafeMutableBufferPointer<OTAError?>

    /// Stream `index`'s pending bytes compressed and flushed (empty when it has none).
    func compress(_ index: Int) throws(OTAError) -> [UInt8] {
        guard !pending[index].isEmpty else { return [] }
        var piece: [UInt8] = []
        let encoder = encoders[index]
        let result: Result<Void, OTAError> = pending[index].withUnsafeBytes { raw in
            do throws(OTAError) {
                try encoder.update(raw) { piece += $0 }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        try encoder.flush { piece += $0 }
        return piece
    }
}
