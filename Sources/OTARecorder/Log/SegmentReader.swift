package import OTACore

/// Reads a segment file line by line in fixed-size chunks (memory grows only with the longest
/// line: 16 MiB ended, 64 MiB for a torn tail).
package enum SegmentReader {
    /// Longest line ended by `LF`.
    static let maximumLine = 16 << 20
    /// Longest unended last line, a torn tail (what `quarantine/` keeps, FORMAT.md).
    static let maximumTornTail = 64 << 20

    /// What a line's reader asks for after a line: the next one, or nothing more of the file.
    package enum Step: Sendable {
        case next
        case stop
    }

    /// Calls `body` for each line (without its `LF`), its byte offset, and whether it ended with
    /// `LF` (only the last line of a file can lack it: a torn tail).
    package static func forEachLine(
        _ path: String,
        _ body: (_ line: ArraySlice<UInt8>, _ offset: Int64, _ terminated: Bool) throws(OTAError) -> Void
    ) throws(OTAError) {
        try readLines(path) { line, offset, terminated throws(OTAError) in
            try body(line, offset, terminated)
            return .next
        }
    }

    /// `forEachLine` for a reader that may have what it needs before the end: after `body`
    /// returns `.stop`, nothing more of the file is read (nor checked: a malformed line further
    /// on goes unreported).
    package static func readLines(
        _ path: String,
        _ body: (_ line: ArraySlice<UInt8>, _ offset: Int64, _ terminated: Bool) throws(OTAError) -> Step
    ) throws(OTAError) {
        let file = try InputFile(path: path)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var pending: [UInt8] = []
        var pendingOffset: Int64 = 0
        var offset: Int64 = 0
        while true {
            let count = try file.read(into: &chunk)
            if count == 0 { break }
            var start = 0
            var index = 0
            while index < count {
                if chunk[index] == 0x0a {
                    if pending.isEmpty {
                        if try body(chunk[start..<index], offset + Int64(start), true) == .stop { return }
                    } else {
                        pending.append(contentsOf: chunk[start..<index])
                        guard pending.count <= maximumLine else {
                            throw OTAError(
                                .recordsMalformed, "\(path): byte \(pendingOffset): a line longer than 16 MiB")
                        }
                        if try body(pending[...], pendingOffset, true) == .stop { return }
                        pending.removeAll(keepingCapacity: true)
                    }
                    start = index + 1
                }
                index += 1
            }
            if start < count {
                if pending.isEmpty { pendingOffset = offset + Int64(start) }
                pending.append(contentsOf: chunk[start..<count])
                if pending.count > maximumTornTail {
                    throw OTAError(
                        .recordsMalformed,
                        "\(path): byte \(pendingOffset): more than 64 MiB without a line end (a torn tail is quarantined up to 64 MiB)"
                    )
                }
            }
            offset += Int64(count)
        }
        if !pending.isEmpty { _ = try body(pending[...], pendingOffset, false) }
    }
}
