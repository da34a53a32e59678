import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `ota-fleet` in place of `ota` (execv): found in the directory of the running executable
/// (`/proc/self/exe`, so a symlinked `ota` still finds its own installation) or else on PATH.
enum FleetLauncher {
    static let executableName = "ota-fleet"

    /// Replaces this process with `ota-fleet arguments...`; returns only by throwing.
    static func exec(_ arguments: [String]) throws(OTAError) -> Never {
        let beside = ownDirectory()
        let candidates = candidatePaths(beside: beside)
        guard let path = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw OTAError(
                .fleetNotInstalled,
                "ota fleet: the fleet service executable \(executableName) is neither in \(beside ?? "ota's directory") "
                    + "nor in a PATH directory",
                cause: "install it beside ota (make install), or build it: swift build --product \(executableName)")
        }
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        fflush(nil)
        execv(path, argv)
        let error = errno
        for pointer in argv { free(pointer) }
        throw OTAError(.ioFailed, "ota fleet: cannot run \(path)", cause: SystemCall.errnoText(error))
    }

    /// `ota-fleet` beside the running executable first, then in each PATH directory.
    static func candidatePaths(beside: String?) -> [String] {
        var paths = beside.map { [$0 + "/" + executableName] } ?? []
        if let search = getenv("PATH") {
            for directory in String(cString: search).split(separator: ":") where directory.hasPrefix("/") {
                let path = directory + "/" + executableName
                if !paths.contains(path) { paths.append(path) }
            }
        }
        return paths
    }

    /// The directory of the running executable (`/proc/self/exe`, symlinks resolved).
    private static func ownDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
