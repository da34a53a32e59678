internal import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Progress on standard error for every executable (`--progress`): a bar with the amount done,
/// the rate and the time left, or one JSON object per line
/// (`{"step","done","total","bytesPerSecond","etaSeconds"}`, or `"unit":"entries"` and
/// `entriesPerSecond` when entries are counted). At most ten updates a second; nothing in `none`,
/// or in `auto` when standard error is not a terminal or `--json` is on. Foundation-free, so the
/// lean executables (`ota-diff`) draw exactly what `ota` draws. Updates may come from any thread.
package final class ProgressDisplay: Sendable {
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

    /// `done` of `total` in `step`.
    package func update(_ progress: WorkProgress) {
        guard mode != .none else { return }
        shown.withLock { shown in
            let now = ContinuousClock.now
            let finished = progress.total.map { progress.done >= $0 } ?? false
            guard finished || now - shown.last >= .milliseconds(100) else { return }
            shown.last = now
            let elapsed = Self.seconds(now - started)
            let rate = elapsed > 0 ? Double(progress.done) / elapsed : 0
            let eta: Double? = progress.total.flatMap { total in
                rate > 0 && total >= progress.done ? Double(total - progress.done) / rate : nil
            }
            switch mode {
            case .json:
                let entries = progress.unit == .entries
                let line = Line(
                    step: progress.step, done: progress.done, total: progress.total, unit: entries ? "entries" : nil,
                    bytesPerSecond: entries ? nil : UInt64(rate), entriesPerSecond: entries ? UInt64(rate) : nil,
                    etaSeconds: eta.map { ($0 * 10).rounded() / 10 })
                if let text = LeanJSON.encode(line, pretty: false) { Self.writeError(text + "\n") }
            case .bar:
                Self.writeError("\r\u{1b}[K" + Self.bar(progress, rate: rate, eta: eta))
                shown.drewBar = true
            case .none:
                break
            }
        }
    }

    /// A fraction of a phase that works through `total` bytes (delta create: the new image; delta
    /// apply: the patch), shown as bytes so the rate and time left are real.
    package func update(phase: String, fraction: Double, of total: UInt64) {
        let clamped = min(max(fraction, 0), 1)
        update(WorkProgress(step: phase, done: UInt64((clamped * Double(total)).rounded()), total: total))
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
        let unit: String?
        let bytesPerSecond: UInt64?
        let entriesPerSecond: UInt64?
        let etaSeconds: Double?
    }

    package static func bar(_ progress: WorkProgress, rate: Double, eta: Double?) -> String {
        let width = 24
        let amount: (UInt64) -> String = progress.unit == .entries ? { "\($0) entries" } : { bytes($0) }
        guard let total = progress.total, total > 0 else {
            return "\(progress.step) \(amount(progress.done)) \(amount(UInt64(rate)))/s"
        }
        let fraction = min(1, Double(progress.done) / Double(total))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar =
            String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        let percent = Int((fraction * 100).rounded(.down))
        var text =
            "\(progress.step) [\(bar)] \(percent)% \(amount(progress.done))/\(amount(total)) \(amount(UInt64(rate)))/s"
        if let eta, progress.done < total { text += " ETA \(clock(eta))" }
        return text
    }

    /// A byte count as the bar shows it: `printf`'s `%.1f` with a binary unit.
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

    /// Seconds as `m:ss` or `h:mm:ss`.
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
