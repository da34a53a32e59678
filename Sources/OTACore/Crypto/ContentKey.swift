internal import COpenSSL
package import OTABase

/// A bundle's content key: 32 secret bytes that this object alone holds, in memory it allocated
/// itself, zeroed (`OPENSSL_cleanse`) when the last reference goes. Payload keys are derived from
/// it; its bytes reach OpenSSL through `withUnsafeBytes` and are never copied into an array that
/// outlives the call.
public final class ContentKey: @unchecked Sendable {
    // @unchecked: the bytes are written once in init and only read afterwards.
    /// The length of every content key.
    public static let length = 32
    private let storage: UnsafeMutableRawBufferPointer

    private init() {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.length, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// A fresh key from OpenSSL's random generator.
    package static func random() throws(OTAError) -> ContentKey {
        let key = ContentKey()
        OpenSSLErrorQueue.clear()
        try ensure(
            RAND_bytes_ex(nil, key.storage.baseAddress, key.storage.count, 0), "RAND_bytes_ex", code: .cryptoRandom)
        return key
    }

    /// A copy of `bytes` (which the caller then cleanses); `crypto.key-length` unless 32 bytes.
    package init(copying bytes: UnsafeRawBufferPointer) throws(OTAError) {
        guard bytes.count == Self.length else {
            throw OTAError(.cryptoKeyLength, "a content key is \(Self.length) bytes, got \(bytes.count)")
        }
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.length, alignment: 16)
        storage.copyMemory(from: bytes)
    }

    deinit {
        COpenSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    /// The key's bytes, for the duration of `body` only.
    package func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// Compares in constant time (tests; a key-wrap round trip).
    package func constantTimeEquals(_ other: ContentKey) -> Bool {
        withUnsafeBytes { mine in
            other.withUnsafeBytes { theirs in CRYPTO_memcmp(mine.baseAddress, theirs.baseAddress, Self.length) == 0 }
        }
    }
}

extension Array where Element == UInt8 {
    /// Zeroes the array's bytes in place (`OPENSSL_cleanse`): for transient copies of a secret.
    package mutating func cleanse() {
        withUnsafeMutableBytes { COpenSSL_cleanse($0.baseAddress, $0.count) }
    }
}
