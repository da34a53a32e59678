/// Finds the zlib (RFC 1950) and gzip (RFC 1952) streams and the deflated zip entries (APPNOTE
/// 4.3.7) an image holds: a program's embedded assets, a filesystem's compressed files, its
/// archives and packages. A candidate header is kept only when the deflate stream after it
/// decodes completely (`DeflatePuff`) and the container's checksum matches its decompressed
/// bytes (a zip entry that defers its checksum to a data descriptor: its sizes and the full
/// decode only), so a byte pattern that merely looks like a header is never taken.
enum DeflateStreamScanner {
    /// One stream: `length` bytes at `offset` (container header, deflate data, trailer), and the
    /// size of its puffed form. The puffed form itself is not kept (an image may hold hundreds of
    /// MB of compressed files): `puffed(in:)` makes it again.
    struct Found: Equatable {
        var offset: Int
        var length: Int
        var prefix: Int
        var suffix: Int
        var puffedBytes: Int

        /// The stream's bytes in `image`.
        func bytes(in image: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: image[offset..<(offset + length)])
        }

        /// The stream's puffed form (it puffed when it was found).
        func puffed(in image: UnsafeBufferPointer<UInt8>) -> PuffedStream {
            try! DeflatePuff.puff(
                UnsafeRawBufferPointer(bytes(in: image)), prefixLength: prefix, suffixLength: suffix,
                maxData: DeflateStreamScanner.maximumData
            ).stream
        }
    }

    /// Streams whose deflate data is shorter than this are left to the byte matcher: an entry
    /// costs ~10 bytes in the block and a sync flush.
    static let minimumDeflateBytes = 64
    /// Most decompressed bytes one stream may have (a larger one is left to the byte matcher).
    static let maximumData = 16 << 20

    /// Every stream in `image`, in offset order, none overlapping.
    static func scan(_ image: UnsafeBufferPointer<UInt8>) -> [Found] {
        var found: [Found] = []
        guard let base = image.baseAddress else { return found }
        var index = 0
        let count = image.count
        while index + 2 < count {
            let prefix: Int?
            let suffix: Int
            if isZlibHeader(base[index], base[index + 1]) {
                prefix = 2
                suffix = 4
            } else if base[index] == 0x1F && base[index + 1] == 0x8B {
                prefix = gzipHeaderLength(UnsafeBufferPointer(rebasing: image[index...]))
                suffix = 8
            } else if base[index] == 0x50 && base[index + 1] == 0x4B {
                prefix = zipEntryHeaderLength(UnsafeBufferPointer(rebasing: image[index...]))
                suffix = 0
            } else {
                prefix = nil
                suffix = 0
            }
            if let prefix, let stream = take(image, at: index, prefix: prefix, suffix: suffix) {
                found.append(stream)
                index += stream.length
            } else {
                index += 1
            }
        }
        return found
    }

    /// CMF and FLG of a zlib header: deflate with at most a 32 KiB window, no preset
    /// dictionary, and the header check (a multiple of 31).
    static func isZlibHeader(_ cmf: UInt8, _ flg: UInt8) -> Bool {
        cmf & 0x0F == 8 && cmf >> 4 <= 7 && flg & 0x20 == 0 && (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0
    }

    /// The length of a gzip member's header at the start of `bytes` (magic, deflate method,
    /// no reserved flags, the optional fields it names), or nil.
    static func gzipHeaderLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count >= 10, bytes[0] == 0x1F, bytes[1] == 0x8B, bytes[2] == 8, bytes[3] & 0xE0 == 0 else {
            return nil
        }
        let flags = bytes[3]
        var length = 10
        if flags & 0x04 != 0 {
            guard length + 2 <= bytes.count else { return nil }
            length += 2 + (Int(bytes[length]) | Int(bytes[length + 1]) << 8)
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {
            // A zero-terminated name or comment.
            while length < bytes.count && bytes[length] != 0 { length += 1 }
            length += 1
        }
        if flags & 0x02 != 0 { length += 2 }
        return length < bytes.count ? length : nil
    }

    /// The length of a zip local file header at the start of `bytes` (signature, then 26 bytes
    /// of fields, the name and the extra field) when its entry is deflated and not encrypted.
    static func zipEntryHeaderLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count >= 30, bytes[2] == 3, bytes[3] == 4, bytes[6] & 1 == 0, bytes[8] == 8, bytes[9] == 0 else {
            return nil
        }
        let length = 30 + (Int(bytes[26]) | Int(bytes[27]) << 8) + (Int(bytes[28]) | Int(bytes[29]) << 8)
        return length < bytes.count ? length : nil
    }

    /// The deflated and decompressed sizes a zip local header (`header`: through its extra
    /// field) declares: its 32-bit fields, or when either is 0xFFFFFFFF (ZIP64, APPNOTE 4.5.3)
    /// both 64-bit values of its extra field 0x0001; nil when that field is missing or short.
    static func zipEntrySizes(_ header: UnsafeBufferPointer<UInt8>) -> (deflated: UInt64, data: UInt64)? {
        let deflated = littleEndian(header, 18)
        let data = littleEndian(header, 22)
        guard deflated == 0xFFFF_FFFF || data == 0xFFFF_FFFF else { return (UInt64(deflated), UInt64(data)) }
        var field = 30 + (Int(header[26]) | Int(header[27]) << 8)
        while field + 4 <= header.count {
            let id = Int(header[field]) | Int(header[field + 1]) << 8
            let size = Int(header[field + 2]) | Int(header[field + 3]) << 8
            let values = field + 4
            guard values + size <= header.count else { return nil }
            if id == 1 {
                guard size >= 16 else { return nil }
                func wide(_ at: Int) -> UInt64 {
                    UInt64(littleEndian(header, at)) | UInt64(littleEndian(header, at + 4)) << 32
                }
                return (wide(values + 8), wide(values))
            }
            field = values + size
        }
        return nil
    }

    /// The stream at `offset` when it decodes and its checksum matches: zlib, Adler-32 of the
    /// data in the 4-byte trailer, big-endian; gzip, CRC-32 then the length mod 2^32 in the
    /// 8-byte trailer, little-endian; a zip entry (no trailer), the CRC-32 and both sizes of its
    /// local header (`zipEntrySizes`) unless its flags' bit 3 defers them to a data descriptor.
    private static func take(_ image: UnsafeBufferPointer<UInt8>, at offset: Int, prefix: Int, suffix: Int) -> Found? {
        let bytes = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: image[offset...]))
        guard
            let (puffed, consumed) = try? DeflatePuff.puff(
                bytes, prefixLength: prefix, suffixLength: suffix, maxData: maximumData)
        else { return nil }
        guard consumed - prefix - suffix >= minimumDeflateBytes else { return nil }
        let trailer = UnsafeBufferPointer(rebasing: image[(offset + consumed - suffix)..<(offset + consumed)])
        let header = UnsafeBufferPointer(rebasing: image[offset..<(offset + prefix)])
        let matches = puffed.data.withUnsafeBufferPointer { data in
            if suffix == 0 {
                guard header[6] & 0x08 == 0 else { return true }
                guard let sizes = Self.zipEntrySizes(header) else { return false }
                return Checksums.crc32(data) == Self.littleEndian(header, 14)
                    && sizes.deflated == UInt64(consumed - prefix) && sizes.data == UInt64(data.count)
            }
            if suffix == 4 { return Checksums.adler32(data) == Self.bigEndian(trailer, 0) }
            return Checksums.crc32(data) == Self.littleEndian(trailer, 0)
                && UInt32(truncatingIfNeeded: data.count) == Self.littleEndian(trailer, 4)
        }
        guard matches else { return nil }
        return Found(offset: offset, length: consumed, prefix: prefix, suffix: suffix, puffedBytes: puffed.byteCount)
    }
}

extension DeflateStreamScanner {
    static func bigEndian(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[at + $1]) }
    }

    static func littleEndian(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }
}

/// The two checksums of the deflate containers.
package enum Checksums {
    /// Adler-32 (RFC 1950).
    package static func adler32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var index = 0
        while index < bytes.count {
            // 5552 bytes keep b below 2^32 before the reduction (zlib's NMAX).
            let end = min(bytes.count, index + 5552)
            while index < end {
                a &+= UInt32(bytes[index])
                b &+= a
                index += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (ISO 3309, as gzip uses it).
    package static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
