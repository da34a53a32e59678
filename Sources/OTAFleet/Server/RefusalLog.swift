import Foundation
import OTACore
import OTARecorder
import Synchronization

/// Every refused upload and every refused client certificate, one JSON line each, in
/// `refused-uploads.jsonl` of the service's state directory: time, the VIN asked for (when the
/// request names one), the client's subject (for a refused certificate: what it claims, not
/// verified), error code, message, the underlying cause if any, and for a refused certificate
/// where it was refused (`at`: `tls-front`, nginx; `service`, the service's own check) and the
/// request's path. A gap, fork or rewritten history is refused, and the refusal itself is kept.
final class RefusalLog: Sendable {
    let path: String
    private let lock = Mutex(())

    init(path: String) { self.path = path }

    func record(_ error: OTAError, vin: String?, subject: String, at place: String? = nil, requestPath: String? = nil) {
        var out = JSONObjectWriter()
        out.set("time", RecordTime.format(Date()))
        if let vin { out.set("vin", vin) }
        out.set("client", subject)
        out.set("code", error.code.rawValue)
        out.set("message", String(error.message.prefix(2048)))
        // The underlying check's code (a revoked signer: certificate.revoked), when there is one.
        if let cause = error.cause, !cause.isEmpty { out.set("cause", String(cause.prefix(256))) }
        if let place { out.set("at", place) }
        if let requestPath { out.set("path", String(requestPath.prefix(512))) }
        let line = out.value.bytes + [0x0a]
        lock.withLock { _ in
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { return }
            defer { SystemCall.close(descriptor) }
            _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            _ = fsync(descriptor)
        }
    }

    /// The refusals recorded so far (for tests and the page).
    func entries() -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }
}
