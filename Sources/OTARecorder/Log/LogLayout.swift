package import OTACore

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
package struct LogLayout: Sendable {
    package let directory: String

    package init(directory: String) { self.directory = directory }

    package var metaPath: String { directory + "/log.json" }
    package var headPath: String { directory + "/HEAD" }
    package var ackPath: String { directory + "/ACK" }
    package var lockPath: String { directory + "/lock" }
    package var quarantineDirectory: String { directory + "/quarantine" }

    package static func segmentName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The first sequence number a segment name claims (20 decimal digits, at most
    /// `EntryBody.maximumSeq`), or nil for other names.
    package static func firstSeq(ofSegment name: String) -> UInt64? {
        guard name.utf8.count == 32, name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
        let digits = name.utf8.dropFirst(8).dropLast(4)
        guard digits.allSatisfy({ (0x30...0x39).contains($0) }),
            let value = UInt64(String(decoding: digits, as: UTF8.self)),
            value <= EntryBody.maximumSeq
        else { return nil }
        return value
    }

    /// Segment file names in order (20-digit numbers sort as text). A name that is not UTF-8
    /// is no segment's (they are ASCII) and does not stop the log: `strayNames` reports it.
    package func segments() throws(OTAError) -> [String] {
        try FileSystem.listing(directory).names.filter { Self.firstSeq(ofSegment: $0) != nil }
    }

    /// Names in the directory that look like segments but are not well-formed segment names
    /// (`segment-….log.bak`, `segment-12.log`, `old.log`): a renamed segment is reported, never
    /// silently skipped. A name that is not UTF-8 is shown with its bad bytes as `\xFF`.
    package func strayNames() throws(OTAError) -> [String] {
        let listing = try FileSystem.listing(directory)
        return (listing.names + listing.namesNotUTF8).filter { name in
            Self.firstSeq(ofSegment: name) == nil && (name.hasPrefix("segment") || name.hasSuffix(".log"))
        }
    }

    package func path(_ name: String) -> String { directory + "/" + name }

    /// The bytes of all segments (what a verification reads), for progress displays; a segment
    /// that cannot be examined counts as empty (the verification itself reports it).
    package func segmentBytes() throws(OTAError) -> UInt64 {
        var total: UInt64 = 0
        for name in try segments() {
            var info = stat()
            if stat(path(name), &info) == 0 { total += UInt64(max(0, info.st_size)) }
        }
        return total
    }
}
