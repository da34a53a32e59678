public import OTACore

/// One thing wrong with a log: what, which entry, where.
public struct VerificationIssue: Sendable, Equatable, Encodable, CustomStringConvertible {
    public enum Kind: String, Sendable, Encodable, CaseIterable {
        /// An entry's bytes differ from what was chained (its own hash, or the next entry's `PREV`).
        case changed
        /// Entries are missing from the middle (or, without a prune record, from the start).
        case deleted
        /// An entry that does not belong to the chain (a duplicate or forged entry).
        case inserted
        /// Entries are present but out of order.
        case reordered
        /// The log ends before the last signed checkpoint (`HEAD`).
        case truncated
        /// Bytes without an end of line at the end of a segment (a crash while writing).
        case tornTail = "torn-tail"
        /// A checkpoint whose signature does not verify under the device key.
        case checkpointSignature = "checkpoint-signature"
        /// A line that is not a log entry at all.
        case malformed
        /// The log does not start at entry 0 or at a signed checkpoint.
        case unanchored
        /// An entry's JSON breaks the schema: an unknown member (a location, a name), a wrong
        /// type, a number out of range, or bytes that are not canonical JSON.
        case schema
        /// `log.json` disagrees with the chain (VIN, genesis, hash, current key).
        case meta
        /// A segment's name does not match its first entry, or a file in the log directory
        /// looks like a renamed segment.
        case segmentName = "segment-name"
        /// A prune entry that breaks the retention rule it states: its cutoff later than its own
        /// time minus its months (or months below the log's), or the checkpoint the log now
        /// starts from not older than its cutoff.
        case retention

        /// The stable error code the CLI reports.
        public var code: OTAError.Code {
            switch self {
            case .changed: .recordsChanged
            case .deleted: .recordsDeleted
            case .inserted: .recordsInserted
            case .reordered: .recordsReordered
            case .truncated: .recordsTruncated
            case .tornTail: .recordsTornTail
            case .checkpointSignature: .recordsCheckpointSignature
            case .malformed: .recordsMalformed
            case .unanchored: .recordsUnanchored
            case .schema: .recordsSchema
            case .meta: .recordsMeta
            case .segmentName: .recordsSegmentName
            case .retention: .recordsRetention
            }
        }
    }

    public let kind: Kind
    /// The first entry concerned (sequence number), when known.
    public let seq: UInt64?
    /// The last entry concerned, for ranges.
    public let through: UInt64?
    /// `segment-…log:LINE` (1-based line).
    public let location: String
    public let message: String

    public init(_ kind: Kind, seq: UInt64?, through: UInt64? = nil, location: String, _ message: String) {
        self.kind = kind
        self.seq = seq
        self.through = through
        self.location = location
        self.message = message
    }

    /// Whether the issue names entry `seq` (alone or in its range).
    public func concerns(_ entry: UInt64) -> Bool {
        guard let seq else { return false }
        return entry >= seq && entry <= (through ?? seq)
    }

    public var description: String { "\(kind.rawValue) at \(location): \(message)" }
}
