public import Foundation

/// Where the recorder gets the time: injectable so tests and simulations control it.
public protocol RecorderClock: Sendable {
    /// The current time and the name of its source (`gnss`, `ntp`, `rtc`, `test`).
    func now() -> (date: Date, source: String)
}

/// The system clock, reported as the source the caller names (a vehicle says `gnss` or `rtc`).
public struct SystemClock: RecorderClock {
    public let source: String
    public init(source: String = "rtc") { self.source = source }
    public func now() -> (date: Date, source: String) { (Date(), source) }
}

/// A clock that says what it is told; for tests and simulations.
public final class ManualClock: RecorderClock, @unchecked Sendable {
    // A lock guards `current`, so sharing between threads is safe.
    private let lock = NSLock()
    private var current: Date

    public init(_ date: Date) { current = date }

    public func set(_ date: Date) { lock.withLock { current = date } }
    public func advance(seconds: Double) { lock.withLock { current = current.addingTimeInterval(seconds) } }
    public func now() -> (date: Date, source: String) { lock.withLock { (current, "test") } }
}
