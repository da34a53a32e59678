import Foundation
import OTACore

/// Turns one image file into a stored payload: hashes the content, compresses it with xz, cuts
/// the compressed stream into chunks, seals each chunk (when encrypting), hashes every stored
/// chunk, and writes the stored bytes to a scratch file. Memory stays flat: one chunk at a time.
final class PayloadEncoder {
    struct Result {
        let payload: Manifest.Payload
        let scratch: ScratchFile
    }

    private let suite: Suite
    private let chunkSize: Int
    private let sealer: ChunkedAEAD.Sealer?
    private let scratch: ScratchFile
    private var pending: [UInt8] = []
    private var chunkHashes: [String] = []
    private var compressedSize: UInt64 = 0
    private var storedSize: UInt64 = 0

    init(suite: Suite, chunkSize: Int, sealer: ChunkedAEAD.Sealer?, scratch: ScratchFile) {
        self.suite = suite
        self.chunkSize = chunkSize
        self.sealer = sealer
        self.scratch = scratch
        pending.reserveCapacity(chunkSize * 2)
    }

    /// Encodes the file at `path`.
    static func encode(
        path: String, entry: String, compression: Manifest.Compression, suite: Suite, chunkSize: Int,
        sealer: ChunkedAEAD.Sealer?, noncePrefix: [UInt8]?, scratch: ScratchFile, xzPreset: UInt32, threads: Int,
        read: (UInt64) -> Void = { _ in }
    ) throws(OTAError) -> Result {
        let encoder = PayloadEncoder(suite: suite, chunkSize: chunkSize, sealer: sealer, scratch: scratch)
        let input = try InputFile(path: path, notAFile: .imageNotAFile)
        let plainHasher = try Hasher(suite.hash)
        var plainSize: UInt64 = 0
        let compressor = compression == .xz ? try XZEncoder(preset: xzPreset, threads: threads) : nil
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try input.readFully(into: &buffer)
            if count == 0 { break }
            let piece = buffer[0..<count]
            plainHasher.update(piece)
            plainSize += UInt64(count)
            read(plainSize)
            guard plainSize <= BundleLayout.maximumImageSize else {
                throw OTAError(.imageTooLarge, "\(path): larger than \(BundleLayout.maximumImageSize) bytes")
            }
            if let compressor {
                try compressor.update(piece) { output throws(OTAError) in try encoder.append(output) }
            } else {
                try encoder.append(piece)
            }
        }
        try compressor?.finish { output throws(OTAError) in try encoder.append(output) }
        try encoder.flush(final: true)
        let payload = Manifest.Payload(
            entry: entry, plainSize: plainSize, plainHash: plainHasher.finalize().hex, compression: compression,
            compressedSize: encoder.compressedSize,
            storedSize: encoder.storedSize, chunkSize: UInt64(chunkSize + (sealer == nil ? 0 : suite.cipher.tagLength)),
            chunkHashes: encoder.chunkHashes, noncePrefix: noncePrefix.map(Hex.encode))
        return Result(payload: payload, scratch: scratch)
    }

    private func append(_ bytes: some Collection<UInt8>) throws(OTAError) {
        pending.append(contentsOf: bytes)
        compressedSize += UInt64(bytes.count)
        try flush(final: false)
    }

    /// Emits full chunks, keeping at least one byte back until the end so the last chunk is known.
    private func flush(final: Bool) throws(OTAError) {
        var start = 0
        while pending.count - start > chunkSize || (final && pending.count - start == chunkSize) {
            let isLast = final && pending.count - start == chunkSize
            try emit(pending[start..<(start + chunkSize)], isLast: isLast)
            start += chunkSize
        }
        if start > 0 { pending.removeFirst(start) }
        if final {
            if !pending.isEmpty || (sealer != nil && chunkHashes.isEmpty) {
                try emit(pending[...], isLast: true)
            }
            pending.removeAll()
        }
    }

    private func emit(_ chunk: ArraySlice<UInt8>, isLast: Bool) throws(OTAError) {
        let stored =
            try sealer.map { sealer throws(OTAError) in try sealer.seal(chunk, isLast: isLast) } ?? Array(chunk)
        chunkHashes.append(try Hasher.hash(suite.hash, stored).hex)
        try scratch.write(stored)
        storedSize += UInt64(stored.count)
    }
}
