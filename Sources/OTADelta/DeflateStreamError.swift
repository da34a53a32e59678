/// Why a deflate stream could not be puffed, or a puffed stream could not be huffed.
///
/// `message` names what was wrong and where (block number, and a byte offset in the deflate
/// stream or in the puffed part being read), so a failure in a multi-megabyte update can be traced.
package struct DeflateStreamError: Error, Equatable, Sendable {
    package enum Kind: Equatable, Sendable {
        /// The input ended before the structure it was describing did.
        case truncated
        /// A value is out of range or inconsistent with the deflate format.
        case invalid
        /// The stream is valid deflate, but the puffed representation could not reproduce its exact bits.
        case notReproducible
        /// The decompressed data would exceed the caller's limit.
        case tooLarge
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func truncated(_ message: String) -> Self { Self(.truncated, message) }
    static func invalid(_ message: String) -> Self { Self(.invalid, message) }

    /// The same error with `context` (such as "block 3") in front of its message.
    func within(_ context: String) -> Self {
        Self(kind, "\(context): \(message)")
    }
}
