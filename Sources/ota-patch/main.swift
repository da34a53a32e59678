// `ota-patch OLD PATCH -o NEW`: the vehicle-side patch applier alone. The same decoder, checks,
// error codes and exit statuses as `ota delta apply` (docs/DESIGN.md exit codes: 0 ok, 1 usage
// or I/O, 2 rejected), in an executable that links OTABase and OTADelta only: no Foundation,
// libcurl or argument parser, so start-up costs little more than the Swift runtime and libcrypto.
internal import OTABase
internal import OTADelta

#if canImport(Glibc)
    import Glibc
#endif

let usage = """
    usage: ota-patch OLD PATCH -o NEW
      Rebuilds NEW from OLD (a file or block device) and an `ota delta create` patch, streaming
      with flat memory. OLD's hash is checked beside the decoding and NEW's at the end; NEW is
      written under a temporary name and renamed into place only when both match, so on failure
      no output is left. Exit status: 0 ok, 1 usage or I/O error, 2 rejected.
    """

/// The arguments: two operands and `-o`/`--output`, in any order.
struct Arguments {
    var old: String
    var patch: String
    var output: String

    init(_ arguments: ArraySlice<String>) throws(OTAError) {
        var operands: [String] = []
        var output: String?
        var rest = arguments
        while let argument = rest.popFirst() {
            switch argument {
            case "-o", "--output":
                guard let value = rest.popFirst() else {
                    throw OTAError(.usageInvalid, "\(argument) needs a path")
                }
                guard output == nil else { throw OTAError(.usageInvalid, "the output is given twice") }
                output = value
            case "--":
                operands += rest
                rest = []
            default:
                if argument.hasPrefix("--output=") {
                    guard output == nil else { throw OTAError(.usageInvalid, "the output is given twice") }
                    output = String(argument.dropFirst("--output=".count))
                } else if argument.hasPrefix("-") && argument != "-" {
                    throw OTAError(.usageInvalid, "unknown option \(argument)")
                } else {
                    operands.append(argument)
                }
            }
        }
        guard operands.count == 2, let output, !output.isEmpty else {
            throw OTAError(.usageInvalid, "expected OLD PATCH -o NEW")
        }
        (old, patch, self.output) = (operands[0], operands[1], output)
    }
}

/// Writes `text` to standard error (descriptor 2: the C `stderr` global is shared mutable state).
func printError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Reports `error` as `ota` does (`... [code]`, then its cause) and exits with its kind's status.
func fail(_ error: OTAError) -> Never {
    var text = "ota-patch: error: \(error.message) [\(error.code)]\n"
    if let cause = error.cause, !cause.isEmpty { text += "  cause: \(cause)\n" }
    printError(text)
    exit(error.kind == .rejected ? 2 : 1)
}

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
    let arguments = try Arguments(words)
    let report = try Delta.applyPatch(old: arguments.old, patch: arguments.patch, output: arguments.output)
    let hundredths = Int((report.seconds * 100).rounded())
    let seconds = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    print("\(arguments.output): \(report.newSize) bytes, \(report.newHash), in \(seconds) s")
} catch {
    if error.code == .usageInvalid { printError(usage + "\n") }
    fail(error)
}
