internal import Foundation

extension ContiguousBytes {
    /// `withUnsafeBytes` for closures that throw `OTAError` (Foundation's version rethrows
    /// untyped errors).
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws(OTAError) -> T) throws(OTAError) -> T {
        let result: Result<T, OTAError> = withUnsafeBytes { raw in
            do throws(OTAError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
