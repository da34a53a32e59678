import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

@Suite struct SegmentReaderTests {
    /// A reader with what it needs stops: nothing further is read, so a line past the limit
    /// further on is neither shown nor reported (reading to the end reports it).
    @Test func `a reader that stops is shown no further line`() throws {
        let dir = try TemporaryDirectory("records")
        let path = dir.path + "/segment"
        var bytes = Array("first\nsecond\n".utf8)
        bytes += [UInt8](repeating: 0x61, count: (16 << 20) + 1) + [0x0a]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var seen: [String] = []
        try SegmentReader.readLines(path) { line, _, _ in
            seen.append(String(decoding: line, as: UTF8.self))
            return seen.count == 2 ? .stop : .next
        }
        #expect(seen == ["first", "second"])
        #expect(throws: OTAError(.recordsMalformed, "")) {
            try SegmentReader.forEachLine(path) { _, _, _ in }
        }
    }
}
