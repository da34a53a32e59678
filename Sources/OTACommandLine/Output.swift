import Foundation
package import OTACore

/// Prints command results: a human text on stdout, or with `--json` one JSON object
/// `{"ok": true, "result": {...}}` / `{"ok": false, "error": {"code", "kind", "message", "cause"}}`.
package enum Output {
    package static func succeed(_ result: some Encodable, human: String, json: Bool) {
        if json {
            print(encode(SuccessEnvelope(result: result)))
        } else if !human.isEmpty {
            print(human)
        }
    }

    package static func fail(_ error: OTAError, json: Bool) {
        if json {
            print(encode(FailureEnvelope(error)))
        }
        var text = "ota: error: \(error.message) [\(error.code)]\n"
        if let cause = error.cause, !cause.isEmpty { text += "  cause: \(cause)\n" }
        for other in error.related { text += "  also: \(other.message) [\(other.code)]\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// A warning on standard error, `ota: warning: TEXT [code]`, for a command that succeeds with
    /// something left to do.
    package static func warn(_ error: OTAError) {
        FileHandle.standardError.write(Data("ota: warning: \(error.message) [\(error.code)]\n".utf8))
    }

    /// The exit status for a failure of this kind: 1 for usage and I/O, 2 for a rejection.
    package static func exitStatus(for kind: OTAError.Kind) -> Int32 {
        switch kind {
        case .usage, .io: 1
        case .rejected: 2
        }
    }

    package static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return "{\"ok\":false}" }
        return String(decoding: data, as: UTF8.self)
    }
}
