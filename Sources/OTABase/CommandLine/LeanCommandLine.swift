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
    package static func run(
        _ tool: String, usage: String, _ body: (ArraySlice<String>) throws(OTAError) -> Void
    ) {
        let words = CommandLine.arguments.dropFirst()
        if words.contains("--help") || words.contains("-h") {
            print(usage)
            exit(0)
        }
        if words.contains("--version") {
            print(OTAVersion.current)
            exit(0)
        }
        do throws(OTAError) {
            try body(words)
        } catch {
            if error.code == .usageInvalid { printError(usage + "\n") }
            var text = "\(tool): error: \(error.message) [\(error.code)]\n"
            if let cause = error.cause, !cause.isEmpty { text += "  cause: \(cause)\n" }
            printError(text)
            exit(error.kind == .rejected ? 2 : 1)
        }
    }

    /// `value` with two decimals (no Foundation formatting).
    package static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    /// Writes `text` to standard error (descriptor 2: the C `stderr` global is shared mutable state).
    private static func printError(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
