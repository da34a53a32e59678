import OTACore

/// One libFuzzer harness: a parser entry point that real callers use, fed one input at a time.
///
/// `run` must return for every input: refusals (`OTAError`) are the expected outcome. A crash,
/// a trap, a sanitizer report, a timeout or an out-of-memory is a finding, and so is a broken
/// invariant, which a harness reports with `FuzzTargets.violated(_:)`.
protocol FuzzTarget {
    /// The name given on the command line and the corpus folder's name.
    static var name: String { get }
    /// One line: which entry points the harness drives.
    static var summary: String { get }
    /// Set-up done once per process (keys, trust stores, scratch files).
    init() throws(OTAError)
    func run(_ input: [UInt8])
}
