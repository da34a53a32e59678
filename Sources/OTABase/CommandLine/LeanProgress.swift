internal import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `--progress` for the executables without Foundation (`ota-diff`): the bar or JSON lines of
/// `ota`'s ProgressDisplay on standard error, byte for byte (the same texts, `printf` number
/// formats and JSON encoding), at most ten updates a second. Byte counts only.
package final class LeanProgress: Sendable {
    /// `--progress`: auto (a bar when standard error is a terminal and `--json` is off), bar, json, none.
    package enum Style: String, CaseIterable, Sendable {
        case auto, bar, json, none
    }

    private enum Mode { case none, bar, json }
    private let mode: Mode
    private let started = ContinuousClock.now
    /// When the last update was drawn, and whether a bar was.
    private let shown: Mutex<(last: ContinuousClock.Instant, drewBar: Bool)>

    package init(style: Style, json: Bool) {
        switch style {
        case .auto: mode = (!json && isatty(2) == 1) ? .bar : .none
        case .bar: mode = .bar
        case .json: mode = .json
        case .none: mode = .none
        }
        shown = Mutex((ContinuousClock.now - .seconds(1), false))
    }

    /// True when nothing will ever be drawn.
    package var isSilent: Bool { mode == .none }

    /// `done` bytes of `total` in `step`.
    package func update(step: String, done: UInt64, total: UInt64?) {
        guard mode != .none else { return }
        shown.withLock { shown in
            let now = ContinuousClock.now
            let finished = total.map { done >= $0 } ?? false
            guard finished || now - shown.last >= .milliseconds(100) else { return }
            shown.last = now
            let elapsed = Self.seconds(now - started)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let eta: Double? = total.flatMap { total in rate > 0 && total >= done ? Double(total - done) / rate : nil }
            switch mode {
            case .json:
                let line = Line(
                    step: step, done: done, total: total, bytesPerSecond: UInt64(rate),
                    etaSeconds: eta.map { ($0 * 10).rounded() / 10 })
                if let text = LeanJSON.encode(line, pretty: false) { Self.writeError(text + "\n") }
            case .bar:
                Self.writeError("\r\u{1b}[K" + Self.bar(step: step, done: done, total: total, rate: rate, eta: eta))
                shown.drewBar = true
            case .none:
                break
            }
        }
    }

    /// A fraction of a phase that works through `total` bytes, shown as bytes.
    package func update(phase: String, fraction: Double, of total: UInt64) {
        let clamped = min(max(fraction, 0), 1)
        update(step: phase, done: UInt64((clamped * Double(total)).rounded()), total: total)
    }

    /// Removes the bar before the result is printed.
    package func finish() {
        shown.withLock { shown in
            if mode == .bar && shown.drewBar { Self.writeError("\r\u{1b}[K") }
        }
    }

    private struct Line: Encodable {
        let step: String
        let done: UInt64
        let total: UInt64?
        let bytesPerSecond: UInt64
        let etaSeconds: Double?
    }

    package static func bar(step: String, done: UInt64, total: UInt64?, rate: Double, eta: Double?) -> String {
        let width = 24
        guard let total, total > 0 else { return "\(step) \(bytes(done)) \(bytes(UInt64(rate)))/s" }
        let fraction = min(1, Double(done) / Double(total))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar =
            String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        let percent = Int((fraction * 100).rounded(.down))
        var text = "\(step) [\(bar)] \(percent)% \(bytes(done))/\(bytes(total)) \(bytes(UInt64(rate)))/s"
        if let eta, done < total { text += " ETA \(clock(eta))" }
        return text
    }

    package static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : LeanCommandLine.format("%.1f", value) + " " + units[unit]
    }

    package static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600
            ? LeanCommandLine.format("%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60)
            : LeanCommandLine.format("%ld:%02ld", total / 60, total % 60)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
