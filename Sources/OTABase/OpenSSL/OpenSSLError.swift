internal import COpenSSL

/// OpenSSL's per-thread error queue, drained into a readable string.
///
/// Discipline: `clear()` before a call, `drain()` right after a failure, with no `await` in
/// between (the queue belongs to the thread).
package enum OpenSSLErrorQueue {
    package static func clear() { ERR_clear_error() }

    /// Empties the queue and returns its messages joined, newest last.
    package static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }

    /// An `OTAError` for a failed OpenSSL call, with the drained queue as its cause.
    package static func error(_ code: OTAError.Code, _ message: String, function: String) -> OTAError {
        let queue = drain()
        return OTAError(code, message, cause: queue.isEmpty ? function : "\(function): \(queue)")
    }
}

/// Throws a crypto error unless `rc == 1` (OpenSSL's success convention).
@inline(__always)
package func ensure(_ rc: Int32, _ function: String, code: OTAError.Code = .cryptoInternal, message: String? = nil)
    throws(OTAError)
{
    guard rc == 1 else {
        throw OpenSSLErrorQueue.error(code, message ?? "OpenSSL call \(function) failed", function: function)
    }
}
