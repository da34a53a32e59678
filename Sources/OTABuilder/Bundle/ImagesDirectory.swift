import OTACore

/// The `--images` directory: every image a manifest names must resolve inside it, so a symbolic
/// link cannot turn a file elsewhere (a private key, a configuration) into a signed image.
enum ImagesDirectory {
    /// The real path of `file` under `directory`, or `image.outside-directory` when it resolves
    /// (through `..` or a symbolic link) outside the directory.
    static func resolve(_ file: String, in directory: String) throws(OTAError) -> String {
        guard let root = FileSystem.realPath(directory) else {
            throw OTAError(.ioNotFound, "\(directory): the images directory does not exist")
        }
        let candidate = "\(directory)/\(file)"
        guard let resolved = FileSystem.realPath(candidate) else {
            throw OTAError(.ioNotFound, "\(candidate): no such image")
        }
        guard resolved.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw OTAError(
                .imageOutsideDirectory, "\(candidate) resolves to \(resolved), outside the images directory \(root)")
        }
        return resolved
    }
}
