/// The software an ECU runs, as committed: its security version is the anti-rollback counter.
public struct InstalledSoftware: Codable, Sendable, Equatable {
    public var version: String
    public var securityVersion: UInt64
    public var bundle: String?
    /// Software identification numbers (GB 44496 SWIN, UNECE R156 RXSWIN), when known.
    public var swin: String?
    public var rxswin: String?

    public init(version: String, securityVersion: UInt64, bundle: String?, swin: String? = nil, rxswin: String? = nil) {
        self.version = version
        self.securityVersion = securityVersion
        self.bundle = bundle
        self.swin = swin
        self.rxswin = rxswin
    }
}
