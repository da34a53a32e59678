internal import Dispatch
internal import OTABase

/// The streams of a patch body: four, or five with body coding 5 (`InsertsOperands`). Each is its
/// own LZMA2 stream: op headers, run tokens, difference bytes and inserted bytes each compress
/// best among their own kind (measured: 2-11% smaller patches than one interleaved stream;
/// docs/PERFORMANCE.md, "What moved the numbers on the numpy/CPython corpus").
public enum PatchStream: Int, CaseIterable, Sendable {
    /// Op codes, old offsets and lengths.
    case control
    /// ADD payload run tokens: `zeros << 3 | min(literals, 7)`, then `literals - 7` if >= 7.
    case runs
    /// ADD payload difference bytes (new - old) of the literal stretches.
    case differences
    /// INSERT bytes (with body coding 5, all but the operands).
    case inserts
    /// Body coding 5 only: the inserted x86-64 operands, by kind in each frame.
    case operands

    /// Streams of a body without and with its operands split out (body coding 5).
    static func count(operandsSplit: Bool) -> Int { operandsSplit ? 5 : 4 }

    /// LZMA2 literal context bits per stream (measured best on the corpus); the inserts' are
    /// replaced by the coding chosen per patch (`InsertsCoding`).
    var literalContextBits: UInt32 {
        switch self {
        case .control: 3
        case .runs, .differences, .inserts: 1
        case .operands: 2
        }
    }

    /// LZMA2 position bits: the operands are 4-byte values; the others have no alignment.
    var positionBits: UInt32 { self == .operands ? 2 : 0 }
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
    /// Varints in a frame header of a body of `streams` streams: raw then packed size of each.
    static func headerFields(streams: Int) -> Int { 2 * streams }

    /// The most compressed bytes a piece of `raw` bytes may take (LZMA2 stores incompressible
    /// data with 3 bytes per 64 KiB, plus chunk headers and the flush).
    static func maxPacked(raw: Int) -> Int { raw == 0 ? 0 : raw + raw / 256 + 64 }
}

/// Encoder side: collects each stream's bytes for the current frame, then compresses and
/// writes the frame (`raw sizes, packed sizes, pieces`, one of each per stream: as many streams
/// as settings, four or five). Without settings it only counts.
/// Each stream is compressed on its own serial queue, so the streams of a frame, and a
/// stream of one frame with another stream of the frame before, compress at once while the
/// caller fills the next frames; frames reach the sink in order, at most `framesInFlight`
/// behind the one being filled, and all of them at `finish`.
///
/// The inserts stream's literal coding is chosen from the first `InsertsCoding.sampleBytes`
/// inserted bytes: frames are held raw until that many are inserted, `holdBytes` of frames are
/// held, or the patch ends, then the choice is made and compression starts.
///
/// An update that is mostly new code spends half its diff in the one inserts encoder. Asked to
/// (`DeltaOptions.parallelInserts`, the inserted bytes known and at least
/// `splitInsertsMinimum`), the writer gives the second half of them to a second encoder on its
/// own queue, which starts with a fresh coder state and the last `splitHistoryBytes` inserted
/// bytes as its dictionary: the decoder's dictionary ends with the same bytes there, so the
/// stream still decodes as one. Frames in flight are then bounded by `splitInFlightBytes`
/// instead of `framesInFlight`, so the second encoder's frames are compressed while the first
/// encoder still works on its own.
final class PatchFrameWriter {
    /// Frames compressed at once at most (each holds its raw and compressed bytes).
    static let framesInFlight = 4
    /// Inserted bytes from which the inserts are compressed in two halves at once.
    static let splitInsertsMinimum = 2 << 20
    /// History the second inserts encoder starts with. liblzma indexes it before the first byte,
    /// which costs about as much as compressing it: none made patches 1.1-2.2% larger on three
    /// Rust tuning pairs, 2 MiB 0.04-0.41% on the 10 that split, 4 MiB and more gained little or
    /// no time (docs/PERFORMANCE-LOG.md, "Inserts compressed in two halves").
    static let splitHistoryBytes = 2 << 20
    /// Raw stream bytes of frames in flight at most while the inserts are compressed in halves.
    static let splitInFlightBytes = 32 << 20
    /// Raw stream bytes of frames held at most while the inserts' coding is not chosen.
    static let holdBytes = 8 << 20

