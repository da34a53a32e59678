public import Foundation

/// Where the recorder gets the time: injectable so tests and simulations control it.
public protocol RecorderClock: Sendable {
    /// The current time with the clock it came from.
    func now() -> RecordTime
}

/// The system clock, reported as the source the caller names (a vehicle says `gnss` or `rtc`).
public struct SystemClock: RecorderClock {
    public let source: ClockSource
    public init(source: ClockSource = .rtc) { self.source = source }
    public func now() -> RecordTime { RecordTime(Date(), source: source) }
}

/// A clock that says what it is told; for tests and simulations.
public final class ManualClock: RecorderClock, @unchecked Sendable {
    // A lock guards `current`, so sharing between threads is safe.
    private let lock = NSLock()
    private var current: Date
    private let source: ClockSource

    public init(_ date: Date, source: ClockSource = .test) {
        current = date
        self.source = source
    }

    public func set(_ date: Date) { lock.withLock { current = date } }
    public func advance(seconds: Double) { lock.withLock { current = current.addingTimeInterval(seconds) } }
    public func now() -> RecordTime { lock.withLock { RecordTime(current, source: source) } }
}
