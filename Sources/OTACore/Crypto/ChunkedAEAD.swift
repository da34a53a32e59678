package import OTABase

/// A chunked streaming AEAD (the STREAM construction): a payload is cut into fixed-size chunks,
/// each sealed under nonce = prefix(7) ‖ counter(4, big-endian) ‖ last-flag(1).
///
/// The counter stops reordering and chunk swapping, the last flag stops truncation at a chunk
/// boundary (a stream that ends on a chunk not sealed as last fails to open), and the prefix,
/// random per payload, keeps two payloads under one key apart.
package enum ChunkedAEAD {
    public static let noncePrefixLength = 7

    /// Nonce for chunk `index`.
    static func nonce(prefix: [UInt8], index: UInt32, isLast: Bool) -> [UInt8] {
        prefix + BigEndian.bytes(index) + [isLast ? 1 : 0]
    }

    /// Seals chunks in order.
    public final class Sealer {
        private let aead: AEAD
        private let prefix: [UInt8]
        private let associatedData: [UInt8]
        private var index: UInt32 = 0
        private var finished = false

        public init(aead: AEAD, noncePrefix: [UInt8], associatedData: [UInt8] = []) throws(OTAError) {
            guard noncePrefix.count == ChunkedAEAD.noncePrefixLength else {
                throw OTAError(.cryptoNonceLength, "chunk nonce prefix must be \(ChunkedAEAD.noncePrefixLength) bytes")
            }
            self.aead = aead
            self.prefix = noncePrefix
            self.associatedData = associatedData
        }

        /// Seals the next chunk; `isLast` must be true for exactly the final one.
        public func seal(_ chunk: some Collection<UInt8>, isLast: Bool) throws(OTAError) -> [UInt8] {
            guard !finished else { throw OTAError(.cryptoStreamFinished, "chunk sealed after the last chunk") }
            let sealed = try aead.seal(
                chunk, nonce: ChunkedAEAD.nonce(prefix: prefix, index: index, isLast: isLast),
                associatedData: associatedData)
            if isLast { finished = true }
            guard index < UInt32.max || isLast else { throw OTAError(.cryptoStreamTooLong, "more than 2^32 chunks") }
            index &+= 1
            return sealed
        }
    }

    /// Opens chunks in order, rejecting any chunk that was altered, moved, or sealed with a
    /// different last flag.
    public final class Opener {
        private let aead: AEAD
        private let prefix: [UInt8]
        private let associatedData: [UInt8]
        private var index: UInt32 = 0
        public private(set) var isFinished = false

        public init(aead: AEAD, noncePrefix: [UInt8], associatedData: [UInt8] = []) throws(OTAError) {
            guard noncePrefix.count == ChunkedAEAD.noncePrefixLength else {
                throw OTAError(.cryptoNonceLength, "chunk nonce prefix must be \(ChunkedAEAD.noncePrefixLength) bytes")
            }
            self.aead = aead
            self.prefix = noncePrefix
            self.associatedData = associatedData
        }

        /// Opens the next sealed chunk; the caller says whether the stream ends here.
        public func open(_ sealed: some Collection<UInt8>, isLast: Bool) throws(OTAError) -> [UInt8] {
            guard !isFinished else { throw OTAError(.cryptoStreamExtra, "data after the last chunk") }
            let chunkIndex = index
            do {
                let plaintext = try aead.open(
                    sealed, nonce: ChunkedAEAD.nonce(prefix: prefix, index: chunkIndex, isLast: isLast),
                    associatedData: associatedData)
                if isLast { isFinished = true }
                index &+= 1
                return plaintext
            } catch {
                throw OTAError(
                    error.code == .cryptoAuthentication ? .cryptoChunkAuthentication : error.code,
                    "chunk \(chunkIndex) failed authentication (altered, reordered or truncated)")
            }
        }

        /// Confirms the stream reached its sealed last chunk.
        public func finish() throws(OTAError) {
            guard isFinished else { throw OTAError(.cryptoStreamTruncated, "stream ended before its last chunk") }
        }
    }
}
