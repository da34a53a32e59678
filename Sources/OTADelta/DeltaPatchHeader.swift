public import OTABase

/// The fixed 108-byte header at the start of every delta patch (format in `docs/FORMAT.md`,
/// "Delta patch"). Integers are little-endian.
public struct DeltaPatchHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("OTADELTA".utf8)
    /// Version 2: four LZMA2 streams in frames (version 1, one xz op stream, is not read).
    public static let currentVersion: UInt16 = 2
    /// Version 3: as 2, with a reference transform block between the header and the first frame
    /// (the encoder writes 3 only when it uses the executable transform).
    public static let transformVersion: UInt16 = 3
    /// Version 4: as 3, and AArch64 ADRPs are paired with the ADD/LDR/STR that use their register
    /// (the same transform block; the decoder finds more reference sites). The encoder writes 4
    /// only when the old image holds AArch64 code, so x86-64 patches stay readable as version 3.
    public static let pairedVersion: UInt16 = 4
    /// The transform block's LZMA2 dictionary, as a power of two: 4 KiB...1 MiB.
    static let transformDictionaryExponents: ClosedRange<UInt8> = 12...20
    public static let byteCount = 108
    /// How a body codes the inserted bytes: the header's `compression` value without the primed
    /// flag (docs/FORMAT.md, "Delta patch"). Only the codings that exist can be named: aligned
    /// inserts go with 2 and 3 only, the operands' own stream with x86-64 only.
    public enum BodyCoding: UInt8, Sendable, CaseIterable {
        /// Four raw LZMA2 streams interleaved in frames, the inserted bytes as they are.
        case plain = 0x02
        /// Inserted code's relative fields made absolute by their new-image offset
        /// (`InsertsFilter`): AArch64 BL and ADRP words.
        case filteredAArch64 = 0x03
        /// The same for x86-64 branches and RIP-relative operands.
        case filteredX86 = 0x04
        /// Five streams: as `filteredX86`, with the inserted operands in a stream of their own
        /// (`InsertsOperands`).
        case operandsSplitX86 = 0x05
        /// `plain` and `filteredAArch64` with each INSERT's bytes preceded in the inserts stream by
        /// the zero bytes that keep them word-aligned (`InsertsAlignment`): the 0x20 bit.
        case plainAligned = 0x22
        case filteredAArch64Aligned = 0x23

        /// The instruction set whose relative fields the inserted bytes hold absolute, if any.
        public var insertsFilter: ReferenceArchitecture? {
            switch self {
            case .plain, .plainAligned: nil
            case .filteredAArch64, .filteredAArch64Aligned: .aarch64
            case .filteredX86, .operandsSplitX86: .x86_64
            }
        }

        /// The inserted x86-64 operands travel in a fifth stream.
        public var operandsSplit: Bool { self == .operandsSplitX86 }

        /// The inserts stream keeps inserted bytes word-aligned with zero padding.
        public var insertsAligned: Bool { rawValue & DeltaPatchHeader.compressionAlignedFlag != 0 }
    }

    /// Added to the `compression` value when the inserts stream's dictionary starts primed with
    /// old-image bytes (an `InsertsPrime` block before the first frame).
    static let compressionPrimedFlag: UInt8 = 0x10
    /// The bit of the `compression` value that marks aligned inserts (`BodyCoding`).
    static let compressionAlignedFlag: UInt8 = 0x20
    /// Added with `compressionPrimedFlag` to code 5 when the primed old bytes are split
    /// (`Prime.oldBytesSplit`).
    static let compressionPrimeSplitFlag: UInt8 = 0x40
    /// Added to the `compression` value when a recompressed-streams block follows the header
    /// (`RecompressedStreams`), whatever the body coding.
    static let compressionRecompressedFlag: UInt8 = 0x80
    /// The streams never need more than 24 bytes per output byte (a 1-byte ADD: code, two
    /// 10-byte varints, a run token and the byte); 32 leaves room, and a larger declared body is
    /// refused before decoding starts.
    static let maxBodyBytesPerOutputByte: UInt64 = 32
    /// Dictionary sizes are stored as powers of two in this range (4 KiB ... 256 MiB).
    static let dictionaryExponents: ClosedRange<UInt8> = 12...28

    public var version: UInt16
    public var hashAlgorithm: HashAlgorithm
    public var oldSize: UInt64
    public var newSize: UInt64
    /// Exact total length of the decompressed streams.
    public var bodySize: UInt64
    /// LZMA2 dictionary size of the first four streams (control, runs, differences, inserts),
    /// as the header stores them; `streamDictionarySizes` has every stream's.
    public var dictionarySizes: [UInt32]
    public var oldHash: Digest
    public var newHash: Digest
    /// How the body codes the inserted bytes.
    public var bodyCoding = BodyCoding.plain
    /// What the inserts stream's LZMA2 dictionary starts with.
    public var prime = Prime.none
    /// A recompressed-streams block follows the header (the `compression` value's 0x80 bit),
    /// and the ops may be RECOMPRESSED ops.
    public var recompressed = false

    /// The inserts stream's dictionary starts with old-image bytes, named by an `InsertsPrime`
    /// block right before the first frame (the `compression` value's 0x10 bit).
    public var insertsPrimed: Bool { prime != .none }

    /// What the inserts stream's LZMA2 dictionary starts with (docs/FORMAT.md, "Inserts primed
    /// with old bytes").
    public enum Prime: Sendable, Equatable {
        /// Nothing: the stream starts empty.
        case none
        /// The old bytes the `InsertsPrime` block names, as they are (the 0x10 bit).
        case oldBytes
        /// Those old bytes split as body coding 5 splits inserted bytes, only their bytes other
        /// than operands (`InsertsPrime.splitOldBytes`; the 0x10 and 0x40 bits, with code 5 only).
        case oldBytesSplit

        /// How a patch of `bodyCoding` primes, when it does: split with code 5, whose inserted
        /// code reaches the inserts stream without its operands, else as the old bytes are.
        public static func primed(_ bodyCoding: BodyCoding) -> Prime {
            bodyCoding.operandsSplit ? .oldBytesSplit : .oldBytes
        }

        /// The bits this prime adds to the header's `compression` value.
        package var compressionFlags: UInt8 {
            switch self {
            case .none: 0
            case .oldBytes: DeltaPatchHeader.compressionPrimedFlag
            case .oldBytesSplit: DeltaPatchHeader.compressionPrimedFlag | DeltaPatchHeader.compressionPrimeSplitFlag
            }
        }
    }

    /// `bodyCoding`'s filter of the inserted bytes (`InsertsFilter`), if any.
    public var insertsFilter: ReferenceArchitecture? { bodyCoding.insertsFilter }
    /// `bodyCoding` carries the inserted operands in a fifth stream.
    public var operandsSplit: Bool { bodyCoding.operandsSplit }
    /// `bodyCoding` keeps the inserted bytes word-aligned.
    public var insertsAligned: Bool { bodyCoding.insertsAligned }

    /// Streams in each frame: four, five with the operands split out.
    public var streamCount: Int { PatchStream.count(operandsSplit: operandsSplit) }

    /// The operands stream's dictionary: a quarter of the inserts stream's (an operand stands
    /// for about 8 inserted bytes), at least 4 KiB.
    public static func operandsDictionarySize(inserts: UInt32) -> UInt32 { max(4096, inserts / 4) }

    /// Every stream's LZMA2 dictionary: the decoder needs about their sum in memory.
    public var streamDictionarySizes: [UInt32] {
        operandsSplit ? dictionarySizes + [Self.operandsDictionarySize(inserts: dictionarySizes[3])] : dictionarySizes
    }

    public init(
        hashAlgorithm: HashAlgorithm, oldSize: UInt64, newSize: UInt64, bodySize: UInt64,
        dictionarySizes: [UInt32], oldHash: Digest, newHash: Digest
    ) {
        precondition(dictionarySizes.count == 4)
        self.version = Self.currentVersion
        self.dictionarySizes = dictionarySizes
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
        precondition(prime != .oldBytesSplit || bodyCoding == .operandsSplitX86, "a split prime goes with code 5")
        out.append(
            bodyCoding.rawValue | prime.compressionFlags | (recompressed ? Self.compressionRecompressedFlag : 0))
        for size in dictionarySizes {
            guard size.nonzeroBitCount == 1, Self.dictionaryExponents.contains(UInt8(size.trailingZeroBitCount)) else {
                throw OTAError(.deltaDictionary, "a patch stream dictionary must be a power of two, 4 KiB...256 MiB")
            }
            out.append(UInt8(size.trailingZeroBitCount))
        }
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
            throw OTAError(.deltaTruncated, "patch ends inside its \(byteCount)-byte header")
        }
        guard Array(bytes[0..<8]) == magic else {
            throw OTAError(.deltaNotAPatch, "not an ota delta patch (bad magic)")
        }
        let version = bytes.littleEndian(UInt16.self, at: 8)
        guard (currentVersion...pairedVersion).contains(version) else {
            throw OTAError(
                .deltaVersion,
                "delta patch format version \(version) is not supported (this build reads \(currentVersion) to \(pairedVersion))"
            )
        }
        guard try check(Array(bytes[0..<104])) == Array(bytes[104..<108]) else {
            throw OTAError(.deltaHeaderCorrupt, "delta patch header check does not match (corrupt header)")
        }
        guard let algorithm = algorithm(for: bytes[10]) else {
            throw OTAError(.deltaHeaderInvalid, "unknown hash algorithm code \(bytes[10]) in delta patch header")
        }
        let recompressed = bytes[11] & compressionRecompressedFlag != 0
        let compression = bytes[11] & ~compressionRecompressedFlag
        let primed = compression & compressionPrimedFlag != 0
        let primeSplit = compression & compressionPrimeSplitFlag != 0
        guard let bodyCoding = BodyCoding(rawValue: compression & ~(compressionPrimedFlag | compressionPrimeSplitFlag))
        else {
            let unaligned = compression & ~(compressionPrimedFlag | compressionPrimeSplitFlag | compressionAlignedFlag)
            guard compression & compressionAlignedFlag == 0 || BodyCoding(rawValue: unaligned) == nil else {
                throw OTAError(
                    .deltaHeaderInvalid,
                    "body compression code \(bytes[11]) in delta patch header: aligned inserts go with codes 2 and 3 only"
                )
            }
            throw OTAError(.deltaHeaderInvalid, "unknown body compression code \(bytes[11]) in delta patch header")
        }
        guard !primeSplit || (primed && bodyCoding == .operandsSplitX86) else {
            throw OTAError(
                .deltaHeaderInvalid,
                "body compression code \(bytes[11]) in delta patch header: a split prime (0x40) goes with primed code 5 (0x55) only"
            )
        }
        var dictionarySizes: [UInt32] = []
        for exponent in bytes[12..<16] {
            guard dictionaryExponents.contains(exponent) else {
                throw OTAError(
                    .deltaHeaderInvalid,
                    "stream dictionary 2^\(exponent) in delta patch header is outside 4 KiB...256 MiB")
            }
            dictionarySizes.append(1 << UInt32(exponent))
        }
        let oldSize = bytes.littleEndian(UInt64.self, at: 16)
        let newSize = bytes.littleEndian(UInt64.self, at: 24)
        let bodySize = bytes.littleEndian(UInt64.self, at: 32)
        guard oldSize <= UInt64(Int64.max), newSize <= UInt64(Int64.max) / maxBodyBytesPerOutputByte,
            bodySize <= newSize * maxBodyBytesPerOutputByte
        else {
            throw OTAError(
                .deltaHeaderInvalid,
                "delta patch header declares impossible sizes (old \(oldSize), new \(newSize), body \(bodySize))")
        }
        var header = DeltaPatchHeader(
            hashAlgorithm: algorithm, oldSize: oldSize, newSize: newSize, bodySize: bodySize,
            dictionarySizes: dictionarySizes, oldHash: Digest(algorithm: algorithm, bytes: Array(bytes[40..<72])),
            newHash: Digest(algorithm: algorithm, bytes: Array(bytes[72..<104])))
        header.version = version
        header.bodyCoding = bodyCoding
        header.prime = primeSplit ? .oldBytesSplit : primed ? .oldBytes : .none
        header.recompressed = recompressed
        return header
    }

    /// Whether a reference transform block follows the header.
    public var hasTransform: Bool { version == Self.transformVersion || version == Self.pairedVersion }

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
