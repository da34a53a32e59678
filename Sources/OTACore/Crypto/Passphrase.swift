internal import Foundation
public import OTABase

/// Where the passphrase of an encrypted private key comes from: a file or an environment
/// variable, never a command-line argument (which other users can read in the process list).
public enum PassphraseSource: Sendable, Equatable {
    case file(String)
    case environment(String)

    /// Reads the passphrase bytes, as they are (not decoded as text); a trailing newline in a
    /// file is not part of it.
    public func read() throws(OTAError) -> [UInt8] {
        switch self {
        case .file(let path):
            var bytes = try FileSystem.read(path, limit: 4096)
            while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
            guard !bytes.isEmpty else { throw OTAError(.keyPassphraseEmpty, "\(path): passphrase file is empty") }
            return bytes
        case .environment(let name):
            // The value's bytes as the environment holds them: decoded as text, bytes that are
            // not UTF-8 were repaired into another passphrase.
            guard let value = getenv(name), value.pointee != 0 else {
                throw OTAError(.keyPassphraseMissing, "environment variable \(name) is not set or empty")
            }
            return Array(UnsafeRawBufferPointer(start: value, count: strlen(value)))
        }
    }
}
