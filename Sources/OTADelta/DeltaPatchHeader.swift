public import OTACore

/// The fixed 108-byte header at the start of every delta patch (format in `docs/FORMAT.md`,
/// "Delta patch"). Integers are little-endian.
public struct DeltaPatchHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("OTADELTA".utf8)
    public static let currentVersion: UInt16 = 1
    public static let byteCount = 108
    /// `compression` value for an xz (LZMA2) body.
    static let compressionXZ: UInt8 = 1
    /// The op stream never needs more than 24 bytes per output byte (a 1-byte ADD: code, two
    /// 10-byte varints, a (0, 1) run pair and the byte); 32 leaves room, and a larger declared
    /// body is refused before decoding starts.
    static let maxBodyBytesPerOutputByte: UInt64 = 32

    public var version: UInt16
    public var hashAlgorithm: HashAlgorithm
    public var oldSize: UInt64
    public var newSize: UInt64
    /// Exact length of the decompressed op stream.
    public var bodySize: UInt64
    public var oldHash: Digest
    public var newHash: Digest

    public init(
        hashAlgorithm: HashAlgorithm, oldSize: UInt64, newSize: UInt64, bodySize: UInt64, oldHash: Digest,
        newHash: Digest
    ) {
        self.version = Self.currentVersion
        self.hashAlgorithm = hashAlgorithm
        self.oldSize = oldSize
        self.newSize = newSize
        self.bodySize = bodySize
        self.oldHash = oldHash
        self.newHash = newHash
    }

    /// The header's bytes, ending in its 4-byte check.
    public func encoded() throws(OTAError) -> [UInt8] {
        var out = Self.magic
        out.appendLittleEndian(version)
        out.append(Self.code(for: hashAlgorithm))
        out.append(Self.compressionXZ)
        out.appendLittleEndian(UInt32(0))  // reserved
        out.appendLittleEndian(oldSize)
        out.appendLittleEndian(newSize)
        out.appendLittleEndian(bodySize)
        out += oldHash.bytes
        out += newHash.bytes
        out += try Self.check(out)
        return out
    }

    /// Parses and validates a header; `bytes` must hold at least `byteCount` bytes.
    public static func decode(_ bytes: [UInt8]) throws(OTAError) -> DeltaPatchHeader {
        guard bytes.count >= byteCount else {
            throw .rejected("delta.truncated", "patch ends inside its \(byteCount)-byte header")
        }
        guard Array(bytes[0..<8]) == magic else {
            throw .rejected("delta.not-a-patch", "not an ota delta patch (bad magic)")
        }
        let version = bytes.littleEndian(UInt16.self, at: 8)
        guard version == currentVersion else {
            throw .rejected(
                "delta.version",
                "delta patch format version \(version) is not supported (this build reads \(currentVersion))")
        }
        guard try check(Array(bytes[0..<104])) == Array(bytes[104..<108]) else {
            throw .rejected("delta.header-corrupt", "delta patch header check does not match (corrupt header)")
        }
        guard let algorithm = algorithm(for: bytes[10]) else {
            throw .rejected("delta.header-invalid", "unknown hash algorithm code \(bytes[10]) in delta patch header")
        }
        guard bytes[11] == compressionXZ else {
            throw .rejected("delta.header-invalid", "unknown body compression code \(bytes[11]) in delta patch header")
        }
        let oldSize = bytes.littleEndian(UInt64.self, at: 16)
        let newSize = bytes.littleEndian(UInt64.self, at: 24)
        let bodySize = bytes.littleEndian(UInt64.self, at: 32)
        guard oldSize <= UInt64(Int64.max), newSize <= UInt64(Int64.max) / maxBodyBytesPerOutputByte,
            bodySize <= newSize * maxBodyBytesPerOutputByte
        else {
            throw .rejected(
                "delta.header-invalid",
                "delta patch header declares impossible sizes (old \(oldSize), new \(newSize), body \(bodySize))")
        }
        return DeltaPatchHeader(
            hashAlgorithm: algorithm, oldSize: oldSize, newSize: newSize, bodySize: bodySize,
            oldHash: Digest(algorithm: algorithm, bytes: Array(bytes[40..<72])),
            newHash: Digest(algorithm: algorithm, bytes: Array(bytes[72..<104])))
    }

    /// The first 4 bytes of SHA-256 over the header's first 104 bytes: catches a damaged
    /// header early with its own error (the manifest's signature covers the whole patch).
    static func check(_ bytes: [UInt8]) throws(OTAError) -> [UInt8] {
        Array(try Hasher.hash(.sha256, bytes).bytes.prefix(4))
    }

    static func code(for algorithm: HashAlgorithm) -> UInt8 {
        switch algorithm {
        case .sha256: 1
        case .sm3: 2
        }
    }

    static func algorithm(for code: UInt8) -> HashAlgorithm? {
        switch code {
        case 1: .sha256
        case 2: .sm3
        default: nil
        }
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }

    func littleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value |= T(self[offset + i]) << (8 * i) }
        return value
    }
}
