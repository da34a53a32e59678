/// The one error type `ota` reports: a stable dotted code that scripts and records depend on, a
/// message for people that names the file and field, and the underlying cause where there is one.
///
/// Two errors are equal when their codes are equal; messages may be reworded, codes may not.
public struct OTAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; it decides the command-line exit code.
    public enum Kind: String, Sendable, Codable {
        /// The command line or an input file is malformed (exit 1).
        case usage
        /// Reading or writing a file failed (exit 1).
        case io
        /// Verification or policy said no (exit 2).
        case rejected
    }

    /// Stable dotted code, e.g. `signature.threshold` or `key.passphrase`.
    public let code: String
    public let kind: Kind
    /// Human message; names the file and field where one is involved.
    public let message: String
    /// Lower-level detail: the drained OpenSSL error queue, the libarchive message, errno text.
    public let cause: String?

    public init(_ code: String, kind: Kind, _ message: String, cause: String? = nil) {
        self.code = code
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public static func usage(_ code: String, _ message: String, cause: String? = nil) -> OTAError {
        OTAError(code, kind: .usage, message, cause: cause)
    }

    public static func io(_ code: String, _ message: String, cause: String? = nil) -> OTAError {
        OTAError(code, kind: .io, message, cause: cause)
    }

    public static func rejected(_ code: String, _ message: String, cause: String? = nil) -> OTAError {
        OTAError(code, kind: .rejected, message, cause: cause)
    }

    /// The process exit status for this error: 1 for usage and I/O, 2 for a rejection.
    public var exitStatus: Int32 { kind == .rejected ? 2 : 1 }

    public var description: String {
        if let cause, !cause.isEmpty { return "\(message) [\(code)] (\(cause))" }
        return "\(message) [\(code)]"
    }

    public static func == (lhs: OTAError, rhs: OTAError) -> Bool { lhs.code == rhs.code }

    /// The same error with more context in front of the message (e.g. the file being read).
    public func prefixed(_ context: String) -> OTAError {
        OTAError(code, kind: kind, "\(context): \(message)", cause: cause)
    }
}
