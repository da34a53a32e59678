import Foundation
import OTACore
import OTATestSupport
import Testing

@Suite struct AtomicFileWriterTests {
    @Test func `a header is overwritten in place after the body, never past what was written`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/out.bin"
        let writer = try AtomicFileWriter(path: path)
        try writer.write([UInt8](repeating: 0, count: 4))
        try writer.write(Array("body".utf8))
        try writer.overwrite(Array("HEAD".utf8), at: 0)
        #expect(throws: OTAError.self) { try writer.overwrite([1, 2], at: 7) }
        #expect(throws: OTAError.self) { try writer.overwrite([1], at: -1) }
        #expect(writer.bytesWritten == 8)
        #expect(!FileManager.default.fileExists(atPath: path), "nothing appears before commit")
        try writer.commit()
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == Array("HEADbody".utf8))
    }

    /// A 4 MiB output with early flushes every 256 KiB: they run (one at a time, beside the
    /// writes) and the committed file is the bytes written.
    @Test func `early flushes run beside the writes and the committed file is whole`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/out.bin"
        let content = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }
        let writer = try AtomicFileWriter(path: path, flushEvery: 256 << 10)
        writer.writeback = 64 << 10
        for start in stride(from: 0, to: content.count, by: 64 << 10) {
            try writer.write(Array(content[start..<(start + (64 << 10))]))
        }
        try writer.commit()
        #expect(writer.earlyFlushes >= 1)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == content)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.bin"])
    }

    /// The kernel reports a write error to one sync call only: an early flush's failure must
    /// fail the commit (not be lost to a later fsync that succeeds), and nothing is left.
    @Test func `a failed early flush fails the commit and leaves no file`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/out.bin"
        var writer: AtomicFileWriter? = try AtomicFileWriter(
            path: path, flushEvery: 64 << 10,
            dataSync: { _ in
                errno = EIO
                return -1
            })
        for _ in 0..<8 { try writer?.write([UInt8](repeating: 7, count: 64 << 10)) }
        #expect(writer?.earlyFlushes ?? 0 >= 1)
        let error = #expect(throws: OTAError.self) { try writer?.commit() }
        #expect(
            error?.code == "io.failed" && error?.message.contains("fdatasync") == true, "\(String(describing: error))")
        writer = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}

@Suite struct MappedFileTests {
    @Test func `a regular file maps to its bytes, an empty one to none, a device to nil`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        try AtomicFileWriter.write(Array("image bytes".utf8), to: directory + "/a")
        try AtomicFileWriter.write([UInt8](), to: directory + "/empty")
        let mapped = try #require(try MappedFile(path: directory + "/a"))
        #expect(Array(mapped.bytes) == Array("image bytes".utf8))
        #expect(try #require(try MappedFile(path: directory + "/empty")).bytes.isEmpty)
        #expect(try MappedFile(path: "/dev/null") == nil)
        #expect(throws: OTAError(.ioNotFound, "")) { _ = try MappedFile(path: directory + "/missing") }
    }

    @Test func `an evicted mapping still reads the file's bytes`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let content = (0..<(3 << 14)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try AtomicFileWriter.write(content, to: directory + "/a")
        let mapped = try #require(try MappedFile(path: directory + "/a"))
        #expect(Array(mapped.bytes) == content)
        mapped.evict()
        #expect(Array(mapped.bytes) == content)
        try AtomicFileWriter.write([UInt8](), to: directory + "/empty")
        let empty = try #require(try MappedFile(path: directory + "/empty"))
        empty.evict()
        #expect(empty.bytes.isEmpty)
    }
}
