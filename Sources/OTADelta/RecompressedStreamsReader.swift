internal import OTABase

/// Reads a patch's recompressed-streams block (`RecompressedStreams`) as its bytes come: puffs
/// the old streams it names into its LZMA2 dictionary, then decodes each new stream's puffed
/// form and writes its deflate bytes back (`DeflateHuff`) into `output`, which the RECOMPRESSED
/// ops then take in order. The block is hostile input: every count, size and offset is checked
/// before it is used, and any failure is `delta.recompressed-invalid` (corrupt LZMA2 data
/// `delta.corrupt`). Memory: the dictionary, one new stream's puffed form and compressed piece,
/// one old stream's bytes and puffed form, and `output`.
final class RecompressedStreamsReader {
    private enum Stage {
        case prelude
        case oldEntry
        case newEntry
        case piece(sizes: [Int], output: Int, packed: Int)
        case done
    }

    private let oldSize: UInt64
    private let limits: DeltaLimits
    /// Dictionary bytes the frames' streams need: with `output`, within `limits.xzMemoryLimit`.
    private let frameDictionaries: UInt64
    private let readOld: (Int64, UnsafeMutableRawBufferPointer) throws(OTAError) -> Void
    private var stage = Stage.prelude
    private var pending: [UInt8] = []
    private var decoder: LZMA2StreamDecoder?
    private var dictionarySize = 0
    private var oldCount = 0
    private var newCount = 0
    /// Old and new streams read so far.
    private var oldDone = 0
    private var newDone = 0
    private var declaredOutput = 0
    private var oldEnd: UInt64 = 0
    private var primedBytes = 0
    private var scratch: [UInt8] = []
    private var puffed: [UInt8] = []
    private var oldBytes: [UInt8] = []
    /// The new streams' bytes, rebuilt.
    private(set) var output: [UInt8] = []

    var isDone: Bool {
        if case .done = stage { return true }
        return false
    }

    init(
        oldSize: UInt64, frameDictionaries: UInt64, limits: DeltaLimits,
        readOld: @escaping (Int64, UnsafeMutableRawBufferPointer) throws(OTAError) -> Void
    ) {
        self.oldSize = oldSize
        self.frameDictionaries = frameDictionaries
        self.limits = limits
        self.readOld = readOld
    }

    private static func invalid(_ message: String) -> OTAError {
        OTAError(.deltaRecompressedInvalid, message)
    }

    /// Takes what it needs of `bytes` from `index` on; returns the index of the first byte it
    /// left (the block may end inside `bytes`; the frames follow).
    func consume(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) throws(OTAError) -> Int {
        var index = index
        while index < bytes.count {
            switch stage {
            case .done:
                return index
            case .piece(let sizes, let output, let packed):
                let take = min(packed - pending.count, bytes.count - index)
                pending += bytes[index..<(index + take)]
                index += take
                if pending.count == packed { try rebuild(sizes: sizes, output: output) }
            case .prelude, .oldEntry, .newEntry:
                // Byte by byte: each of these is a few numbers.
                pending.append(bytes[index])
                index += 1
                try parseNumbers()
            }
        }
        return index
    }

    /// Reads `count` varints from `pending` after `skip` bytes; nil while incomplete.
    private func numbers(_ count: Int, after skip: Int = 0) throws(OTAError) -> [UInt64]? {
        do throws(DeltaFormatError) {
            return try Varint.read(count, from: pending, at: skip)?.values
        } catch {
            throw Self.invalid("malformed number in the recompressed-streams block")
        }
    }

    private func parseNumbers() throws(OTAError) {
        switch stage {
        case .prelude:
            if pending.count == 1, pending[0] != RecompressedStreams.version {
                throw Self.invalid("recompressed-streams block version \(pending[0]) is not 1")
            }
            if pending.count == 2, !RecompressedStreams.dictionaryExponents.contains(pending[1]) {
                throw Self.invalid("recompressed-streams dictionary 2^\(pending[1]) is outside 4 KiB...256 MiB")
            }
            guard pending.count > 2, let values = try numbers(3, after: 2) else { return }
            try start(exponent: pending[1], oldCount: values[0], newCount: values[1], output: values[2])
        case .oldEntry:
            guard let values = try numbers(5) else { return }
            try puffOld(gap: values[0], length: values[1], prefix: values[2], suffix: values[3], puffed: values[4])
        case .newEntry:
            guard let values = try numbers(5) else { return }
            try startPiece(values)
        default:
            return
        }
        pending.removeAll(keepingCapacity: true)
    }

    private func start(exponent: UInt8, oldCount: UInt64, newCount: UInt64, output: UInt64) throws(OTAError) {
        let streams = UInt64(limits.maxRecompressedStreams)
        guard oldCount <= streams, newCount > 0, newCount <= streams else {
            throw Self.invalid(
                "recompressed-streams block names \(oldCount) old and \(newCount) new streams (1...\(streams) new, at most \(streams) old)"
            )
        }
        guard output > 0, output <= UInt64(limits.maxRecompressedBytes) else {
            throw Self.invalid(
                "recompressed streams rebuild \(output) bytes (1...\(limits.maxRecompressedBytes) allowed)")
        }
        let dictionary = UInt64(1) << UInt64(exponent)
        guard dictionary + output <= limits.xzMemoryLimit, frameDictionaries + output <= limits.xzMemoryLimit else {
            throw OTAError(
                .deltaMemoryLimit,
                "the recompressed streams need \((max(dictionary, frameDictionaries) + output) >> 20) MiB, more than the \(limits.xzMemoryLimit >> 20) MiB allowed"
            )
        }
        do {
            decoder = try LZMA2StreamDecoder(dictionarySize: UInt32(dictionary))
        } catch {
            throw DeltaDecoder.translate(error)
        }
        dictionarySize = Int(dictionary)
        self.oldCount = Int(oldCount)
        self.newCount = Int(newCount)
        declaredOutput = Int(output)
        self.output.reserveCapacity(Int(output))
        stage = oldCount > 0 ? .oldEntry : .newEntry
    }

