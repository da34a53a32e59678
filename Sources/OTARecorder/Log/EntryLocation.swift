/// Where a line is: segment file name and 1-based line number (formatted only when reported).
public struct EntryLocation: Sendable, CustomStringConvertible {
    public let segment: String
    public let line: Int

    public init(segment: String, line: Int) {
        self.segment = segment
        self.line = line
    }

    init(_ place: String) {
        segment = place
        line = 0
    }

    public var description: String { line == 0 ? segment : "\(segment):\(line)" }
}
