public import Foundation
public import OTABase

/// What a bundle reader trusts: the trust store, the time, how many release signers.
public struct BundleTrustPolicy: Sendable {
    public var trust: TrustStore
    public var time: any TimeSource
    /// Distinct release signers required (two-person rule: 2).
    public var threshold: Int
    public var staleCRLPolicy: StaleCRLPolicy
    /// How far a manifest's `created` may lie ahead of `time` (clocks disagree a little; a bundle
    /// "made" years ahead is a mistake or an attack on time-based checks).
    public var maximumClockSkew: TimeInterval

    /// The default `maximumClockSkew`: one day.
    public static let defaultClockSkew: TimeInterval = 86_400

    public init(
        trust: TrustStore, time: any TimeSource = SystemTime(), threshold: Int = 1,
        staleCRLPolicy: StaleCRLPolicy = .reject,
        maximumClockSkew: TimeInterval = BundleTrustPolicy.defaultClockSkew
    ) {
        self.trust = trust
        self.time = time
        self.threshold = threshold
        self.staleCRLPolicy = staleCRLPolicy
        self.maximumClockSkew = maximumClockSkew
    }
}

/// The verified head of a bundle: its manifest (signed, checked) and recipients.
public struct VerifiedManifest: Sendable {
    public let manifest: Manifest
    /// The exact signed bytes.
    public let manifestBytes: [UInt8]
    /// Suite hash of `manifestBytes`: what approvals and records name.
    public let digest: Digest
    public let signers: [SignerReport]
    public let recipients: Recipients
    /// The trust store the signers were checked against: the policy's, or a copy with the
    /// bundle's trust update applied.
    public let trust: TrustStore
    /// The bundle's trust update, verified and bound by the manifest; not yet committed anywhere.
    public let trustUpdate: VerifiedTrustUpdate?
}

/// A trust update carried in a bundle, verified against the policy's trust store by the rules of
/// every trust update (`TrustUpdater`) and bound by the signed manifest (`trustUpdate.digest`).
public struct VerifiedTrustUpdate: Sendable {
    /// The exact bytes of `trust-update.json` (what a vehicle applies, journalled).
    public let bytes: [UInt8]
    /// What it changes in the policy's store (nothing when the store already holds it).
    public let change: TrustChange
}

/// The unverified head of a bundle, for `ota bundle inspect`.
package struct BundleHead: Sendable {
    package let manifestBytes: [UInt8]
    package let envelope: SignatureEnvelope
    package let recipients: Recipients
    /// The bytes of `trust-update.json`, when the bundle carries one.
    package let trustUpdate: [UInt8]?
}

/// Reads a bundle in one pass over one open file descriptor: the manifest and its signatures are
/// verified before any payload byte is read, and every payload chunk is checked against its
/// signed hash before it is handed on. Nothing is extracted to disk, and the reader never goes
/// back to the file by name, so replacing the file during a read changes nothing that was
/// verified.
public final class BundleReader {
    public let path: String
    private let archive: ArchiveReader
    private var expectedPayloads: [Manifest.Image] = []
    private var nextPayloadIndex = 0
    private var verified: VerifiedManifest?
    private var openStream: VerifiedPayloadStream?

    public init(path: String) throws(OTAError) {
        self.path = path
        let file = try InputFile(path: path, notAFile: .bundleNotAFile)
        archive = try ArchiveReader(file: file, bufferSize: 1 << 20)
    }

    /// Reads the head entries (three, and a trust update when present) without verifying them.
    package func readHead() throws(OTAError) -> BundleHead {
        let manifestBytes = try readEntry(
            BundleLayout.manifestEntry, limit: BundleLayout.maximumManifestSize,
            later: [BundleLayout.signaturesEntry, BundleLayout.recipientsEntry])
        let envelopeBytes = try readEntry(
            BundleLayout.signaturesEntry, limit: BundleLayout.maximumSignaturesSize,
            later: [BundleLayout.recipientsEntry])
        let envelope = try SignatureEnvelope.decode(envelopeBytes)
        let recipientsBytes = try readEntry(
            BundleLayout.recipientsEntry, limit: BundleLayout.maximumRecipientsSize, later: [])
        let recipients = try Recipients.decode(recipientsBytes)
        // The optional trust update: the next header is read now, and kept for the payloads
        // when it is something else.
        var trustUpdate: [UInt8]? = nil
        let next = try archive.nextEntry()
        if let entry = next, entry.name == BundleLayout.trustUpdateEntry {
            lookahead = .some(entry)
            _ = try expectEntry(BundleLayout.trustUpdateEntry, later: [])
            guard let size = entry.size, size >= 0, size <= Int64(TrustUpdate.maximumSize) else {
                throw OTAError(
                    .bundleEntryTooLarge,
                    "\(path): entry '\(entry.name)' is larger than its limit of \(TrustUpdate.maximumSize) bytes")
            }
            trustUpdate = try archive.readAll(limit: TrustUpdate.maximumSize)
        } else {
            lookahead = .some(next)
        }
        return BundleHead(
            manifestBytes: manifestBytes, envelope: envelope, recipients: recipients, trustUpdate: trustUpdate)
    }

