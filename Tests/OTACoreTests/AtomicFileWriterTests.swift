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

    /// The rename that commits an output replaces whatever node has its name: given a FIFO, a
    /// device or a directory (or a link to one), the output must be refused before anything is
    /// written, the node left as it was (as root, `ota-patch ... -o /dev/null` replaced
    /// /dev/null with a regular file). A regular file, and a link to one, are still replaced
    /// (the link itself, as `rename` does).
    @Test func `only a regular file is replaced: a directory, FIFO, device or a link to one is refused`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        var refused = [directory + "/dir", directory + "/fifo", directory + "/fifo-link"]
        try FileManager.default.createDirectory(atPath: refused[0], withIntermediateDirectories: false)
        try #require(mkfifo(refused[1], 0o644) == 0)
        try #require(symlink(refused[1], refused[2]) == 0)
        // A character device like /dev/null (1, 3: glibc's makedev is major << 8 | minor for
        // small numbers), where the system lets us make one (root).
        if mknod(directory + "/null", S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0 { refused.append(directory + "/null") }
        let kinds = try refused.map {
            try FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType
        }
        for path in refused {
            let error = #expect(throws: OTAError.self, "\(path)") { try AtomicFileWriter(path: path) }
            #expect(error?.code == .ioNotAFile, "\(path)")
            #expect(error?.message.hasPrefix(path + ": ") == true, "\(error?.message ?? "")")
            #expect(throws: OTAError.self, "\(path)") { try AtomicFileWriter.write([1, 2, 3], to: path) }
        }
        let kindsAfter = try refused.map {
            try FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType
        }
        #expect(kindsAfter == kinds, "every refused node is left as it was")
        let regular = directory + "/regular"
        let regularLink = directory + "/regular-link"
        try Data([9]).write(to: URL(fileURLWithPath: regular))
        try #require(symlink(regular, regularLink) == 0)
        try AtomicFileWriter.write([1], to: regular)
        try AtomicFileWriter.write([2], to: regularLink)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: regular))) == [1], "the link's target is not written")
        #expect(
            try FileManager.default.attributesOfItem(atPath: regularLink)[.type] as? FileAttributeType == .typeRegular)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: regularLink))) == [2])
        let names = Set(refused.map { String($0.split(separator: "/").last!) } + ["regular", "regular-link"])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory)) == names, "no temporary file left")
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
