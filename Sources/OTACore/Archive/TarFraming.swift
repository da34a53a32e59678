package import OTABase

/// Checks the raw bytes of a tar stream as they are read, for what libarchive does not check or
/// would accept: every header is a plain POSIX ustar header of a regular file (no pax or GNU
/// extension headers, which libarchive would apply silently: a pax `path` renames the next entry,
/// a pax comment hides data; no prefix field), sizes are ustar octal, entry padding is zero, the
/// archive ends with exactly two zero blocks and nothing follows them. Together with libarchive's
/// header checksums this makes any changed byte of a bundle file an error. `package` for the fuzz
/// harness (Fuzz/), which feeds it directly.
package struct TarFraming {
    private enum State {
        case header  // collecting a 512-byte header block
        case data(UInt64)  // bytes of entry data left
        case padding(Int)  // zero bytes left before the next header
        case secondZeroBlock  // after one all-zero block
        case end  // after the end-of-archive marker: nothing more allowed
    }

    private var state: State = .header
    private var block: [UInt8] = []
    package private(set) var offset: UInt64 = 0
    package private(set) var isComplete = false

    package init() {}

    /// Feeds the next raw bytes; throws at the first framing violation.
    package mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(OTAError) {
        var index = 0
        while index < bytes.count {
            switch state {
            case .header, .secondZeroBlock:
                let take = min(512 - block.count, bytes.count - index)
                block.append(contentsOf: bytes[index..<(index + take)])
                index += take
                offset += UInt64(take)
                if block.count == 512 { try finishBlock() }
            case .data(let left):
                let take = Int(min(left, UInt64(bytes.count - index)))
                index += take
                offset += UInt64(take)
                let remaining = left - UInt64(take)
                if remaining == 0 { enterPadding(afterDataOf: 0) } else { state = .data(remaining) }
            case .padding(let left):
                let take = min(left, bytes.count - index)
                for position in index..<(index + take) where bytes[position] != 0 {
                    throw OTAError(.bundleFraming, "non-zero tar padding at byte \(offset + UInt64(position - index))")
                }
                index += take
                offset += UInt64(take)
                state = left - take == 0 ? .header : .padding(left - take)
            case .end:
                throw OTAError(.bundleTrailingData, "data after the end of the archive at byte \(offset)")
            }
        }
    }

    /// Called at end of file: the archive must have ended properly.
    package func finish() throws(OTAError) {
        guard offset >= 512 || isComplete else {
            throw OTAError(.bundleNotABundle, "not an ota bundle: \(offset) bytes, shorter than one tar header")
        }
        guard isComplete else {
            throw OTAError(.bundleTruncated, "the bundle ends before its end-of-archive marker (byte \(offset))")
        }
    }

    private var dataSizeOfLastHeader: UInt64 = 0

    private mutating func finishBlock() throws(OTAError) {
        let isZero = block.allSatisfy { $0 == 0 }
        switch state {
        case .secondZeroBlock:
            guard isZero else { throw OTAError(.bundleFraming, "broken end-of-archive marker at byte \(offset - 512)") }
            state = .end
            isComplete = true
        default:
            if isZero {
                state = .secondZeroBlock
            } else {
                if offset == 512 {
                    // The very first header tells a bundle from any other file, before anything
                    // later in the read-ahead (a tar tool's padding, say) is judged.
                    guard Array(block[257..<262]) == Array("ustar".utf8) else {
                        throw OTAError(.bundleNotABundle, "not an ota bundle: it does not start with a tar header")
                    }
                    let name = String(decoding: block[0..<100].prefix { $0 != 0 }, as: UTF8.self)
                    if block[156] == UInt8(ascii: "0")
                        && !["manifest.json", "signatures.json", "recipients.json"].contains(name)
                        && !name.hasPrefix("payloads/")
                    {
                        throw OTAError(
                            .bundleNotABundle,
                            "not an ota bundle: a tar whose first entry is '\(name)', not manifest.json")
                    }
                }
                try Self.checkHeader(block, at: offset - 512)
                let size = try Self.size(of: block, at: offset - 512)
                if size == 0 { state = .header } else { state = .data(size) }
                dataSizeOfLastHeader = size
            }
        }
        block.removeAll(keepingCapacity: true)
    }

    private mutating func enterPadding(afterDataOf _: Int) {
        let remainder = Int(dataSizeOfLastHeader % 512)
        state = remainder == 0 ? .header : .padding(512 - remainder)
    }

    /// A plain ustar header of a regular file: type `0`, magic `ustar\0` version `00`, no prefix.
    static func checkHeader(_ header: [UInt8], at position: UInt64) throws(OTAError) {
        let type = header[156]
        switch type {
        case UInt8(ascii: "0"):
            break
        case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "X"), UInt8(ascii: "L"), UInt8(ascii: "K"),
            UInt8(ascii: "N"):
            throw OTAError(
                .bundleExtensionHeader,
                "tar header at byte \(position) is a pax or GNU extension header (type '\(Character(Unicode.Scalar(type)))'); bundles are plain ustar"
            )
        default:
            let shown = (0x21...0x7E).contains(type) ? "'\(Character(Unicode.Scalar(type)))'" : "byte \(type)"
            throw OTAError(
                .bundleEntryType,
                "tar header at byte \(position) is of type \(shown); only regular files ('0') are allowed")
        }
        guard Array(header[257..<263]) == Array("ustar\0".utf8), Array(header[263..<265]) == Array("00".utf8) else {
            throw OTAError(.bundleFraming, "tar header at byte \(position) is not a POSIX ustar header")
        }
        guard header[345..<500].allSatisfy({ $0 == 0 }) else {
            throw OTAError(
                .bundleFraming,
                "tar header at byte \(position) uses the ustar name prefix; bundle entry names are short")
        }
    }

    /// The size field of a ustar header (octal, NUL or space terminated).
    static func size(of header: [UInt8], at position: UInt64) throws(OTAError) -> UInt64 {
        var value: UInt64 = 0
        var digits = 0
        for byte in header[124..<136] {
            if byte == 0 || byte == 0x20 { if digits > 0 { break } else { continue } }
            guard byte >= 0x30 && byte <= 0x37 else {
                throw OTAError(.bundleFraming, "tar header at byte \(position) has a malformed size field")
            }
            value = value << 3 | UInt64(byte - 0x30)
            digits += 1
        }
        return value
    }
}
