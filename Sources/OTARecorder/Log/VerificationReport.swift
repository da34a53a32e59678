/// What `LogVerifier` found: counts, the anchor and head, and every issue (empty when intact).
public struct VerificationReport: Sendable, Encodable {
    public var vin: String
    public var hash: String
    public var entries: Int = 0
    public var records: Int = 0
    public var checkpoints: Int = 0
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    public var lastHash: String?
    /// The checkpoint the log starts from when older segments were pruned.
    public var anchoredAt: UInt64?
    /// The signed checkpoint in `HEAD`.
    public var headSeq: UInt64?
    /// The device key that signs the end of the log, and how many rotations led to it.
    public var keyID: String?
    public var keyRotations: Int = 0
    /// Entries after the last signed checkpoint (not yet covered by a signature).
    public var unsignedTail: Int = 0
    /// Ranges the recorder found unsigned when it reopened the log and stated in an
    /// `unsigned-tail` entry (signed only by the checkpoint after that statement).
    public var unsignedRanges: [UnsignedRange] = []
    public var issues: [VerificationIssue] = []

    public var intact: Bool { issues.isEmpty }

    /// JSON keys spelled as everywhere else in `ota` (`keyId`, not `keyID`).
    enum CodingKeys: String, CodingKey {
        case vin, hash, entries, records, checkpoints, firstSeq, lastSeq, lastHash, anchoredAt, headSeq
        case keyID = "keyId"
        case keyRotations, unsignedTail, unsignedRanges, issues
    }
}
