public import OTACore

/// Verifies a record log directory against the vehicle's device key(s).
public struct LogVerifier {
    package let layout: LogLayout
    public let keys: [PublicKey]
    /// A checkpoint already verified (see `RecordChainVerifier.trustedAnchor`).
    public var trustedAnchor: (seq: UInt64, hash: String)?
    /// Called with the bytes of segments read so far (about every MiB and after each segment),
    /// for a progress display.
    public var progress: ((UInt64) -> Void)?

    public init(directory: String, publicKey: PublicKey) {
        self.init(directory: directory, keys: [publicKey])
    }

    /// `keys`: the device keys trusted to sign the start of the log (later keys are learned
    /// from key rotations in the chain).
    public init(directory: String, keys: [PublicKey]) {
        layout = LogLayout(directory: directory)
        self.keys = keys
    }

    /// Reads every segment in order; `onEntry` sees each intact in-order entry with its body.
    /// Throws only for I/O, for a `log.json` that cannot be read, and for keys that are not the
    /// log's; what is wrong with the log is in the report.
    public func verify(onEntry: ((VerifiedEntry) throws(OTAError) -> Void)? = nil) throws(OTAError)
        -> VerificationReport
    {
        let meta = try LogMeta.load(layout)
        var head: [UInt8]? = nil
        if FileSystem.exists(layout.headPath) {
            var bytes = try FileSystem.read(layout.headPath, limit: 64 << 10)
            if bytes.last == 0x0a { bytes.removeLast() }
            head = bytes
        }
        var verifier = try RecordChainVerifier(meta: meta, keys: keys, head: head?[...])
        verifier.trustedAnchor = trustedAnchor
        for name in try layout.strayNames() {
            verifier.note(
                .segmentName, location: name, "\(name): not a segment name, but named like one (a renamed segment?)")
        }
        var bytesBefore: UInt64 = 0
        var reported: UInt64 = 0
        for name in try layout.segments() {
            var lineNumber = 0
            var segmentBytes: UInt64 = 0
            let claimed = LogLayout.firstSeq(ofSegment: name)
            try SegmentReader.forEachLine(layout.path(name)) { line, offset, terminated throws(OTAError) in
                lineNumber += 1
                segmentBytes = UInt64(offset) + UInt64(line.count) + (terminated ? 1 : 0)
                if let progress, bytesBefore + segmentBytes >= reported + (1 << 20) {
                    reported = bytesBefore + segmentBytes
                    progress(reported)
                }
                if lineNumber == 1, terminated, let entry = LogEntry.parse(line), entry.seq != claimed {
                    verifier.note(
                        .segmentName, location: name,
                        "\(name) starts with entry \(entry.seq), not the entry its name gives (a renamed segment)")
                }
                if let verified = try verifier.consume(
                    line, terminated: terminated, at: EntryLocation(segment: name, line: lineNumber))
                {
                    try onEntry?(verified)
                }
            }
            if lineNumber == 0 {
                verifier.note(.segmentName, location: name, "\(name) is empty")
            }
            bytesBefore += segmentBytes
            reported = bytesBefore
            progress?(reported)
        }
        return verifier.finish()
    }
}

extension RecordChainVerifier {
    /// Adds an issue found outside the chain (file names, directory contents).
    public mutating func note(_ kind: VerificationIssue.Kind, location: String, _ message: String) {
        appendIssue(VerificationIssue(kind, seq: nil, location: location, message))
    }
}