    /// Reads and verifies the head: signatures over the manifest bytes, chains to the release
    /// anchors, the threshold, then the canonical form, the manifest's own rules, its creation
    /// time and expiry. A rejection carries every reason found at the step that failed (each
    /// failing signature beside the threshold, every broken manifest rule); only I/O and misuse
    /// are thrown.
    public func verify(policy: BundleTrustPolicy) throws(OTAError) -> Verdict<VerifiedManifest> {
        let head: BundleHead
        switch try Verdict.evaluating({ () throws(OTAError) in try readHead() }) {
        case .rejected(let reasons): return .rejected(reasons)
        case .accepted(let read): head = read
        }
        // A trust update rides ahead of the signers: verified against the policy's store (its
        // current root keys, threshold, version, expiry: the rules of every trust update) and
        // applied to a copy, which the signers are then checked against. A failing update
        // refuses the bundle with its own code; nothing is written anywhere.
        var trust = policy.trust
        var trustUpdate: VerifiedTrustUpdate? = nil
        if let bytes = head.trustUpdate {
            switch try Verdict.evaluating({ () throws(OTAError) in
                try TrustUpdater.applyUpdate(bytes, to: try policy.trust.contents(), at: policy.time.now())
            }) {
            case .rejected(let reasons): return .rejected(reasons)
            case .accepted(let (next, change)):
                trust = TrustStore(
                    contents: next,
                    label: "\(policy.trust.directory) (with the bundle's trust update \(change.toVersion))")
                trustUpdate = VerifiedTrustUpdate(bytes: bytes, change: change)
            }
        }
        let chains = ChainVerifier(store: trust, time: policy.time, staleCRLPolicy: policy.staleCRLPolicy)
        let reports: [SignerReport]
        switch try Verdict.evaluating({ () throws(OTAError) in
            try EnvelopeVerifier(chains: chains, role: .release).verify(
                head.envelope, body: head.manifestBytes, expectedType: SignatureEnvelope.manifestType)
        }) {
        case .rejected(let reasons): return .rejected(reasons)  // an empty or missing trust store
        case .accepted(let checked): reports = checked
        }
        let signatureFailures = reports.compactMap { report in
            report.failure.map { OTAError($0, report.failureMessage ?? "signature \(report.index) failed") }
        }
        // Only with signatures that verify over these exact bytes is the manifest parsed.
        guard reports.contains(where: \.isTrusted) else {
            let decided = Verdict<Void>.rejectionOf { () throws(OTAError) in
                try EnvelopeVerifier.requireThreshold(reports, threshold: policy.threshold, suite: .intl)
                throw OTAError(.signatureInvalid, "no trusted signature")
            }
            return .rejected(Self.merging(decided, signatureFailures))
        }
        let manifest: Manifest
        switch try Verdict.evaluating({ () throws(OTAError) in
            try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        }) {
        case .rejected(let reasons): return .rejected(reasons)
        case .accepted(let decoded): manifest = decoded
        }
        let threshold = Verdict<Void>.rejectionOf { () throws(OTAError) in
            try EnvelopeVerifier.requireThreshold(reports, threshold: policy.threshold, suite: manifest.bundle.suite)
        }
        if !threshold.isEmpty { return .rejected(Self.merging(threshold, signatureFailures)) }
        if let refusal = try Self.checkBinding(manifest, head.trustUpdate) { return .rejected([refusal]) }
        let problems = ManifestRules.problems(in: manifest)
        guard problems.isEmpty else {
            return .rejected(
                problems.map { OTAError(.manifestRules, "signed manifest breaks the format rules: \($0)") })
        }
        let now = policy.time.now()
        guard manifest.bundle.created <= now.addingTimeInterval(policy.maximumClockSkew) else {
            return .rejected([
                OTAError(
                    .manifestNotYetValid,
                    "bundle \(manifest.bundle.id) was created at \(Timestamp.format(manifest.bundle.created)), more than \(Int(policy.maximumClockSkew / 3600)) h after this clock's \(Timestamp.format(now))"
                )
            ])
        }
        guard manifest.bundle.expires > now else {
            return .rejected([
                OTAError(
                    .manifestExpired,
                    "bundle \(manifest.bundle.id) expired at \(Timestamp.format(manifest.bundle.expires))")
            ])
        }
        let result = VerifiedManifest(
            manifest: manifest, manifestBytes: head.manifestBytes,
            digest: try Hasher.hash(manifest.bundle.suite.hash, head.manifestBytes),
            signers: reports, recipients: head.recipients, trust: trust, trustUpdate: trustUpdate)
        verified = result
        expectedPayloads = manifest.images
        return .accepted(result)
    }

