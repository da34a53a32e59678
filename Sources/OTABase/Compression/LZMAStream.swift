package import CLZMA

/// The one owner of a liblzma stream: started by the caller's set-up call, ended in `deinit`,
/// and the one loop that runs `lzma_code` over an input into fixed-size output pieces (the xz
/// encoder and decoder and the raw LZMA2 encoder all code through it; the LZMA2 piece decoder
/// takes single steps into its own buffer).
package final class LZMAStream {
    private var stream = lzma_stream()  // == LZMA_STREAM_INIT
    private var output: [UInt8]

    /// - Parameters:
    ///   - what: names the stream in the error if `start` fails ("cannot start the xz decoder").
    ///   - start: the liblzma initialiser (`lzma_stream_decoder`, `lzma_raw_encoder`, ...).
    package init(pieceSize: Int = XZ.pieceSize, what: String, start: (inout lzma_stream) -> lzma_ret) throws(OTAError) {
        output = [UInt8](repeating: 0, count: pieceSize)
        let rc = start(&stream)
        guard rc == LZMA_OK else { throw XZ.error(rc, what) }
    }

    deinit { lzma_end(&stream) }

    /// Runs `lzma_code` with `action` over all of `input`, handing each output piece to `emit`.
    /// Returns when the input is used and, for `LZMA_RUN`, no output is pending; with
    /// `LZMA_FINISH` or `LZMA_SYNC_FLUSH` only at `LZMA_STREAM_END`. Returns how many input
    /// bytes were left at the stream's end (0 otherwise); `failure` maps any other return code.
    @discardableResult
    package func code(
        _ input: UnsafeRawBufferPointer, action: lzma_action, failure: (lzma_ret) -> OTAError,
        emit: ([UInt8]) throws(OTAError) -> Void
    ) throws(OTAError) -> (ended: Bool, inputLeft: Int) {
        stream.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.avail_in = input.count
        defer {
            stream.next_in = nil
            stream.avail_in = 0
        }
        while true {
            let (rc, produced, _) = output.withUnsafeMutableBytes { out in stepInPlace(out, action: action) }
            if produced > 0 { try emit(Array(output[0..<produced])) }
            if rc == LZMA_STREAM_END { return (true, stream.avail_in) }
            guard rc == LZMA_OK else { throw failure(rc) }
            if action == LZMA_RUN && stream.avail_in == 0 && produced < output.count { return (false, 0) }
        }
    }

    /// One `lzma_code` step from `input` into `output`: the return code, the bytes produced and
    /// the input bytes left.
    package func step(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, action: lzma_action
    ) -> (lzma_ret, produced: Int, inputLeft: Int) {
        stream.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.avail_in = input.count
        defer {
            stream.next_in = nil
            stream.avail_in = 0
        }
        return stepInPlace(output, action: action)
    }

    private func stepInPlace(_ out: UnsafeMutableRawBufferPointer, action: lzma_action) -> (lzma_ret, Int, Int) {
        stream.next_out = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = out.count
        let rc = lzma_code(&stream, action)
        let result = (rc, out.count - stream.avail_out, stream.avail_in)
        stream.next_out = nil
        stream.avail_out = 0
        return result
    }
}
