package import OTACore

/// Boot control kept as a JSON file replaced atomically (fsync, rename, directory fsync): the
/// simulation's bootloader storage.
package final class FileBootControl: BootControl {
    public let path: String

    public init(path: String) { self.path = path }

    public var description: String { "file \(path)" }

    public func load() throws(OTAError) -> BootState {
        try CanonicalJSON.decodeInput(
            BootState.self, from: try FileSystem.read(path, limit: 1 << 20), as: .bootStateMalformed)
    }

    public func store(_ state: BootState) throws(OTAError) {
        try AtomicFileWriter.write(try CanonicalJSON.encode(state), to: path, mode: 0o600)
    }
}