    private let settings: [LZMA2Settings]
    /// One per stream; the inserts' is replaced when another coding than `settings`' is chosen.
    private var encoders: [LZMA2StreamEncoder] = []
    private var queues: [DispatchQueue] = []
    private var pending: [[UInt8]] = Array(repeating: [], count: PatchStream.allCases.count)
    /// The pending frame's inserted operands (body coding 5), laid out when the frame ends.
    private var operands = FrameOperands()
    private(set) var pendingBytes = 0
    /// Raw stream bytes of all frames ended so far.
    private(set) var totalRawBytes: UInt64 = 0
    /// Frames being compressed, oldest first.
    private var inFlight: [FrameCompression] = []
    /// Frames ended before the inserts' coding is chosen, their raw bytes and inserted bytes.
    private var held: [[[UInt8]]] = []
    private var heldBytes = 0
    private var heldInserts = 0
    /// The inserts stream's coding, once chosen.
    private(set) var insertsCoding: InsertsCoding?

    /// Old-image bytes the inserts stream's dictionary starts with (`InsertsPrime`), read when
    /// the inserts' encoder is set up with the chosen coding.
    private let insertsPreset: UnsafeRawBufferPointer?

    /// The patch's inserted bytes when they are compressed in two halves; nil with one encoder.
    private let splitInserts: Int?
    /// Inserted bytes of the frames before the second inserts encoder takes over.
    private var splitPoint: Int? { splitInserts.map { $0 / 2 } }
    /// Inserted bytes of the frames handed to compression so far.
    private var insertsCompressed = 0
    /// The latest inserted bytes handed to compression (the second encoder's history), while
    /// the first encoder has them.
    private var insertsHistory: [UInt8] = []
    /// The second inserts encoder's frames: the encoders and queues they use.
    private var secondHalf: (encoders: [LZMA2StreamEncoder], queues: [DispatchQueue])?
    /// Raw stream bytes of the frames in flight.
    private var inFlightBytes = 0

    /// `settings`: one per stream, four or (operands split out) five (the inserts' `lc` and
    /// `pb` are replaced by the chosen coding's); checked here, so bad settings fail before any frame. `insertsPreset` must stay
    /// readable until the first frame is written or `finish` returns.
    /// `splitInserts`: the patch's inserted bytes, to compress them in two halves at once when
    /// they reach `splitInsertsMinimum` and the stream is not primed (the second half's history
    /// is the first half's end only: it would lose the primed bytes).
    /// `insertsCoding`: the inserts' coding when it is known before the first frame (the
    /// inserts filter's trial, `InsertsFilter.trial`); nil to choose it here from the first
    /// frames, which are held until then.
    init(
        settings: [LZMA2Settings], insertsPreset: UnsafeRawBufferPointer? = nil, splitInserts: Int? = nil,
        insertsCoding: InsertsCoding? = nil
    ) throws(OTAError) {
        precondition(settings.isEmpty || settings.count == 4 || settings.count == 5, "four or five streams")
        for setting in settings { encoders.append(try LZMA2StreamEncoder(setting)) }
        self.settings = settings
        self.insertsPreset = insertsPreset
        self.splitInserts =
            insertsPreset == nil ? splitInserts.flatMap { $0 >= Self.splitInsertsMinimum ? $0 : nil } : nil
        queues = settings.indices.map { DispatchQueue(label: "ota.delta.stream\($0)") }
        if let insertsCoding, !settings.isEmpty { try adopt(insertsCoding) }
    }

    deinit { for frame in inFlight { frame.wait() } }

    func append(_ stream: PatchStream, _ byte: UInt8) {
        pending[stream.rawValue].append(byte)
        pendingBytes += 1
    }

