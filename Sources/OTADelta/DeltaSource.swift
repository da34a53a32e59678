public import OTABase

/// Where the decoder reads the old image: a slot file or block device, by offset.
public protocol DeltaSource: AnyObject {
    /// The image's size in bytes.
    var byteCount: Int64 { get }
    /// Exactly `count` bytes at `offset` (the decoder only asks inside `0..<byteCount`).
    func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8]
}

/// A source that reads straight into the decoder's buffers (its hot path: no allocation per
/// read), and whose reads may run on two threads at once (`pread`, immutable memory): the
/// decoder's `.concurrent` source check hashes it while the ops read it. Package-internal, so no
/// raw pointer is part of the public API.
package protocol DirectDeltaSource: DeltaSource {
    /// Exactly `buffer.count` bytes at `offset` into `buffer`.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError)
}

/// An old image in a file, read with `pread`.
public final class FileDeltaSource: DirectDeltaSource {
    package let file: InputFile
    public let byteCount: Int64

    public init(path: String) throws(OTAError) {
        file = try InputFile(path: path, accepting: [.regular, .blockDevice])
        byteCount = try file.byteCount()
    }

    package func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) {
        guard try file.read(at: offset, into: buffer) == buffer.count else {
            throw OTAError(.ioShortRead, "\(file.path): the old image ended early (changed while reading?)")
        }
    }

    public func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let result: Result<Void, OTAError> = bytes.withUnsafeMutableBytes { buffer in
            do throws(OTAError) {
                try read(at: offset, into: buffer)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        return bytes
    }
}

/// An old image held in memory (tests, small images).
public final class MemoryDeltaSource: DirectDeltaSource {
    public let bytes: [UInt8]
    public var byteCount: Int64 { Int64(bytes.count) }
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func read(at offset: Int64, count: Int) throws(OTAError) -> [UInt8] {
        Array(bytes[Int(offset)..<Int(offset) + count])
    }
    package func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(OTAError) {
        bytes.withUnsafeBytes {
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + buffer.count]))
        }
    }
}