    /// `verify(policy:)` for callers that stop at the first refusal: the deciding reason is thrown
    /// (the others in its cause).
    public func verifyHead(policy: BundleTrustPolicy) throws(OTAError) -> VerifiedManifest {
        try verify(policy: policy).get()
    }

    /// The signed manifest must name exactly the trust update the bundle carries (its suite hash
    /// and version), or none when it carries none: an update added, dropped or swapped after
    /// signing refuses the bundle.
    package static func checkBinding(_ manifest: Manifest, _ bytes: [UInt8]?) throws(OTAError) -> OTAError? {
        switch (manifest.trustUpdate, bytes) {
        case (nil, nil):
            return nil
        case (nil, .some):
            return OTAError(
                .bundleTrustUpdateMismatch,
                "bundle \(manifest.bundle.id) carries \(BundleLayout.trustUpdateEntry) but its signed manifest names no trust update"
            )
        case (.some(let named), nil):
            return OTAError(
                .bundleMissingEntry,
                "bundle \(manifest.bundle.id): the signed manifest names trust update \(named.version) but the bundle has no \(BundleLayout.trustUpdateEntry)"
            )
        case (.some(let named), .some(let bytes)):
            let digest = try Hasher.hash(manifest.bundle.suite.hash, bytes)
            guard let expected = Hex.decode(named.digest), ConstantTime.equals(digest.bytes, expected) else {
                return OTAError(
                    .bundleTrustUpdateMismatch,
                    "bundle \(manifest.bundle.id): \(BundleLayout.trustUpdateEntry) is not the trust update its signed manifest names (digest \(digest.hex), signed \(named.digest))"
                )
            }
            let version = try? SignedTrustUpdate.decode(bytes).contents().update.version
            guard version == named.version else {
                return OTAError(
                    .bundleTrustUpdateMismatch,
                    "bundle \(manifest.bundle.id): the trust update is version \(version.map(String.init) ?? "?"); the signed manifest names \(named.version)"
                )
            }
            return nil
        }
    }

    /// The deciding reasons first, then each signature's own failure.
    private static func merging(_ decided: [OTAError], _ failures: [OTAError]) -> [OTAError] {
        decided + failures.filter { failure in !decided.contains { $0.message == failure.message } }
    }

    /// After `readHead()`, streams payloads against `manifest` without signature verification:
    /// for tools that rewrite a bundle (co-signing), where chunk hashes still guard every byte.
    public func streamPayloadsUnverifiedHead(manifest: Manifest) throws(OTAError) {
        guard verified == nil else { return }
        unverifiedManifest = manifest
        expectedPayloads = manifest.images
    }

    private var unverifiedManifest: Manifest?

    /// The next payload, in manifest order, as a stream of verified chunks; nil after the last
    /// payload, once the archive is confirmed to end there.
    public func nextPayload() throws(OTAError) -> VerifiedPayloadStream? {
        guard let suite = verified?.manifest.bundle.suite ?? unverifiedManifest?.bundle.suite else {
            throw OTAError(.bundleOrder, "verifyHead() must come before payloads")
        }
        if let openStream, !openStream.isComplete { try openStream.drain() }
        guard nextPayloadIndex < expectedPayloads.count else {
            if let extra = try nextHeader() {
                throw OTAError(.bundleExtraEntry, "\(path): unexpected entry '\(extra.name)' after the last payload")
            }
            return nil
        }
        let image = expectedPayloads[nextPayloadIndex]
        let later = expectedPayloads[(nextPayloadIndex + 1)...].map(\.payload.entry)
        let entry = try expectEntry(image.payload.entry, later: later)
        guard let size = entry.size, size >= 0, UInt64(size) == image.payload.storedSize else {
            throw OTAError(
                .bundleEntrySize,
                "\(path): entry '\(entry.name)' is \(entry.size.map(String.init) ?? "unknown") bytes; the manifest signs \(image.payload.storedSize)"
            )
        }
        nextPayloadIndex += 1
        let stream = try VerifiedPayloadStream(archive: archive, image: image, hash: suite.hash, bundlePath: path)
        openStream = stream
        return stream
    }

    private func readEntry(_ name: String, limit: Int, later: [String]) throws(OTAError) -> [UInt8] {
        let entry = try expectEntry(name, later: later)
        guard let size = entry.size, size >= 0, size <= Int64(limit) else {
            throw OTAError(.bundleEntryTooLarge, "\(path): entry '\(name)' is larger than its limit of \(limit) bytes")
        }
        return try archive.readAll(limit: limit)
    }

