/// A token bucket for refusal lines: up to `burst` lines at once, refilled at `perSecond`.
/// The defaults keep a flood of refused clients to 20 synced lines a second after a burst of
/// 200, which no honest fleet comes near: a vehicle refused retries on its upload schedule.
struct RefusalBudget: Sendable {
    let burst: Double
    let perSecond: Double
    private var tokens: Double
    private var last: Double?

    init(burst: Int = 200, perSecond: Double = 20) {
        self.burst = Double(burst)
        self.perSecond = perSecond
        tokens = Double(burst)
    }

    /// Spends one line at time `now` (seconds, any fixed origin); false when none is left.
    mutating func take(at now: Double) -> Bool {
        if let last, now > last { tokens = min(burst, tokens + (now - last) * perSecond) }
        last = max(last ?? now, now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
