#if canImport(Glibc)
    import Glibc
#endif

/// What the executables without Foundation (`ota-patch`, `ota-diff`) share: `--help` and
/// `--version`, and errors reported as `ota` reports them (`TOOL: error: MESSAGE [code]`, then
/// the cause) with the exit status of the code's kind (1 usage or I/O, 2 rejected).
package enum LeanCommandLine {
    /// Runs `body` with the arguments after the program name, once `--help`/`-h` (prints
    /// `usage`) and `--version` are answered; on an error reports it (after a usage error, with
    /// `usage`) and exits.
    /// With `json` (the tool takes `--json`), a failure is also printed on standard output as
    /// `ota --json` prints it: `{"ok": false, "error": {"code", "kind", "message", "cause"}}`.
    /// Options are only looked for before a `--`.
    package static func run(
        _ tool: String, usage: String, json: Bool = false, _ body: (ArraySlice<String>) throws(OTAError) -> Void
    ) {
        let words = CommandLine.arguments.dropFirst()
        let options = words.prefix { $0 != "--" }
        if options.contains("--help") || options.contains("-h") {
            print(usage)
            exit(0)
        }
        if options.contains("--version") {
            print(OTAVersion.current)
            exit(0)
        }
        do throws(OTAError) {
            if let invalid = ArgumentEncoding.firstInvalid() { throw invalid }
            InterruptCleanup.startCommandProcess()
            try body(words)
        } catch {
            if json && options.contains("--json") { print(failureJSON(error)) }
            if error.code == .usageInvalid { printError(usage + "\n") }
            var text = "\(tool): error: \(error.message) [\(error.code)]\n"
            if let cause = error.cause, !cause.isEmpty { text += "  cause: \(cause)\n" }
            for other in error.related { text += "  also: \(other.message) [\(other.code)]\n" }
            printError(text)
            exit(error.kind == .rejected ? 2 : 1)
        }
    }

    /// The program's name as it was started (`argv[0]`'s last component): `ota` when `ota`
    /// runs the tool in its own place, so errors read as `ota`'s own.
    package static var invokedName: String {
        guard let first = CommandLine.arguments.first, !first.isEmpty else { return "ota" }
        return first.split(separator: "/").last.map(String.init) ?? first
    }

    /// Prints a result as `ota` does: `human` on standard output, or with `json`
    /// `{"ok": true, "result": {...}}` (pretty-printed, sorted keys).
    package static func succeed(_ result: some Encodable, human: String, json: Bool) {
        if json {
            print(LeanJSON.encode(SuccessEnvelope(result: result), pretty: true) ?? "{\"ok\":false}")
        } else if !human.isEmpty {
            print(human)
        }
    }

    /// The `--json` text of a failure, as `ota` prints it.
    package static func failureJSON(_ error: OTAError) -> String {
        LeanJSON.encode(FailureEnvelope(error), pretty: true) ?? "{\"ok\":false}"
    }

    /// `printf` formatting (what Foundation's `String(format:)` gives for numeric formats).
    package static func format(_ format: String, _ arguments: any CVarArg...) -> String {
        withVaList(arguments) { list in
            var buffer = [CChar](repeating: 0, count: 128)
            _ = vsnprintf(&buffer, buffer.count, format, list)
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// `value` with two decimals, as `ota` prints them (`%.2f`: ties round as the binary value lies).
    package static func twoDecimals(_ value: Double) -> String { format("%.2f", value) }

    /// Writes `text` to standard error (descriptor 2: the C `stderr` global is shared mutable state).
    private static func printError(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
