package import CLZMA

/// Shared xz constants and error mapping.
package enum XZ {
    /// Size of the output pieces handed to `emit`.
    public static let pieceSize = 256 * 1024

    /// Runs `body` with a one-filter LZMA2 chain (`LZMA_FILTER_LZMA2` with `options`, then the
    /// terminator), as liblzma's raw and xz encoders and the raw decoder take it.
    package static func withLZMA2Filters(
        _ options: inout lzma_options_lzma, _ body: (UnsafeMutablePointer<lzma_filter>) -> lzma_ret
    ) -> lzma_ret {
        withUnsafeMutablePointer(to: &options) { optionsPointer -> lzma_ret in
            // 0x21 is LZMA_FILTER_LZMA2 (a UINT64_C macro that Swift cannot import).
            var filters = [
                lzma_filter(id: 0x21, options: UnsafeMutableRawPointer(optionsPointer)),
                lzma_filter(id: CLZMA_VLI_UNKNOWN, options: nil),
            ]
            return filters.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        }
    }

    package static func error(_ rc: lzma_ret, _ message: String) -> OTAError {
        switch rc {
        case LZMA_MEMLIMIT_ERROR:
            return OTAError(.xzMemoryLimit, "\(message): the stream needs more memory than allowed")
        case LZMA_MEM_ERROR:
            return OTAError(.xzOutOfMemory, "\(message): out of memory")
        case LZMA_FORMAT_ERROR:
            return OTAError(.xzFormat, "\(message): not xz data")
        case LZMA_OPTIONS_ERROR:
            return OTAError(.xzOptions, "\(message): unsupported options")
        case LZMA_DATA_ERROR, LZMA_BUF_ERROR:
            return OTAError(.xzCorrupt, "\(message): corrupt data")
        default:
            return OTAError(.xzFailed, "\(message) (lzma_ret \(rc.rawValue))")
        }
    }
}
