// `ota-patch OLD PATCH -o NEW`: the vehicle-side patch applier alone. The same decoder, checks,
// error codes and exit statuses as `ota delta apply` (docs/DESIGN.md exit codes: 0 ok, 1 usage
// or I/O, 2 rejected), in an executable that links OTABase and OTADelta only: no Foundation,
// libcurl or argument parser, so start-up costs little more than the Swift runtime and libcrypto.
internal import COpenSSL
internal import OTABase
internal import OTADelta

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

AllocatorSettings.oneHeapForAllThreads()
// OpenSSL's first use of its error queue loads every error string into a hash table, and its
// first digest fetch (OpenSSL 3.0) the legacy database of every cipher and digest name, neither
// needed to hash with SHA2-256 or SM3: ~0.6 ms of start-up (docs/PERFORMANCE-LOG.md, "Start-up: the
// libraries linked statically"). The cost: an OpenSSL error (a hash that cannot be set up) is
// reported by its code (`error:0308010C:lib(6)::reason(...)`), not its text. The system
// configuration is still loaded.
_ = OPENSSL_init_crypto(
    UInt64(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS),
    nil)
LeanCommandLine.run("ota-patch", usage: usage) { (words) throws(OTAError) in
    let arguments = try Arguments(words)
    let report = try Delta.applyPatch(old: arguments.old, patch: arguments.patch, output: arguments.output)
    print(
        "\(arguments.output): \(report.newSize) bytes, \(report.newHash), in \(LeanCommandLine.twoDecimals(report.seconds)) s"
    )
}
