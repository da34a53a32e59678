import Foundation
import OTACore
import OTARecorder
import Synchronization

/// Every refused upload and every refused client certificate, one JSON line each, in
/// `refused-uploads.jsonl` of the service's state directory: time, the VIN asked for (when the
/// request names one), the client's subject (for a refused certificate: what it claims, not
/// verified) and, for a verified vehicle certificate, the VIN it names, error code, message, the underlying cause if any, and for a refused certificate
/// where it was refused (`at`: `tls-front`, nginx; `service`, the service's own check) and the
/// request's path. A gap, fork or rewritten history is refused, and the refusal itself is kept.
///
/// Lines are written and synced under a `RefusalBudget`: a flood of refused clients cannot turn
/// into a flood of writes and syncs. A refusal over the budget is not lost: it is counted, and
/// the next line written is preceded by a summary line, `{"time", "suppressed": N, "since",
/// "codes": {CODE: N}}`, for everything suppressed since the last line.
final class RefusalLog: Sendable {
    /// What became of one refusal.
    enum Outcome: Equatable {
        case written
        /// Over the budget: counted in the next summary line.
        case suppressed
        /// The file could not be opened or written (the service's metrics count it).
        case failed
    }

    struct Suppressed {
        var count = 0
        var since = ""
        var codes: [String: Int] = [:]
    }

    struct State {
        var budget: RefusalBudget
        var suppressed = Suppressed()
    }

    let path: String
    private let state: Mutex<State>
    private let now: @Sendable () -> Date

    init(path: String, budget: RefusalBudget = RefusalBudget(), now: @escaping @Sendable () -> Date = Date.init) {
        self.path = path
        self.now = now
        state = Mutex(State(budget: budget))
    }

    @discardableResult
    func record(
        _ error: OTAError, vin: String?, subject: String, clientVIN: String? = nil, at place: String? = nil,
        requestPath: String? = nil
    ) -> Outcome {
        let time = now()
        let stamp = RecordTime.format(time)
        var out = JSONObjectWriter()
        out.set("time", stamp)
        if let vin { out.set("vin", vin) }
        out.set("client", subject)
        // The VIN the verified certificate names: the path's is the client's word only.
        if let clientVIN { out.set("clientVIN", clientVIN) }
        out.set("code", error.code.rawValue)
        out.set("message", String(error.message.prefix(2048)))
        // The underlying check's code (a revoked signer: certificate.revoked), when there is one.
        if let cause = error.cause, !cause.isEmpty { out.set("cause", String(cause.prefix(256))) }
        if let place { out.set("at", place) }
        if let requestPath { out.set("path", String(requestPath.prefix(512))) }
        let line = out.value.bytes + [0x0a]
        return state.withLock { state in
            guard state.budget.take(at: time.timeIntervalSinceReferenceDate) else {
                if state.suppressed.count == 0 { state.suppressed.since = stamp }
                state.suppressed.count += 1
                state.suppressed.codes[error.code.rawValue, default: 0] += 1
                return .suppressed
            }
            var bytes: [UInt8] = []
            if state.suppressed.count > 0 { bytes = Self.summary(state.suppressed, time: stamp) }
            guard append(bytes + line) else { return .failed }
            state.suppressed = Suppressed()
            return .written
        }
    }

    /// The summary line of the refusals suppressed since the last line written.
    static func summary(_ suppressed: Suppressed, time: String) -> [UInt8] {
        var out = JSONObjectWriter()
        out.set("time", time)
        out.set("suppressed", Int64(suppressed.count))
        out.set("since", suppressed.since)
        out.set("codes", json: .object(suppressed.codes.mapValues { .integer(Int64($0)) }))
        return out.value.bytes + [0x0a]
    }

    /// Appends and syncs; false when the file cannot be opened or fully written.
    private func append(_ bytes: [UInt8]) -> Bool {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        defer { SystemCall.close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        return written == bytes.count && fsync(descriptor) == 0
    }

    /// The refusals recorded so far, read whole (for tests).
    func entries() -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }
}
