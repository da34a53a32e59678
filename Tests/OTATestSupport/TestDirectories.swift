import Foundation

/// The repository checkout (this file is `Tests/OTATestSupport/TestDirectories.swift`): the
/// committed fixtures (`keys-sample/`, `samples/`, `manifests/`, `docs/`) are found from here.
public enum RepositoryRoot {
    public static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}

/// A fresh directory under the temporary directory, removed with everything in it when the
/// object is released (at the end of the test that made it, passed or failed).
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// `label` names the test area in the directory's name (`ota-LABEL-UUID`), for whoever finds one left behind.
    public init(_ label: String) throws { path = try Self.create(label) }

    /// Creates a fresh `ota-LABEL-UUID` directory and returns its path; the caller removes it
    /// (for a test that holds a path, not an object, across its scope).
    public static func create(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "ota-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Removes a directory made by `create` with everything in it.
    public static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/relative`.
    public func appending(_ relative: String) -> String { path + "/" + relative }

    /// Writes `text` to `path/relative` (making its directories) and returns the file's path.
    @discardableResult
    public func write(_ relative: String, _ text: String) throws -> String {
        let file = appending(relative)
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }
}

/// A file whose name is any bytes, UTF-8 or not (a Swift `String` cannot carry a name that is
/// not), removed when the object is released, so the directory holding it can be removed too.
public final class RawNamedFile: Sendable {
    private let path: [CChar]

    /// Creates `directory/name` holding `contents`.
    public init(in directory: String, name: [UInt8], contents: [UInt8] = []) throws {
        path = (Array(directory.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        guard contents.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == contents.count else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    deinit { unlink(path) }
}
