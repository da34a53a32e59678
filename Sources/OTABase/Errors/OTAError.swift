/// The one error type `ota` reports: a stable dotted code that scripts and records depend on, a
/// message for people that names the file and field, and the underlying cause where there is one.
///
/// Two errors are equal when their codes are equal; messages may be reworded, codes may not.
/// Every code is registered once in `OTAError.Code` (see `ErrorCodes.swift`, and
/// `docs/ERRORS.md`, generated from it); the code decides the error's kind, and the command line
/// turns the kind into an exit status.
public struct OTAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure a code names; the command line maps it to an exit status.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The command line or an input file is malformed (exit 1).
        case usage
        /// Reading or writing a file, a device or the network failed (exit 1).
        case io
        /// Verification or policy said no (exit 2).
        case rejected
    }

    /// Stable dotted code, e.g. `signature.threshold` or `key.passphrase`.
    public let code: Code
    /// Human message; names the file and field where one is involved.
    public let message: String
    /// Lower-level detail: the drained OpenSSL error queue, the libarchive message, errno text.
    public let cause: String?
    /// Further reasons for the same refusal, after this deciding one (each failing signature
    /// beside the threshold, every broken manifest rule); see `Verdict`.
    public let related: [OTAError]

    public init(_ code: Code, _ message: String, cause: String? = nil, related: [OTAError] = []) {
        self.code = code
        self.message = message
        self.cause = cause
        self.related = related
    }

    /// This error and its related reasons, in order.
    public var reasons: [OTAError] { [OTAError(code, message, cause: cause)] + related }

    /// The kind of the code.
    public var kind: Kind { code.kind }

    public var description: String {
        if let cause, !cause.isEmpty { return "\(message) [\(code)] (\(cause))" }
        return "\(message) [\(code)]"
    }

    public static func == (lhs: OTAError, rhs: OTAError) -> Bool { lhs.code == rhs.code }

    /// The same error with more context in front of the message (e.g. the file being read).
    public func prefixed(_ context: String) -> OTAError {
        OTAError(code, "\(context): \(message)", cause: cause, related: related)
    }
}
