public import OTACore

/// Verifies a record log directory against the vehicle's device public key.
public struct LogVerifier {
    public let layout: LogLayout
    public let publicKey: PublicKey

    public init(directory: String, publicKey: PublicKey) {
        layout = LogLayout(directory: directory)
        self.publicKey = publicKey
    }

    /// Reads every segment in order; `onEntry` sees each intact in-order entry (for ingest).
    /// Throws only for I/O and key problems; what is wrong with the log is in the report.
    public func verify(onEntry: ((LogEntry) throws(OTAError) -> Void)? = nil) throws(OTAError) -> VerificationReport {
        let meta = try LogMeta.load(layout)
        var head: [UInt8]? = nil
        if FileSystem.exists(layout.headPath) {
            var bytes = try FileSystem.read(layout.headPath, limit: 64 << 10)
            if bytes.last == 0x0a { bytes.removeLast() }
            head = bytes
        }
        var verifier = try RecordChainVerifier(meta: meta, publicKey: publicKey, head: head?[...])
        for name in try layout.segments() {
            var lineNumber = 0
            try SegmentReader.forEachLine(layout.path(name)) { line, _, terminated throws(OTAError) in
                lineNumber += 1
                if let entry = try verifier.consume(line, terminated: terminated, at: EntryLocation(segment: name, line: lineNumber)) {
                    try onEntry?(entry)
                }
            }
        }
        return verifier.finish()
    }
}
