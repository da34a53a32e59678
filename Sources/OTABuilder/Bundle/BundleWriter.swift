import OTACore

/// Writes a bundle file: the three head entries (and a trust update when given), then each payload streamed from its source.
/// Output goes to a temporary name and is renamed into place only when complete.
enum BundleWriter {
    /// Where a payload's stored bytes come from.
    enum PayloadSource {
        /// A scratch file written by the builder.
        case file(InputFile)
        /// The verified stream of an existing bundle (co-signing, rewrapping).
        case stream(VerifiedPayloadStream)
    }

    /// `replacingInput`: the bundle rewritten in place (co-signing, rewrapping) replaces the
    /// file it was read from; a build refuses to replace any of its inputs.
    static func write(
        to path: String, manifest: [UInt8], envelope: SignatureEnvelope, recipients: Recipients,
        trustUpdate: [UInt8]? = nil,
        payloads: [(entry: String, size: UInt64, source: () throws(OTAError) -> PayloadSource)],
        replacingInput: Bool = false
    ) throws(OTAError) {
        let output = try AtomicFileWriter(path: path, refusingInputs: !replacingInput)
        let archive = try ArchiveWriter(output: output)
        for (name, bytes) in [
            (BundleLayout.manifestEntry, manifest), (BundleLayout.signaturesEntry, try envelope.encoded()),
            (BundleLayout.recipientsEntry, try recipients.encoded()),
        ] + (trustUpdate.map { [(BundleLayout.trustUpdateEntry, $0)] } ?? []) {
            try archive.beginEntry(name: name, size: Int64(bytes.count))
            try archive.write(bytes)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for payload in payloads {
            try archive.beginEntry(name: payload.entry, size: Int64(payload.size))
            switch try payload.source() {
            case .file(let file):
                var copied: UInt64 = 0
                while true {
                    let count = try file.read(into: &buffer)
                    if count == 0 { break }
                    try archive.write(buffer[0..<count])
                    copied += UInt64(count)
                }
                guard copied == payload.size else {
                    throw OTAError(.bundleWrite, "\(file.path): payload changed size while being written")
                }
            case .stream(let stream):
                while try stream.withNextChunk({ chunk, _ throws(OTAError) in
                    try archive.write(chunk)
                }) {}
            }
        }
        try archive.finish()
        try output.commit()
    }
}