    func append(_ stream: PatchStream, _ bytes: UnsafeBufferPointer<UInt8>) {
        pending[stream.rawValue].append(contentsOf: bytes)
        pendingBytes += bytes.count
    }

    /// An inserted operand of `kind`, as stored (body coding 5).
    func appendOperand(_ value: UInt32, _ kind: InsertsOperands.Kind) {
        operands.append(value, kind)
        pendingBytes += 4
    }

    func appendVarint(_ stream: PatchStream, _ value: UInt64) {
        let before = pending[stream.rawValue].count
        Varint.append(value, to: &pending[stream.rawValue])
        pendingBytes += pending[stream.rawValue].count - before
    }

    /// Ends the pending frame (nothing when it is empty) and starts compressing it (or holds it
    /// until the inserts' coding is chosen); writes the oldest frames when more than
    /// `framesInFlight` are being compressed.
    func endFrame(sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        guard pendingBytes > 0 else { return }
        if !operands.isEmpty {
            precondition(settings.count != 4, "operands in a body of four streams")
            pendingBytes -= operands.byteCount
            pending[PatchStream.operands.rawValue] = operands.take()
            pendingBytes += pending[PatchStream.operands.rawValue].count
        }
        totalRawBytes += UInt64(pendingBytes)
        let raw = pending
        let rawBytes = pendingBytes
        pending = Array(repeating: [], count: PatchStream.allCases.count)
        pendingBytes = 0
        guard !settings.isEmpty else { return }
        guard insertsCoding != nil else {
            held.append(raw)
            heldBytes += rawBytes
            heldInserts += raw[PatchStream.inserts.rawValue].count
            if heldInserts >= InsertsCoding.sampleBytes || heldBytes >= Self.holdBytes {
                try chooseInsertsCoding(sink: sink)
            }
            return
        }
        try compress(raw, sink: sink)
    }

    /// Ends the pending frame and writes every frame held or still being compressed.
    func finish(sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        try endFrame(sink: sink)
        if insertsCoding == nil && !settings.isEmpty { try chooseInsertsCoding(sink: sink) }
        while !inFlight.isEmpty { try writeOldest(sink: sink) }
    }

    /// Chooses the inserts' coding from the held frames' first inserted bytes (a new inserts
    /// encoder when it differs from `settings`') and starts compressing the held frames.
    private func chooseInsertsCoding(sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        let inserts = PatchStream.inserts.rawValue
        var sample: [UInt8] = []
        for frame in held where sample.count < InsertsCoding.sampleBytes {
            sample += frame[inserts].prefix(InsertsCoding.sampleBytes - sample.count)
        }
        try adopt(try InsertsCoding.choose(sample, dictionaryLimit: settings[inserts].dictionarySize))
        let frames = held
        held = []
        heldBytes = 0
        heldInserts = 0
        for raw in frames { try compress(raw, sink: sink) }
    }

    /// Sets the inserts' coding (a new inserts encoder when it differs from `settings`').
    private func adopt(_ coding: InsertsCoding) throws(OTAError) {
        let inserts = PatchStream.inserts.rawValue
        let chosen = coding.applied(to: settings[inserts])
        if chosen != settings[inserts] || insertsPreset != nil {
            encoders[inserts] = try LZMA2StreamEncoder(chosen, presetDictionary: insertsPreset)
        }
        insertsCoding = coding
    }

    private func compress(_ raw: [[UInt8]], sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        let inserts = raw[PatchStream.inserts.rawValue]
        var frameEncoders = encoders
        var frameQueues = queues
        if let split = splitPoint {
            if insertsCompressed >= split {
                if secondHalf == nil { try startSecondHalf() }
                (frameEncoders, frameQueues) = secondHalf!
            } else {
                insertsHistory += inserts
                let keep = Self.splitHistoryBytes
                if insertsHistory.count > 2 * keep + (1 << 20) {
                    insertsHistory.removeFirst(insertsHistory.count - keep)
                }
            }
        }
        insertsCompressed += inserts.count
        let frame = FrameCompression(encoders: frameEncoders, queues: frameQueues, raw: raw)
        inFlight.append(frame)
        inFlightBytes += frame.rawBytes
        while inFlight.count > Self.framesInFlight && (splitInserts == nil || inFlightBytes > Self.splitInFlightBytes) {
            try writeOldest(sink: sink)
        }
    }

