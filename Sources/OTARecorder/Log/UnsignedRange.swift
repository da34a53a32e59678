/// Entries a recorder found after the last checkpoint when it opened the log, and the
/// `unsigned-tail` entry in which it stated them: entries the recorder that wrote them never
/// signed (a crash between a record and its checkpoint, or lines written without the device key).
public struct UnsignedRange: Sendable, Equatable, Encodable {
    public let from: UInt64
    public let through: UInt64
    /// The `unsigned-tail` entry that states the range.
    public let recordedAt: UInt64

    public init(from: UInt64, through: UInt64, recordedAt: UInt64) {
        self.from = from
        self.through = through
        self.recordedAt = recordedAt
    }

    /// `entry 7` or `entries 7...9`.
    public var entries: String { from == through ? "entry \(from)" : "entries \(from)...\(through)" }
}
