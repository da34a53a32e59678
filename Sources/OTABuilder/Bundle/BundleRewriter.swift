import Foundation
public import OTACore

/// Co-signing and re-wrapping: rewrite a bundle with a new signature or new recipients, the
/// manifest and payload bytes unchanged. Every payload chunk is checked against the manifest as
/// it is copied, so nobody co-signs or forwards a damaged bundle. The file is replaced
/// atomically.
public enum BundleRewriter {
    public struct Report: Codable, Sendable {
        public let bundle: String
        public let signatures: Int
        public let recipients: Int
    }

    /// Adds `signer`'s signature over the manifest (`ota bundle sign`).
    public static func cosign(path: String, signer: SignerIdentity) throws(OTAError) -> Report {
        try rewrite(path: path) { manifestBytes, _, envelope, recipients throws(OTAError) in
            // One person signs once: the same key (in any encoding), signer id or subject name.
            let newSignatory = try Signatory(certificate: signer.certificate)
            for existing in envelope.signatures {
                if let der = existing.certificates.first.flatMap({ Data(base64Encoded: $0) }),
                    let certificate = try? Certificate(der: Array(der)),
                    let signatory = try? Signatory(certificate: certificate),
                    signatory.overlaps(newSignatory)
                {
                    throw OTAError(
                        .signatureDuplicate,
                        "\(path): already signed by this signer (\(certificate.subject): same key, signer id or name); a second signature by one person counts once"
                    )
                }
            }
            var updated = envelope
            updated.signatures.append(try signer.sign(manifestBytes, type: SignatureEnvelope.manifestType))
            guard updated.signatures.count <= SignatureEnvelope.maximumSignatures else {
                throw OTAError(
                    .signatureTooMany,
                    "\(path): a bundle carries at most \(SignatureEnvelope.maximumSignatures) signatures")
            }
            return (updated, recipients)
        }
    }

    /// Adds recipients (`ota bundle rewrap`); `key` is an existing recipient's private key, used
    /// to recover the content key.
    public static func addRecipients(path: String, key: PrivateKey, recipients newRecipients: [Certificate])
        throws(OTAError) -> Report
    {
        try rewrap(path: path, key: key) { existing, contentKey, digest throws(OTAError) in
            let added = try BundleBuilder.recipients(for: newRecipients, contentKey: contentKey, digest: digest)
            let known = Set(existing.recipients.map(\.keyId))
            return Recipients(recipients: existing.recipients + added.recipients.filter { !known.contains($0.keyId) })
        }
    }

    private static func rewrap(
        path: String, key: PrivateKey,
        _ update: (Recipients, ContentKey, Digest) throws(OTAError) -> Recipients
    ) throws(OTAError) -> Report {
        try rewrite(path: path) { manifestBytes, manifest, envelope, recipients throws(OTAError) in
            guard manifest.encryption != nil else {
                throw OTAError(.bundleNotEncrypted, "\(path): the bundle is not encrypted; it has no recipients")
            }
            let digest = try Hasher.hash(manifest.bundle.suite.hash, manifestBytes)
            let contentKey = try recipients.contentKey(using: [key], manifestDigest: digest)
            return (envelope, try update(recipients, contentKey, digest))
        }
    }

    private static func rewrite(
        path: String,
        _ change: ([UInt8], Manifest, SignatureEnvelope, Recipients) throws(OTAError) -> (SignatureEnvelope, Recipients)
    ) throws(OTAError) -> Report {
        let reader = try BundleReader(path: path)
        let head = try reader.readHead()
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        let problems = ManifestRules.problems(in: manifest)
        guard problems.isEmpty else {
            throw OTAError(
                .manifestRules,
                "\(path): manifest breaks the format rules: " + problems.map(\.description).joined(separator: "; "))
        }
        // Nobody co-signs or forwards a trust update the manifest does not name.
        if let refusal = try BundleReader.checkBinding(manifest, head.trustUpdate) { throw refusal }
        let (envelope, recipients) = try change(head.manifestBytes, manifest, head.envelope, head.recipients)
        try reader.streamPayloadsUnverifiedHead(manifest: manifest)
        let payloads = manifest.images.map { image in
            (
                entry: image.payload.entry, size: image.payload.storedSize,
                source: { () throws(OTAError) -> BundleWriter.PayloadSource in
                    guard let stream = try reader.nextPayload() else {
                        throw OTAError(.bundleMissingEntry, "\(path): payload '\(image.name)' missing")
                    }
                    return .stream(stream)
                }
            )
        }
        // In place: the file itself, not a link to it (replacing the link left the file unsigned).
        try BundleWriter.write(
            to: FileSystem.resolvingLinks(path), manifest: head.manifestBytes, envelope: envelope,
            recipients: recipients, trustUpdate: head.trustUpdate, payloads: payloads, replacingInput: true)
        return Report(bundle: path, signatures: envelope.signatures.count, recipients: recipients.recipients.count)
    }
}
