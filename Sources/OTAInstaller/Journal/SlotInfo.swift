public import OTACore

/// Where a slot's content stands.
public enum SlotStatus: String, Codable, Sendable {
    /// Never written, or erased.
    case empty
    /// Holds a complete image whose hash was checked.
    case valid
    /// Being written (or was, when a crash came): its content is never trusted, whatever its hash.
    case writing
    /// Written by an update that was abandoned or fell back; never trusted.
    case discarded
}

/// What one slot holds.
public struct SlotInfo: Codable, Sendable, Equatable {
    public var status: SlotStatus
    public var version: String?
    public var securityVersion: UInt64?
    public var hash: String?
    public var hashAlgorithm: HashAlgorithm?
    public var size: UInt64?
    public var bundle: String?

    public static let empty = SlotInfo(status: .empty)

    public init(
        status: SlotStatus, version: String? = nil, securityVersion: UInt64? = nil, hash: String? = nil,
        hashAlgorithm: HashAlgorithm? = nil,
        size: UInt64? = nil, bundle: String? = nil
    ) {
        self.status = status
        self.version = version
        self.securityVersion = securityVersion
        self.hash = hash
        self.hashAlgorithm = hashAlgorithm
        self.size = size
        self.bundle = bundle
    }
}
