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
    /// Whether each `torn-tail` entry's quarantined file is checked against the size and digest
    /// the entry states (off for a copy that carries only segments: a fleet upload).
    public var checksQuarantine = true

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
        var tornTails: [(seq: UInt64, body: EntryBody.TornTail)] = []
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
                    if checksQuarantine, case .tornTail(let torn) = verified.body {
                        tornTails.append((verified.entry.seq, torn))
                    }
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
        for (seq, torn) in tornTails {
            try checkQuarantined(torn, seq: seq, hash: meta.hash, into: &verifier)
        }
        return verifier.finish()
    }

    /// The quarantined bytes a torn-tail entry names must still be there with the size and digest
    /// it states (under their `pending-` name while a crash left the rename undone).
    private func checkQuarantined(
        _ torn: EntryBody.TornTail, seq: UInt64, hash: HashAlgorithm, into verifier: inout RecordChainVerifier
    ) throws(OTAError) {
        let name = String(torn.file.dropFirst("quarantine/".count))
        let candidates = [layout.directory + "/" + torn.file, layout.quarantineDirectory + "/pending-" + name]
        guard let path = candidates.first(where: { FileSystem.exists($0) }) else {
            verifier.note(
                .deleted, seq: seq, location: torn.file,
                "\(torn.file): the torn bytes entry \(seq) quarantined (\(torn.bytes) bytes) are gone")
            return
        }
        // The size first: a file grown past any torn tail is not read whole.
        let size = try InputFile(path: path).size()
        let digest = size == torn.bytes ? try Hasher.hash(hash, fileAt: path).hex : nil
        if digest != torn.digest {
            verifier.note(
                .changed, seq: seq, location: torn.file,
                "\(torn.file): not the bytes entry \(seq) quarantined (\(size) bytes\(digest.map { ", digest \($0.prefix(16))…" } ?? ""); the entry states \(torn.bytes) bytes, digest \(torn.digest.prefix(16))…)"
            )
        }
    }
}

extension RecordChainVerifier {
    /// Adds an issue found outside the chain (file names, directory contents, a file entry `seq`
    /// names).
    public mutating func note(
        _ kind: VerificationIssue.Kind, seq: UInt64? = nil, location: String, _ message: String
    ) {
        appendIssue(VerificationIssue(kind, seq: seq, location: location, message))
    }
}
