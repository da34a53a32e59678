import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs an executable installed with `ota` in place of `ota` (execv: same process, exit status
/// and signals): found in the directory of the running executable (`/proc/self/exe`, so a
/// symlinked `ota` still finds its own installation) or else on PATH. `ota fleet` runs
/// `ota-fleet` (the server stack), `ota delta create` runs `ota-diff` (no Foundation, so a
/// diff's peak memory is the encoder's).
enum SiblingLauncher {
    /// Replaces this process with `name arguments...` (`argv[0]` is `name`, or `argv0` when
    /// given); returns only by throwing. `notFound` makes the error when neither place has it,
    /// given where `ota` is.
    static func exec(
        _ name: String, _ arguments: [String], argv0: String? = nil, what: String,
        notFound: (_ beside: String) -> OTAError
    ) throws(OTAError) -> Never {
        let beside = ownDirectory()
        let candidates = candidatePaths(name, beside: beside)
        guard let path = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw notFound(beside ?? "ota's directory")
        }
        var argv: [UnsafeMutablePointer<CChar>?] = ([argv0 ?? path] + arguments).map { strdup($0) }
        argv.append(nil)
        fflush(nil)
        execv(path, argv)
        let error = errno
        for pointer in argv { free(pointer) }
        throw OTAError(.ioFailed, "\(what): cannot run \(path)", cause: SystemCall.errnoText(error))
    }

    /// `name` beside the running executable first, then in each PATH directory.
    static func candidatePaths(_ name: String, beside: String?) -> [String] {
        var paths = beside.map { [$0 + "/" + name] } ?? []
        if let search = getenv("PATH") {
            for directory in String(cString: search).split(separator: ":") where directory.hasPrefix("/") {
                let path = directory + "/" + name
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

/// An executable `ota` runs in its place for one of its commands.
struct SiblingExecutable {
    let name: String
    /// The `ota` command it serves (errors name it).
    let command: String
    /// What it is, for the error when it is missing.
    let role: String
    let missingCode: OTAError.Code
    /// Its `argv[0]`: "ota", so its own errors read as `ota`'s (nil: its path).
    let argv0: String?

    /// `ota fleet`: the server stack lives in `ota-fleet`, so the vehicle-side binary links none.
    static let fleet = SiblingExecutable(
        name: "ota-fleet", command: "ota fleet", role: "the fleet service executable", missingCode: .fleetNotInstalled,
        argv0: nil)
    /// `ota delta create`: the diff's memory is then the encoder's, without Foundation and the rest
    /// of `ota` loaded (about 28 MiB).
    static let diff = SiblingExecutable(
        name: "ota-diff", command: "ota delta create", role: "the patch maker", missingCode: .deltaDiffNotInstalled,
        argv0: "ota")

    /// Replaces this process with `name arguments...`; returns only by throwing.
    func exec(_ arguments: [String]) throws(OTAError) -> Never {
        try SiblingLauncher.exec(name, arguments, argv0: argv0, what: command) { beside in
            OTAError(
                missingCode, "\(command): \(role) \(name) is neither in \(beside) nor in a PATH directory",
                cause: "install it beside ota (make install), or build it: swift build --product \(name)")
        }
    }
}
