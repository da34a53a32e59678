package import OTABase

/// Turns a payload's verified stored chunks back into its content: opens each chunk with the
/// payload's AEAD (when encrypted), decompresses (bounded by the signed size and a memory
/// limit), and checks the content's size and hash at the end.
package final class PayloadDecoder {
    public let image: Manifest.Image
    private let opener: ChunkedAEAD.Opener?
    private let decompressor: XZDecoder?
    private let hasher: Hasher
    private var produced: UInt64 = 0

    /// - Parameters:
    ///   - contentKey: the bundle's unwrapped content key; required for an encrypted bundle.
    ///   - memoryLimit: the most memory the xz decoder may use.
    ///   - threads: xz decoder threads (independent xz blocks decode in parallel within `memoryLimit`).
    public init(
        manifest: Manifest, image: Manifest.Image, contentKey: ContentKey?, memoryLimit: UInt64 = 64 << 20,
        threads: Int = 1
    ) throws(OTAError) {
        self.image = image
        let suite = manifest.bundle.suite
        if manifest.encryption != nil {
            guard let contentKey else {
                throw OTAError(
                    .decryptKeyMissing, "payload '\(image.name)' is encrypted and no content key is available")
            }
            guard let prefix = image.payload.noncePrefix.flatMap(Hex.decode) else {
                throw OTAError(.manifestRules, "payload '\(image.name)' has no nonce prefix")
            }
            opener = try ChunkedAEAD.Opener(
                aead: try PayloadCipher.aead(suite: suite, contentKey: contentKey, imageName: image.name),
                noncePrefix: prefix,
                associatedData: PayloadCipher.associatedData(bundleID: manifest.bundle.id, imageName: image.name))
        } else {
            opener = nil
        }
        decompressor =
            image.payload.compression == .xz
            ? try XZDecoder(memoryLimit: memoryLimit, outputLimit: image.payload.plainSize, threads: threads) : nil
        hasher = try Hasher(suite.hash)
    }

    /// Decodes one verified stored chunk, passing content pieces to `emit`.
    public func consume(_ stored: ArraySlice<UInt8>, isLast: Bool, emit: ([UInt8]) throws(OTAError) -> Void)
        throws(OTAError)
    {
        try decode(try open(stored, isLast: isLast), isLast: isLast, emit: emit)
    }

    /// The first half of `consume`: authenticates and decrypts one verified stored chunk
    /// (a copy of it when the bundle is not encrypted). `open` and `decode` touch disjoint
    /// state, so they may run on two threads, each called in chunk order; `finish` after both.
    public func open(_ stored: ArraySlice<UInt8>, isLast: Bool) throws(OTAError) -> [UInt8] {
        guard let opener else { return Array(stored) }
        return try opener.open(stored, isLast: isLast)
    }

    /// The second half of `consume`: decompresses one opened chunk and hashes the content.
    public func decode(_ compressed: [UInt8], isLast: Bool, emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        if let decompressor {
            try decompressor.update(compressed) { piece throws(OTAError) in try self.deliver(piece, emit: emit) }
            if isLast { try decompressor.finish { piece throws(OTAError) in try self.deliver(piece, emit: emit) } }
        } else {
            try deliver(compressed, emit: emit)
        }
    }

    private func deliver(_ piece: [UInt8], emit: ([UInt8]) throws(OTAError) -> Void) throws(OTAError) {
        produced += UInt64(piece.count)
        guard produced <= image.payload.plainSize else {
            throw OTAError(
                .payloadTooLong,
                "payload '\(image.name)' decodes to more than its signed \(image.payload.plainSize) bytes")
        }
        hasher.update(piece)
        try emit(piece)
    }

    /// Confirms the content had exactly the signed size and hash.
    public func finish() throws(OTAError) {
        try opener?.finish()
        guard produced == image.payload.plainSize else {
            throw OTAError(
                .payloadSize, "payload '\(image.name)' decoded to \(produced) bytes; \(image.payload.plainSize) signed")
        }
        let digest = hasher.finalize()
        guard let expected = Hex.decode(image.payload.plainHash), ConstantTime.equals(digest.bytes, expected) else {
            throw OTAError(.payloadHash, "payload '\(image.name)' content does not match its signed hash")
        }
    }
}
