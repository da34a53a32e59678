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
