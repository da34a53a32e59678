public import Foundation
public import OTABase

/// A regulatory approval for an automated-driving change (MIIT 2021 No.103 §4): the approval
/// authority names the approval number, the bundle (by manifest digest), the vehicle models, and
/// the validity. Signed by an `approval`-role certificate, never a release one.
public struct Approval: Codable, Sendable, Equatable {
    public static let schemaIdentifier = "ota-approval/1"

    public var schema: String
    public var approvalId: String
    public var bundleId: String
    /// The suite hash of the bundle's manifest bytes.
    public var manifestDigest: String
    public var digestAlgorithm: HashAlgorithm
    public var models: [String]
    public var validFrom: Date
    public var validUntil: Date
    public var issued: Date

    public init(
        approvalId: String, bundleId: String, manifestDigest: Digest, models: [String], validFrom: Date,
        validUntil: Date, issued: Date
    ) {
        schema = Approval.schemaIdentifier
        self.approvalId = approvalId
        self.bundleId = bundleId
        self.manifestDigest = manifestDigest.hex
        digestAlgorithm = manifestDigest.algorithm
        self.models = models
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.issued = issued
    }
}

/// An approval as a file: a DSSE envelope that carries its payload (base64) and signatures.
public struct SignedApproval: Codable, Sendable {
    public var payloadType: String
    public var payload: String
    public var signatures: [SignatureEnvelope.Signature]

    public init(payload: [UInt8], signatures: [SignatureEnvelope.Signature]) {
        payloadType = SignatureEnvelope.approvalType
        self.payload = Data(payload).base64EncodedString()
        self.signatures = signatures
    }

    public static let maximumSize = 1 << 20

    public static func decode(_ bytes: [UInt8]) throws(OTAError) -> SignedApproval {
        guard bytes.count <= maximumSize else {
            throw OTAError(.approvalMalformed, "approval file larger than \(maximumSize) bytes")
        }
        return try CanonicalJSON.decode(SignedApproval.self, from: bytes, as: .approvalMalformed)
    }
}

/// Checks an approval for one bundle and one vehicle model.
public struct ApprovalVerifier: Sendable {
    public let chains: ChainVerifier

    public init(chains: ChainVerifier) { self.chains = chains }

    /// Returns the approval if it is signed by the approval authority, agrees with the manifest in
    /// every field it states (the manifest digest and its algorithm, the bundle id, an
    /// `ad-approval` reference of the manifest with the approval's number), covers `model`, and is
    /// valid now; otherwise throws the reason (`approval.*`).
    public func verify(_ bytes: [UInt8], manifest: Manifest, manifestDigest: Digest, model: String) throws(OTAError)
        -> Approval
    {
        let signed = try SignedApproval.decode(bytes)
        guard signed.payloadType == SignatureEnvelope.approvalType, let payload = Data(base64Encoded: signed.payload)
        else {
            throw OTAError(.approvalMalformed, "approval: wrong payload type or payload not base64")
        }
        let envelope = SignatureEnvelope(payloadType: signed.payloadType, signatures: signed.signatures)
        let reports = try EnvelopeVerifier(chains: chains, role: .approval).verify(
            envelope, body: Array(payload), expectedType: SignatureEnvelope.approvalType)
        guard reports.contains(where: \.isTrusted) else {
            let reasons = reports.compactMap(\.failureMessage).joined(separator: "; ")
            throw OTAError(
                .approvalUntrusted,
                "approval is not signed by a trusted approval authority: \(reasons.isEmpty ? "no signature" : reasons)",
                cause: reports.first?.failure?.rawValue)
        }
        let approval = try CanonicalJSON.decode(Approval.self, from: Array(payload), as: .approvalMalformed)
        guard approval.schema == Approval.schemaIdentifier else {
            throw OTAError(.approvalMalformed, "approval: unknown schema \(approval.schema)")
        }
        guard approval.digestAlgorithm == manifestDigest.algorithm, let named = Hex.decode(approval.manifestDigest),
            ConstantTime.equals(named, manifestDigest.bytes)
        else {
            throw OTAError(
                .approvalBundleMismatch,
                "approval \(approval.approvalId) is for another bundle (manifest digest \(approval.manifestDigest))")
        }
        guard approval.bundleId == manifest.bundle.id else {
            throw OTAError(
                .approvalBundleMismatch,
                "approval \(approval.approvalId) names bundle '\(approval.bundleId)'; this bundle is '\(manifest.bundle.id)'"
            )
        }
        let references = manifest.regulatory.filter { $0.type == .adApproval }
        guard references.contains(where: { $0.number == approval.approvalId }) else {
            let named = references.map(\.number).joined(separator: ", ")
            throw OTAError(
                .approvalNumberMismatch,
                "approval \(approval.approvalId) is not the automated-driving approval the manifest names (\(named.isEmpty ? "none" : named))"
            )
        }
        guard approval.models.contains(model) else {
            throw OTAError(
                .approvalModelMismatch,
                "approval \(approval.approvalId) covers models \(approval.models.joined(separator: ", ")), not \(model)"
            )
        }
        let now = chains.time.now()
        guard now >= approval.validFrom else {
            throw OTAError(
                .approvalNotYetValid,
                "approval \(approval.approvalId) is valid from \(Timestamp.format(approval.validFrom))")
        }
        guard now < approval.validUntil else {
            throw OTAError(
                .approvalExpired, "approval \(approval.approvalId) expired at \(Timestamp.format(approval.validUntil))")
        }
        return approval
    }
}
