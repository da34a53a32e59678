internal import OTABase

/// A minimal DER reader for the few structures `ota` takes apart itself (the signed part of a
/// CRL, a string extension value) and the structural check of certificates and CRLs: tag,
/// definite length, content. Anything else is refused.
struct DER {
    struct Element {
        let tag: UInt8
        /// The whole element, header included.
        let encoded: ArraySlice<UInt8>
        let content: ArraySlice<UInt8>
    }

    static let sequence: UInt8 = 0x30
    static let utf8String: UInt8 = 0x0c

    /// Reads one element at the start of `bytes`; nil when it is not well-formed DER
    /// (indefinite or non-minimal length, a length past the end).
    static func element(_ bytes: ArraySlice<UInt8>) -> Element? {
        var cursor = bytes.startIndex
        guard cursor < bytes.endIndex else { return nil }
        let tag = bytes[cursor]
        guard tag & 0x1f != 0x1f else { return nil }  // multi-byte tags: not used here
        cursor += 1
        guard cursor < bytes.endIndex else { return nil }
        let first = bytes[cursor]
        cursor += 1
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7f)
            guard count >= 1, count <= 4, bytes.endIndex - cursor >= count else { return nil }
            for _ in 0..<count {
                length = length << 8 | Int(bytes[cursor])
                cursor += 1
            }
            // DER: the shortest form, no leading zero byte.
            guard length >= 0x80, length >> (8 * (count - 1)) != 0 else { return nil }
        }
        guard bytes.endIndex - cursor >= length else { return nil }
        return Element(
            tag: tag, encoded: bytes[bytes.startIndex..<(cursor + length)], content: bytes[cursor..<(cursor + length)])
    }

    /// Encodes one element with a definite, minimal length.
    static func encode(tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        if content.count < 0x80 {
            length = [UInt8(content.count)]
        } else {
            var remaining = content.count
            while remaining > 0 {
                length.insert(UInt8(remaining & 0xff), at: 0)
                remaining >>= 8
            }
            length.insert(0x80 | UInt8(length.count), at: 0)
        }
        return [tag] + length + content
    }

    /// Whether `bytes` is exactly one element in DER's structure: every length definite and
    /// minimal (`element`), the contents of SEQUENCE, SET and constructed context or application
    /// tags themselves such elements, to any depth (at most 64), and no other universal type in
    /// constructed form (BER's strings in pieces). The contents of primitive values, such as an
    /// extension's OCTET STRING, are left to OpenSSL.
    static func isStrictlyEncoded(_ bytes: ArraySlice<UInt8>, depth: Int = 0) -> Bool {
        guard depth < 64, let element = only(bytes) else { return false }
        guard element.tag & 0x20 != 0 else { return true }
        let universal = element.tag & 0xc0 == 0
        guard !universal || element.tag == sequence || element.tag == 0x31 else { return false }
        var rest = element.content
        while !rest.isEmpty {
            guard let inner = DER.element(rest), isStrictlyEncoded(inner.encoded, depth: depth + 1) else {
                return false
            }
            rest = rest[inner.encoded.endIndex...]
        }
        return true
    }

    /// Exactly one element filling `bytes`.
    static func only(_ bytes: ArraySlice<UInt8>) -> Element? {
        guard let element = element(bytes), element.encoded.endIndex == bytes.endIndex else { return nil }
        return element
    }
}