    /// The second inserts encoder, with the chosen coding and the latest inserted bytes as its
    /// dictionary (no larger than they and the bytes left to insert), on its own queue.
    private func startSecondHalf() throws(OTAError) {
        let inserts = PatchStream.inserts.rawValue
        var chosen = (insertsCoding ?? .lowContext).applied(to: settings[inserts])
        let history = insertsHistory.suffix(Self.splitHistoryBytes)
        let needed = history.count + (splitInserts ?? 0) - insertsCompressed
        while chosen.dictionarySize > 4096 && Int(chosen.dictionarySize) / 2 >= needed { chosen.dictionarySize /= 2 }
        let made: Result<LZMA2StreamEncoder, OTAError> = Array(history).withUnsafeBytes { bytes in
            do throws(OTAError) {
                return .success(try LZMA2StreamEncoder(chosen, presetDictionary: bytes))
            } catch {
                return .failure(error)
            }
        }
        let encoder = try made.get()
        insertsHistory = []
        var secondEncoders = encoders
        secondEncoders[inserts] = encoder
        var secondQueues = queues
        secondQueues[inserts] = DispatchQueue(label: "ota.delta.stream\(inserts).second")
        secondHalf = (secondEncoders, secondQueues)
    }

    private func writeOldest(sink: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        let frame = inFlight.removeFirst()
        inFlightBytes -= frame.rawBytes
        frame.wait()
        if let failure = frame.failures.lazy.compactMap({ $0 }).first { throw failure }
        var header: [UInt8] = []
        for bytes in frame.raw.prefix(frame.pieces.count) { Varint.append(UInt64(bytes.count), to: &header) }
        for piece in frame.pieces { Varint.append(UInt64(piece.count), to: &header) }
        try sink(header)
        for piece in frame.pieces where !piece.isEmpty { try sink(piece) }
    }
}

/// One frame's compression: each stream's piece on that stream's serial queue (so an encoder
/// takes its frames in order, one at a time).
private final class FrameCompression: @unchecked Sendable {
    // Safe: the task of stream `i` writes only `pieces[i]` and `failures[i]`, and nothing reads
    // them before `wait()` returns; an encoder is used only on its stream's serial queue.
    let encoders: [LZMA2StreamEncoder]
    let raw: [[UInt8]]
    /// Bytes of all streams in `raw`.
    let rawBytes: Int
    let pieces: UnsafeMutableBufferPointer<[UInt8]>
    let failures: UnsafeMutableBufferPointer<OTAError?>
    private let group = DispatchGroup()

    init(encoders: [LZMA2StreamEncoder], queues: [DispatchQueue], raw: [[UInt8]]) {
        self.encoders = encoders
        self.raw = raw
        rawBytes = raw.reduce(0) { $0 + $1.count }
        pieces = .allocate(capacity: encoders.count)
        pieces.initialize(repeating: [])
        failures = .allocate(capacity: encoders.count)
        failures.initialize(repeating: nil)
        for index in encoders.indices where !raw[index].isEmpty {
            queues[index].async(group: group) {
                do throws(OTAError) {
                    self.pieces[index] = try self.compress(index)
                } catch {
                    self.failures[index] = error
                }
            }
        }
    }

    deinit {
        pieces.deinitialize().deallocate()
        failures.deinitialize().deallocate()
    }

    func wait() { group.wait() }

    /// Stream `index`'s raw bytes compressed and flushed.
    private func compress(_ index: Int) throws(OTAError) -> [UInt8] {
        var piece: [UInt8] = []
        let encoder = encoders[index]
        let result: Result<Void, OTAError> = raw[index].withUnsafeBytes { bytes in
            do throws(OTAError) {
                try encoder.update(bytes) { piece += $0 }
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
