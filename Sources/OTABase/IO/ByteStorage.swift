/// Bytes held in contiguous memory, for the hashing, compression and file-writing APIs of this
/// module, which must not link Foundation (its `ContiguousBytes` is the same requirement; OTACore
/// adds `Data`). The vehicle-side `ota-patch` links this module without Foundation.
public protocol ByteStorage {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ByteStorage where Element == UInt8 {}
extension ArraySlice: ByteStorage where Element == UInt8 {}
extension ContiguousArray: ByteStorage where Element == UInt8 {}

extension UnsafeRawBufferPointer: ByteStorage {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}

extension UnsafeMutableRawBufferPointer: ByteStorage {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(self))
    }
}

extension ByteStorage {
    /// `withUnsafeBytes` for closures that throw `OTAError` (the requirement rethrows untyped
    /// errors).
    package func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws(OTAError) -> T) throws(OTAError) -> T {
        let result: Result<T, OTAError> = withUnsafeBytes { raw in
            do throws(OTAError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
