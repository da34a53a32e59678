// ota-tuf-client: the vehicle's TUF client alone, in the command-line shape TUF client
// conformance suites drive (tuf-conformance's CLIENT-CLI.md):
//
//   ota-tuf-client --metadata-dir D init ROOT
//   ota-tuf-client --metadata-url U --metadata-dir D refresh
//   ota-tuf-client --metadata-url U --metadata-dir D --target-name T... --target-dir TD --target-base-url TB download
//
// Options come in any order before the command word. Exit status is exactly 0 on success and 1
// on any failure. D holds only unversioned metadata (root.json, timestamp.json, ...); TD holds
// only finished targets, each under its percent-encoded target name. Time is read through libc.
// Also accepted: `--trusted-root ROOT` for init (instead of the operand), `--days-in-future N`
// (expiry checked N days ahead) and `--max-root-rotations N` (default 32). A crash (a trap or a
// fatal signal) also exits 1. Transport options (optional): --ca FILE --cert FILE --key FILE for
// mutual TLS. Plain http:// is allowed to loopback hosts only (conformance suites serve there);
// anything else needs https.
import OTACore
import OTATUF
import OTATransport

#if canImport(Glibc)
    import Glibc
#endif

func fail(_ message: String) -> Never {
    FileHandleStandardError.write("ota-tuf-client: \(message)\n")
    exit(1)
}

enum FileHandleStandardError {
    static func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

// Exit 1, never a signal status, whatever goes wrong (Swift traps raise SIGILL or SIGTRAP).
for signalNumber in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE] {
    signal(signalNumber) { _ in _exit(1) }
}

var options: [String: [String]] = [:]
var arguments = Array(CommandLine.arguments.dropFirst())
var command: String?
var operands: [String] = []
let known: Set<String> = [
    "--metadata-dir", "--metadata-url", "--target-name", "--target-dir", "--target-base-url", "--ca", "--cert", "--key",
    "--max-root-rotations", "--days-in-future", "--trusted-root",
]
var index = 0
while index < arguments.count {
    let argument = arguments[index]
    if command == nil, argument.hasPrefix("--") {
        var name = argument
        var value: String?
        if let equals = argument.firstIndex(of: "=") {
            name = String(argument[..<equals])
            value = String(argument[argument.index(after: equals)...])
        }
        guard known.contains(name) else { fail("unknown option \(name)") }
        if value == nil {
            guard index + 1 < arguments.count else { fail("\(name) needs a value") }
            index += 1
            value = arguments[index]
        }
        options[name, default: []].append(value!)
    } else if command == nil {
        command = argument
    } else {
        operands.append(argument)
    }
    index += 1
}

@MainActor func single(_ name: String) -> String {
    guard let values = options[name], values.count == 1 else { fail("\(name) is required once") }
    return values[0]
}

/// True when every http:// URL given names a loopback host.
@MainActor func plainHTTPOnlyToLoopback() -> Bool {
    for url in (options["--metadata-url"] ?? []) + (options["--target-base-url"] ?? [])
    where url.lowercased().hasPrefix("http://") {
        let rest = url.dropFirst(7)
        let host = rest.prefix { $0 != "/" && $0 != ":" || rest.hasPrefix("[") && $0 == ":" }
        guard host == "localhost" || host.hasPrefix("127.") || rest.hasPrefix("[::1]") else { return false }
    }
    return true
}

guard plainHTTPOnlyToLoopback() else { fail("plain http:// is allowed to loopback hosts only; use https://") }

let transport = HTTPTransport(
    options: TransportOptions(
        clientCertificate: options["--cert"]?.last, clientKey: options["--key"]?.last, pinnedCA: options["--ca"]?.last,
        allowPlainHTTP: true,
        retries: 2, backoff: 0.1, stallSeconds: 10))

/// The value of a numeric option in `range`, or `fallback` when it is absent.
@MainActor func number(_ name: String, in range: ClosedRange<Int>, default fallback: Int) -> Int {
    guard let text = options[name]?.last else { return fallback }
    guard let value = Int(text), range.contains(value) else {
        fail("\(name): '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)")
    }
    return value
}

@MainActor func client() throws(OTAError) -> TUFClient {
    var limits = TUFLimits.default
    limits.maximumRootRotations = number(
        "--max-root-rotations", in: 0...1_000_000, default: limits.maximumRootRotations)
    let shift = Int64(number("--days-in-future", in: 0...1_000_000, default: 0)) * 86_400
    return try TUFClient(
        metadataDirectory: single("--metadata-dir"), metadataURL: single("--metadata-url"), fetcher: transport,
        limits: limits,
        now: { wallClockSeconds() + shift })
}

do throws(OTAError) {
    switch command {
    case "init":
        let roots = operands + (options["--trusted-root"] ?? [])
        guard roots.count == 1 else { fail("init takes one trusted root file (an operand or --trusted-root)") }
        try TUFClient.initialize(
            metadataDirectory: single("--metadata-dir"),
            trustedRoot: try FileSystem.read(roots[0], limit: TUFLimits.default.root))
    case "refresh":
        guard operands.isEmpty else { fail("refresh takes no operands") }
        try client().refresh()
    case "download":
        guard operands.isEmpty else { fail("download takes no operands") }
        let names = options["--target-name"] ?? []
        guard !names.isEmpty else { fail("--target-name is required") }
        let client = try client()
        let directory = single("--target-dir")
        let base = single("--target-base-url")
        for name in names {
            guard let file = try client.target(named: name) else {
                throw OTAError(.tufTargetNotFound, "no trusted role lists target '\(name)'")
            }
            let path = "\(directory)/\(PercentEncoding.encode(name))"
            // Already downloaded with the right length and hashes: nothing to fetch.
            if FileSystem.exists(path), let bytes = try? FileSystem.read(path, limit: Int(clamping: file.length)),
                (try? TUFClient.checkTarget(bytes, file, name: name)) != nil
            {
                continue
            }
            let bytes = try client.fetchTarget(name, file, baseURL: base)
            try AtomicFileWriter.write(bytes, to: path)
        }
    case nil:
        fail("no command (init, refresh or download)")
    default:
        fail("unknown command \(command!)")
    }
    exit(0)
} catch {
    fail(error.description)
}
