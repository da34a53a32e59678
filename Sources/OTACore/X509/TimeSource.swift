public import Foundation
internal import OTABase

/// Where "now" comes from for certificate and expiry checks; injectable for tests and for
/// vehicles whose real-time clock cannot be trusted.
public protocol TimeSource: Sendable {
    func now() -> Date
}

/// The system clock.
public struct SystemTime: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}

/// A fixed instant (tests, reproducible verification of old material).
public struct FixedTime: TimeSource {
    public let instant: Date
    public init(_ instant: Date) { self.instant = instant }
    public func now() -> Date { instant }
}

/// A clock that never goes backwards: the later of a base clock and the newest signed
/// timestamp seen (`floor`), so winding the system clock back cannot revive an expired
/// certificate or manifest.
public struct MonotonicTime: TimeSource {
    public let base: any TimeSource
    public let floor: Date

    public init(base: any TimeSource = SystemTime(), floor: Date) {
        self.base = base
        self.floor = floor
    }

    public func now() -> Date { max(base.now(), floor) }
}
