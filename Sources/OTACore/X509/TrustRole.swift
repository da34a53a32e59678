internal import OTABase

/// The roles of the trust model, each with its own anchors, so a key trusted for one job cannot
/// do another (a release engineer cannot approve their own automated-driving change).
public enum TrustRole: String, Sendable, Codable, CaseIterable {
    /// Signs bundles; leaf certificates need the codeSigning extended key usage.
    case release
    /// The authority that approves automated-driving changes (compliance or the regulator).
    case approval
    /// Signs the repository index (freshness).
    case repository
    /// Vehicle device certificates (record checkpoints, key-wrap recipients).
    case vehicle
    /// Signs compliance exports.
    case compliance

    /// Whether the leaf must carry extendedKeyUsage codeSigning.
    public var requiresCodeSigning: Bool { self == .release }
}
