/// What a change of the vehicle's trust store did (issue 12: trust updates over the air): where
/// it came from, its kind and versions, the anchors added or retired and the CRLs applied.
public struct TrustFacts: Sendable, Equatable {
    /// How a trust change a power loss interrupted was settled on open.
    public enum Recovery: String, Sendable, CaseIterable {
        case finished, undone
    }

    /// Where the material came from (the agent's refresh, a bundle, a workshop tool).
    public var source: String?
    /// `update` (a signed trust update) or `crls` (revocation lists on their own).
    public var kind: String?
    public var fromVersion: UInt64?
    public var toVersion: UInt64?
    /// `role: subject (sha256 fingerprint)`.
    public var anchorsAdded: [String]
    public var anchorsRetired: [String]
    /// `role: issuer (number)`.
    public var crlsApplied: [String]
    /// CRLs not newer than the ones held (nothing to do).
    public var crlsNotNewer: [String]
    /// Whether the store changed.
    public var changed: Bool?
    public var recovery: Recovery?

    public init(
        source: String? = nil, kind: String? = nil, fromVersion: UInt64? = nil, toVersion: UInt64? = nil,
        anchorsAdded: [String] = [],
        anchorsRetired: [String] = [], crlsApplied: [String] = [], crlsNotNewer: [String] = [], changed: Bool? = nil,
        recovery: Recovery? = nil
    ) {
        self.source = source
        self.kind = kind
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.anchorsAdded = anchorsAdded
        self.anchorsRetired = anchorsRetired
        self.crlsApplied = crlsApplied
        self.crlsNotNewer = crlsNotNewer
        self.changed = changed
        self.recovery = recovery
    }
}
