/// The `--json` envelope of a command's success, `{"ok": true, "result": {...}}`, printed by
/// `ota` (JSONEncoder) and by the executables without Foundation (LeanJSON) alike.
package struct SuccessEnvelope<Result: Encodable>: Encodable {
    package let ok = true
    package let result: Result

    package init(result: Result) { self.result = result }
}

/// The `--json` envelope of a failure: `{"ok": false, "error": {"code", "kind", "message",
/// "cause", "reasons"}}`, `reasons` only when the error has related ones (every reason, the
/// deciding one first).
package struct FailureEnvelope: Encodable {
    package struct Reason: Encodable {
        let code: String
        let message: String
        let cause: String?
    }

    package struct Detail: Encodable {
        let code: String
        let kind: String
        let message: String
        let cause: String?
        let reasons: [Reason]?
    }

    package let ok = false
    package let error: Detail

    package init(_ error: OTAError) {
        self.error = Detail(
            code: error.code.rawValue, kind: error.kind.rawValue, message: error.message, cause: error.cause,
            reasons: error.related.isEmpty
                ? nil : error.reasons.map { Reason(code: $0.code.rawValue, message: $0.message, cause: $0.cause) })
    }
}