    /// Puffs the old stream an entry names and puts its puffed form in the dictionary.
    private func puffOld(gap: UInt64, length: UInt64, prefix: UInt64, suffix: UInt64, puffed size: UInt64)
        throws(OTAError)
    {
        let (start, overflow) = oldEnd.addingReportingOverflow(gap)
        guard !overflow, start <= oldSize, length <= oldSize - start, length > 0, length <= UInt64(dictionarySize),
            prefix <= length, suffix <= length - prefix
        else {
            throw Self.invalid(
                "old stream \(oldDone + 1) lies outside the old image or its limits (gap \(gap), \(length) bytes)"
            )
        }
        guard size <= UInt64(dictionarySize - primedBytes) else {
            throw Self.invalid("the old streams' puffed bytes outgrow the block's \(dictionarySize) byte dictionary")
        }
        oldBytes.removeAll(keepingCapacity: true)
        oldBytes.append(contentsOf: repeatElement(0, count: Int(length)))
        try oldBytes.withUnsafeMutableBufferPointer { (buffer) throws(OTAError) in
            try readOld(Int64(start), UnsafeMutableRawBufferPointer(buffer))
        }
        let result: Result<(stream: PuffedStream, consumed: Int), DeflateStreamError> = oldBytes.withUnsafeBytes {
            do throws(DeflateStreamError) {
                return .success(
                    try DeflatePuff.puff($0, prefixLength: Int(prefix), suffixLength: Int(suffix), maxData: Int(size)))
            } catch {
                return .failure(error)
            }
        }
        guard case .success(let (stream, consumed)) = result else {
            if case .failure(let error) = result {
                throw Self.invalid("the old stream at offset \(start) does not decode: \(error.message)")
            }
            return
        }
        guard consumed == Int(length), stream.byteCount == Int(size) else {
            throw Self.invalid(
                "the old stream at offset \(start) is \(consumed) bytes puffing to \(stream.byteCount), the block declares \(length) and \(size)"
            )
        }
        puffed.removeAll(keepingCapacity: true)
        stream.append(to: &puffed)
        do throws(OTAError) {
            try puffed.withUnsafeBufferPointer { (bytes) throws(OTAError) in
                try decoder!.preload(UnsafeRawBufferPointer(bytes), scratch: &scratch)
            }
        } catch {
            throw DeltaDecoder.translate(error)
        }
        primedBytes += Int(size)
        oldEnd = start + length
        oldDone += 1
        if oldDone == oldCount { stage = .newEntry }
    }

    /// Checks a new entry's sizes and starts collecting its piece.
    private func startPiece(_ values: [UInt64]) throws(OTAError) {
        let raw = values[0] &+ values[1] &+ values[2]
        let bounded = values[0...2].allSatisfy { $0 <= UInt64(dictionarySize) } && raw <= UInt64(dictionarySize)
        guard bounded, raw > 0, values[3] > 0, values[3] <= UInt64(declaredOutput - output.count),
            values[4] <= UInt64(PatchFrame.maxPacked(raw: Int(raw)))
        else {
            throw Self.invalid(
                "new stream \(newDone + 1) declares \(values[0...2]) puffed bytes, \(values[3]) rebuilt, \(values[4]) compressed: outside the block's limits"
            )
        }
        stage = .piece(sizes: values[0...2].map { Int($0) }, output: Int(values[3]), packed: Int(values[4]))
    }

    /// Decodes the piece collected in `pending` and writes the stream's deflate bytes back.
    private func rebuild(sizes: [Int], output count: Int) throws(OTAError) {
        do {
            try decoder!.decode(pending, count: sizes[0] + sizes[1] + sizes[2], into: &puffed)
        } catch {
            throw DeltaDecoder.translate(error)
        }
        pending.removeAll(keepingCapacity: true)
        let before = output.count
        let result: Result<Void, DeflateStreamError> = puffed.withUnsafeBytes { all in
            let headers = UnsafeRawBufferPointer(rebasing: all[0..<sizes[0]])
            let tokens = UnsafeRawBufferPointer(rebasing: all[sizes[0]..<(sizes[0] + sizes[1])])
            let data = UnsafeRawBufferPointer(rebasing: all[(sizes[0] + sizes[1])...])
            do throws(DeflateStreamError) {
                try DeflateHuff.huff(headers: headers, tokens: tokens, data: data, into: &output)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = result {
            throw Self.invalid("new stream \(newDone + 1) cannot be written back: \(error.message)")
        }
        guard output.count - before == count else {
            throw Self.invalid(
                "a new stream writes back \(output.count - before) bytes, the block declares \(count)")
        }
        newDone += 1
        guard newDone == newCount else {
            stage = .newEntry
            return
        }
        guard output.count == declaredOutput else {
            throw Self.invalid("the new streams write back \(output.count) bytes, the block declares \(declaredOutput)")
        }
        stage = .done
        decoder = nil
        scratch = []
        puffed = []
        oldBytes = []
    }
}
