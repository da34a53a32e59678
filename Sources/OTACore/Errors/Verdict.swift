public import OTABase

/// The outcome of a verification or a policy decision, as a value: accepted with what was
/// verified, or rejected with every reason found (the first is the one that decided). Only
/// environmental failures (I/O, misuse) are thrown, so a refusal is never confused with a broken
/// disk, and a caller can record every reason rather than the first error it caught.
///
/// ```swift
/// switch try reader.verify(policy: policy) {
/// case .accepted(let head): use(head.manifest)
/// case .rejected(let reasons): record(reasons)   // e.g. each failing signature and the threshold
/// }
/// ```
public enum Verdict<Accepted: Sendable>: Sendable {
    case accepted(Accepted)
    case rejected([OTAError])

    /// The accepted value, or nil.
    public var value: Accepted? {
        if case .accepted(let value) = self { return value }
        return nil
    }

    /// Every reason for a rejection (empty when accepted).
    public var reasons: [OTAError] {
        if case .rejected(let reasons) = self { return reasons }
        return []
    }

    /// The accepted value, or the deciding reason thrown (the others named in its cause).
    public func get() throws(OTAError) -> Accepted {
        switch self {
        case .accepted(let value): return value
        case .rejected(let reasons): throw OTAError.combining(reasons)
        }
    }

    /// Runs `body`, turning a rejection it throws into `.rejected`; environmental errors (kind
    /// `usage` or `io`) are thrown on.
    public static func evaluating(_ body: () throws(OTAError) -> Accepted) throws(OTAError) -> Verdict {
        do throws(OTAError) {
            return .accepted(try body())
        } catch {
            guard error.kind == .rejected else { throw error }
            return .rejected([error])
        }
    }

    /// The error `body` throws, as a list (empty when it returns): for checks that only reject.
    public static func rejectionOf(_ body: () throws(OTAError) -> Void) -> [OTAError] where Accepted == Void {
        do throws(OTAError) {
            try body()
            return []
        } catch {
            return [error]
        }
    }

    /// The same verdict with `transform` applied to an accepted value.
    public func map<T: Sendable>(_ transform: (Accepted) throws(OTAError) -> T) throws(OTAError) -> Verdict<T> {
        switch self {
        case .accepted(let value): return .accepted(try transform(value))
        case .rejected(let reasons): return .rejected(reasons)
        }
    }
}

extension OTAError {
    /// One error standing for several reasons: the first decides (code, message, cause), the
    /// others travel in `related`.
    public static func combining(_ reasons: [OTAError]) -> OTAError {
        guard let first = reasons.first else { return OTAError(.signatureInvalid, "rejected without a reason") }
        return OTAError(
            first.code, first.message, cause: first.cause,
            related: first.related + reasons.dropFirst().flatMap(\.reasons))
    }
}
