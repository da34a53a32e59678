import OTACore
import Testing

@Suite("Chunked streaming AEAD")
struct ChunkedAEADTests {
    func sealAll(_ algorithm: AEADAlgorithm, chunks: [[UInt8]], key: [UInt8], prefix: [UInt8]) throws -> [[UInt8]] {
        let sealer = try ChunkedAEAD.Sealer(
            aead: try AEAD(algorithm, key: key), noncePrefix: prefix, associatedData: [0xAD])
        return try chunks.enumerated().map { try sealer.seal($0.element, isLast: $0.offset == chunks.count - 1) }
    }

    func openAll(_ algorithm: AEADAlgorithm, sealed: [[UInt8]], key: [UInt8], prefix: [UInt8]) throws -> [[UInt8]] {
        let opener = try ChunkedAEAD.Opener(
            aead: try AEAD(algorithm, key: key), noncePrefix: prefix, associatedData: [0xAD])
        let plain = try sealed.enumerated().map { try opener.open($0.element, isLast: $0.offset == sealed.count - 1) }
        try opener.finish()
        return plain
    }

    @Test(arguments: AEADAlgorithm.allCases)
    func `round trip, and every reordering, swap, truncation or extension is caught`(algorithm: AEADAlgorithm) throws {
        let key = try SecureRandom.bytes(32)
        let prefix = try SecureRandom.bytes(7)
        let chunks = try (0..<4).map { _ in try SecureRandom.bytes(64) } + [try SecureRandom.bytes(10)]
        let sealed = try sealAll(algorithm, chunks: chunks, key: key, prefix: prefix)
        #expect(try openAll(algorithm, sealed: sealed, key: key, prefix: prefix) == chunks)

        var swapped = sealed
        swapped.swapAt(1, 2)
        #expect(throws: OTAError(.cryptoChunkAuthentication, "")) {
            try openAll(algorithm, sealed: swapped, key: key, prefix: prefix)
        }

        // Truncated at a chunk boundary: the new last chunk was not sealed as last.
        #expect(throws: OTAError(.cryptoChunkAuthentication, "")) {
            try openAll(algorithm, sealed: Array(sealed.prefix(3)), key: key, prefix: prefix)
        }

        // A chunk from another stream under the same key (different prefix).
        let other = try sealAll(algorithm, chunks: chunks, key: key, prefix: try SecureRandom.bytes(7))
        var mixed = sealed
        mixed[2] = other[2]
        #expect(throws: OTAError(.cryptoChunkAuthentication, "")) {
            try openAll(algorithm, sealed: mixed, key: key, prefix: prefix)
        }

        // Data after the last chunk.
        let opener = try ChunkedAEAD.Opener(
            aead: try AEAD(algorithm, key: key), noncePrefix: prefix, associatedData: [0xAD])
        for (index, chunk) in sealed.enumerated() { _ = try opener.open(chunk, isLast: index == sealed.count - 1) }
        #expect(throws: OTAError(.cryptoStreamExtra, "")) { try opener.open(sealed[0], isLast: false) }
    }

    @Test func `a stream that stops before its last chunk does not finish`() throws {
        let key = try SecureRandom.bytes(32)
        let prefix = try SecureRandom.bytes(7)
        let sealed = try sealAll(.aes256GCM, chunks: [[1], [2], [3]], key: key, prefix: prefix)
        let opener = try ChunkedAEAD.Opener(
            aead: try AEAD(.aes256GCM, key: key), noncePrefix: prefix, associatedData: [0xAD])
        _ = try opener.open(sealed[0], isLast: false)
        #expect(throws: OTAError(.cryptoStreamTruncated, "")) { try opener.finish() }
    }
}