    private var seenNames = Set<String>()
    /// A header read ahead (after `recipients.json`, looking for a trust update); `.some(nil)`
    /// is the end of the archive.
    private var lookahead: ArchiveReader.Entry??

    private func nextHeader() throws(OTAError) -> ArchiveReader.Entry? {
        if let held = lookahead {
            lookahead = nil
            return held
        }
        return try archive.nextEntry()
    }

    /// The next header must be a regular file called `name`; anything else says what it is.
    private func expectEntry(_ name: String, later: [String]) throws(OTAError) -> ArchiveReader.Entry {
        guard let entry = try nextHeader() else {
            throw OTAError(.bundleMissingEntry, "\(path): the archive ends where '\(name)' was expected")
        }
        guard entry.isRegularFile, !entry.isHardLink, !entry.isSymbolicLink, !entry.isSparse else {
            let kind =
                entry.isHardLink
                ? "hard link"
                : entry.isSymbolicLink ? "symbolic link" : entry.isSparse ? "sparse file" : entry.fileTypeDescription
            throw OTAError(
                .bundleEntryType, "\(path): entry '\(entry.name)' is a \(kind); only regular files are allowed")
        }
        guard entry.name == name else {
            let known = [
                BundleLayout.manifestEntry, BundleLayout.signaturesEntry, BundleLayout.recipientsEntry,
                BundleLayout.trustUpdateEntry,
            ]
            if seenNames.isEmpty && name == BundleLayout.manifestEntry && !known.contains(entry.name)
                && !entry.name.hasPrefix("payloads/")
            {
                throw OTAError(
                    .bundleNotABundle,
                    "\(path): not an ota bundle: a tar whose first entry is '\(entry.name)', not \(BundleLayout.manifestEntry)"
                )
            }
            if seenNames.contains(entry.name) {
                throw OTAError(.bundleDuplicateEntry, "\(path): entry '\(entry.name)' appears twice")
            }
            if later.contains(entry.name) {
                throw OTAError(.bundleEntryOrder, "\(path): entry '\(entry.name)' comes before '\(name)'")
            }
            throw OTAError(
                .bundleUnexpectedEntry, "\(path): unexpected entry '\(entry.name)' where '\(name)' was expected")
        }
        seenNames.insert(entry.name)
        return entry
    }
}

/// One payload's stored bytes, handed out chunk by chunk only after each chunk's hash matched
/// the signed manifest.
public final class VerifiedPayloadStream {
    public let image: Manifest.Image
    private let archive: ArchiveReader
    private let hash: HashAlgorithm
    private let bundlePath: String
    private var buffer: [UInt8]
    private var chunkIndex = 0
    public private(set) var bytesVerified: UInt64 = 0

    init(archive: ArchiveReader, image: Manifest.Image, hash: HashAlgorithm, bundlePath: String) throws(OTAError) {
        self.archive = archive
        self.image = image
        self.hash = hash
        self.bundlePath = bundlePath
        buffer = [UInt8](repeating: 0, count: Int(image.payload.chunkSize))
    }

    public var isComplete: Bool { chunkIndex == image.payload.chunkHashes.count }

    /// Calls `body` with the next verified chunk; returns false when the payload is complete.
    public func withNextChunk(_ body: (ArraySlice<UInt8>, _ isLast: Bool) throws(OTAError) -> Void) throws(OTAError)
        -> Bool
    {
        guard !isComplete else { return false }
        let payload = image.payload
        let remaining = payload.storedSize - bytesVerified
        let want = Int(min(remaining, payload.chunkSize))
        let got = try archive.read(into: &buffer, offset: 0, count: want)
        guard got == want else {
            throw OTAError(.payloadTruncated, "\(bundlePath): payload '\(image.name)' ends inside chunk \(chunkIndex)")
        }
        let hasher = try Hasher(hash)
        hasher.update(buffer[0..<want])
        let digest = hasher.finalize()
        guard let expected = Hex.decode(payload.chunkHashes[chunkIndex]), ConstantTime.equals(digest.bytes, expected)
        else {
            throw OTAError(
                .payloadChunkHash,
                "\(bundlePath): payload '\(image.name)' chunk \(chunkIndex) (bytes \(bytesVerified)..<\(bytesVerified + UInt64(want))) does not match the signed hash"
            )
        }
        chunkIndex += 1
        bytesVerified += UInt64(want)
        try body(buffer[0..<want], isComplete)
        return true
    }

    /// Verifies and discards the rest of the payload.
    public func drain() throws(OTAError) {
        while try withNextChunk({ _, _ in }) {}
    }
}
