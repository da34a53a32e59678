/// How the vehicle talks to the repository: mutual TLS (device certificate and key, pinned
/// server CA), retries, stall detection, bandwidth cap.
public struct TransportOptions: Sendable {
    /// The vehicle's device certificate (PEM) presented to the server (`vehicle` role).
    public var clientCertificate: String?
    /// Its private key (PEM).
    public var clientKey: String?
    /// The only CA the server's certificate may chain to (PEM); the system store is never used.
    public var pinnedCA: String?
    /// Allow `http://` (test benches only).
    public var allowPlainHTTP: Bool
    /// Attempts per request after the first, for transient failures (drops, stalls, 5xx).
    public var retries: Int
    /// First back-off delay in seconds; doubles per retry, at most `maximumBackoff`.
    public var backoff: Double
    public var maximumBackoff: Double
    public var connectTimeout: Int
    /// A transfer slower than `stallBytesPerSecond` for `stallSeconds` is cut (slow retrieval).
    public var stallSeconds: Int
    public var stallBytesPerSecond: Int
    /// Bytes per second at most (0: no cap).
    public var bandwidthLimit: Int64

    public init(
        clientCertificate: String? = nil, clientKey: String? = nil, pinnedCA: String? = nil,
        allowPlainHTTP: Bool = false, retries: Int = 5,
        backoff: Double = 0.2, maximumBackoff: Double = 5, connectTimeout: Int = 15, stallSeconds: Int = 30,
        stallBytesPerSecond: Int = 1,
        bandwidthLimit: Int64 = 0
    ) {
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.pinnedCA = pinnedCA
        self.allowPlainHTTP = allowPlainHTTP
        self.retries = retries
        self.backoff = backoff
        self.maximumBackoff = maximumBackoff
        self.connectTimeout = connectTimeout
        self.stallSeconds = stallSeconds
        self.stallBytesPerSecond = stallBytesPerSecond
        self.bandwidthLimit = bandwidthLimit
    }
}
