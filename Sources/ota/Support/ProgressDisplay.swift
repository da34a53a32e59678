import ArgumentParser
import Foundation
import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// How a long command shows its progress (`--progress`).
enum ProgressStyle: String, ExpressibleByArgument, CaseIterable {
    /// A bar on standard error when it is a terminal and `--json` is off; otherwise nothing.
    case auto
    /// Always the bar (standard error).
    case bar
    /// One JSON object per line on standard error: `{"step","done","total","bytesPerSecond","etaSeconds"}`
    /// (`entriesPerSecond` and `"unit":"entries"` when entries are counted), for agents and head
    /// units; standard output keeps the command's result.
    case json
    case none
}

/// `--progress` for commands that run long (build, deep verify, delta, install, records verify/ingest/export).
struct ProgressOptions: ParsableArguments {
    @Option(
        help:
            "Progress on standard error: auto (a bar on a terminal, unless --json), bar, json (one object per line), none."
    )
    var progress: ProgressStyle = .auto

    func display(json: Bool) -> ProgressDisplay { ProgressDisplay(style: progress, json: json) }
}

/// Draws progress on standard error: a bar with bytes, rate and time left, or JSON lines. At most
/// ten updates a second; nothing at all when piped (in `auto`) or with `none`. Updates may come
/// from any thread (the transport reports from its own): `@unchecked Sendable`, guarded by a lock.
final class ProgressDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private enum Mode { case none, bar, json }
    private let mode: Mode
    private let started = ContinuousClock.now
    private var lastShown = ContinuousClock.now - .seconds(1)
    private var drewBar = false

    init(style: ProgressStyle, json: Bool) {
        switch style {
        case .auto: mode = (!json && isatty(2) == 1) ? .bar : .none
        case .bar: mode = .bar
        case .json: mode = .json
        case .none: mode = .none
        }
    }

    /// True when nothing will ever be drawn.
    var isSilent: Bool { mode == .none }

    /// Bytes done of a total.
    func update(_ progress: WorkProgress) {
        guard mode != .none else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        let finished = progress.total.map { progress.done >= $0 } ?? false
        guard finished || now - lastShown >= .milliseconds(100) else { return }
        lastShown = now
        let elapsed = Self.seconds(now - started)
        let rate = elapsed > 0 ? Double(progress.done) / elapsed : 0
        let eta: Double? = progress.total.flatMap { total in
            rate > 0 && total >= progress.done ? Double(total - progress.done) / rate : nil
        }
        switch mode {
        case .json:
            let entries = progress.unit == .entries
            let line = ProgressLine(
                step: progress.step, done: progress.done, total: progress.total, unit: entries ? "entries" : nil,
                bytesPerSecond: entries ? nil : UInt64(rate), entriesPerSecond: entries ? UInt64(rate) : nil,
                etaSeconds: eta.map { ($0 * 10).rounded() / 10 })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(line) { FileHandle.standardError.write(data + Data("\n".utf8)) }
        case .bar:
            FileHandle.standardError.write(Data(("\r\u{1b}[K" + Self.bar(progress, rate: rate, eta: eta)).utf8))
            drewBar = true
        case .none:
            break
        }
    }

    /// A fraction of a phase that works through `total` bytes (delta create: the new image; delta
    /// apply: the patch), shown as bytes so the rate and time left are real.
    func update(phase: String, fraction: Double, of total: UInt64) {
        let clamped = min(max(fraction, 0), 1)
        update(WorkProgress(step: phase, done: UInt64((clamped * Double(total)).rounded()), total: total))
    }

    /// Removes the bar before the result is printed.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard mode == .bar, drewBar else { return }
        FileHandle.standardError.write(Data("\r\u{1b}[K".utf8))
    }

    private struct ProgressLine: Encodable {
        let step: String
        let done: UInt64
        let total: UInt64?
        let unit: String?
        let bytesPerSecond: UInt64?
        let entriesPerSecond: UInt64?
        let etaSeconds: Double?
    }

    static func bar(_ progress: WorkProgress, rate: Double, eta: Double?) -> String {
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

    /// A byte count as the bar shows it (`LeanProgress`'s, so `ota-diff`'s bar reads the same).
    static func bytes(_ count: UInt64) -> String { LeanProgress.bytes(count) }

    static func clock(_ seconds: Double) -> String { LeanProgress.clock(seconds) }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
