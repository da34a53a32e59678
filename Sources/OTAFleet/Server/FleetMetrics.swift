import Foundation
import Synchronization

/// The service's counters and latency histograms, rendered in the Prometheus text format
/// (version 0.0.4) at `/metrics`.
public final class FleetMetrics: Sendable {
    /// Latency bucket bounds, seconds.
    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    struct Histogram {
        var buckets = [UInt64](repeating: 0, count: FleetMetrics.bounds.count)
        var count: UInt64 = 0
        var sum: Double = 0

        mutating func observe(_ seconds: Double) {
            for (index, bound) in FleetMetrics.bounds.enumerated() where seconds <= bound { buckets[index] += 1 }
            count += 1
            sum += seconds
        }
    }

    struct State {
        var counters: [String: [String: UInt64]] = [:]
        var histograms: [String: Histogram] = [:]
    }

    private let state = Mutex(State())
    private static let help: [String: (type: String, text: String)] = [
        "ota_fleet_uploads_total": ("counter", "Record-log uploads by result (accepted, refused)."),
        "ota_fleet_upload_refusals_total": ("counter", "Refused uploads by error code."),
        "ota_fleet_client_refusals_total": (
            "counter", "Refused client certificates by where (tls-front, service) and reason."
        ),
        "ota_fleet_refusal_lines_unwritten_total": (
            "counter",
            "Refusals not written as a line of their own, by reason: budget (counted in the next summary line), io."
        ),
        "ota_fleet_entries_ingested_total": ("counter", "Log entries newly stored."),
        "ota_fleet_entries_already_stored_total": (
            "counter", "Uploaded entries the store already held (repeated or resumed uploads)."
        ),
        "ota_fleet_verifications_total": (
            "counter", "Uploaded logs verified (chain and checkpoint signatures) by result."
        ),
        "ota_fleet_http_requests_total": ("counter", "HTTP requests by route and status."),
        "ota_fleet_upload_seconds": (
            "histogram", "Time to handle an upload, from the whole body received to the acknowledgement signed."
        ),
        "ota_fleet_ingest_seconds": (
            "histogram", "Time to verify an uploaded log and store its new entries (one transaction)."
        ),
        "ota_fleet_query_seconds": ("histogram", "Time to answer a compliance query or export."),
    ]

    public init() {}

    public func count(_ name: String, _ label: String = "", by amount: UInt64 = 1) {
        state.withLock { $0.counters[name, default: [:]][label, default: 0] += amount }
    }

    public func observe(_ name: String, seconds: Double) {
        state.withLock { $0.histograms[name, default: Histogram()].observe(seconds) }
    }

    /// Runs `body`, recording its duration under `name` whether it throws or not.
    public func time<T, Failure: Error>(_ name: String, _ body: () throws(Failure) -> T) throws(Failure) -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { observe(name, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        return try body()
    }

    public func value(_ name: String, _ label: String = "") -> UInt64 {
        state.withLock { $0.counters[name]?[label] ?? 0 }
    }

    /// The Prometheus exposition text.
    public func render() -> String {
        let snapshot = state.withLock { $0 }
        var out = ""
        for name in Self.help.keys.sorted() {
            let (type, text) = Self.help[name]!
            out += "# HELP \(name) \(text)\n# TYPE \(name) \(type)\n"
            if type == "counter" {
                for (label, value) in (snapshot.counters[name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    out += "\(name)\(label.isEmpty ? "" : "{\(label)}") \(value)\n"
                }
            } else {
                let histogram = snapshot.histograms[name] ?? Histogram()
                for (index, bound) in Self.bounds.enumerated() {
                    out += "\(name)_bucket{le=\"\(bound)\"} \(histogram.buckets[index])\n"
                }
                out +=
                    "\(name)_bucket{le=\"+Inf\"} \(histogram.count)\n\(name)_sum \(histogram.sum)\n\(name)_count \(histogram.count)\n"
            }
        }
        return out
    }

    /// A label set with one label, its value escaped for the exposition format.
    public static func label(_ name: String, _ value: String) -> String {
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\(name)=\"\(escaped)\""
    }
}
