public import Foundation
public import OTACore

/// The approval authority's side of `ota approve`: reads a bundle's manifest, and signs an
/// approval naming its digest, the approval number, models and validity.
public enum ApprovalIssuer {
    public struct Report: Codable, Sendable {
        public let approval: String
        public let approvalId: String
        public let bundleId: String
        public let manifestDigest: String
        public let models: [String]
        public let validUntil: Date
    }

    public static func approve(
        bundlePath: String, signer: SignerIdentity, approvalID: String, models: [String], validFrom: Date? = nil,
        validUntil: Date, outputPath: String, now: Date = Date()
    ) throws(OTAError) -> Report {
        guard !approvalID.isEmpty else { throw OTAError(.usageApprovalId, "--approval-id must not be empty") }
        guard !models.isEmpty else { throw OTAError(.usageModels, "--models needs at least one vehicle model") }
        let start = validFrom ?? now
        guard validUntil > start else {
            throw OTAError(.usageValidUntil, "--valid-until must be after the start of validity")
        }
        let head = try BundleReader(path: bundlePath).readHead()
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        let digest = try Hasher.hash(manifest.bundle.suite.hash, head.manifestBytes)
        let unknown = models.filter { !manifest.targets.models.contains($0) }
        guard unknown.isEmpty else {
            throw OTAError(
                .usageModels,
                "bundle \(manifest.bundle.id) does not target \(unknown.joined(separator: ", ")) (targets: \(manifest.targets.models.joined(separator: ", ")))"
            )
        }
        let named = manifest.regulatory.filter { $0.type == .adApproval }.map(\.number)
        guard named.contains(approvalID) else {
            throw OTAError(
                .usageApprovalId,
                "bundle \(manifest.bundle.id) names \(named.isEmpty ? "no ad-approval reference" : "ad-approval \(named.joined(separator: ", "))"); --approval-id \(approvalID) is not one of them"
            )
        }
        let approval = Approval(
            approvalId: approvalID, bundleId: manifest.bundle.id, manifestDigest: digest, models: models,
            validFrom: start,
            validUntil: validUntil, issued: now)
        let payload = try CanonicalJSON.encode(approval)
        let signed = SignedApproval(
            payload: payload, signatures: [try signer.sign(payload, type: SignatureEnvelope.approvalType)])
        try AtomicFileWriter.write(try CanonicalJSON.encode(signed), to: outputPath, refusingInputs: true)
        return Report(
            approval: outputPath, approvalId: approvalID, bundleId: manifest.bundle.id, manifestDigest: digest.hex,
            models: models, validUntil: validUntil)
    }
}
