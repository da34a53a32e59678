public import OTACore
#if canImport(Glibc)
import Glibc
#endif

/// Names inside a log directory (docs/FORMAT.md, Records):
///
///     log.json                      format, VIN, suite hash, device key id, retention
///     segment-<first seq, 20 digits>.log
///     HEAD                          the latest checkpoint line (a copy)
///     ACK                           "<seq> <hash>\n": what the fleet store has acknowledged
///     quarantine/torn-<segment>-<offset>.bin
public struct LogLayout: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var metaPath: String { directory + "/log.json" }
    public var headPath: String { directory + "/HEAD" }
    public var ackPath: String { directory + "/ACK" }
    public var lockPath: String { directory + "/lock" }
    public var quarantineDirectory: String { directory + "/quarantine" }

    public static func segmentName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The first sequence number a segment name claims, or nil for other names.
    public static func firstSeq(ofSegment name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".log"), name.count == 32 else { return nil }
        return UInt64(name.dropFirst(8).dropLast(4))
    }

    /// Segment file names in order.
    public func segments() throws(OTAError) -> [String] {
        try FileSystem.list(directory).filter { Self.firstSeq(ofSegment: $0) != nil }
    }

    public func path(_ name: String) -> String { directory + "/" + name }
}
