public import Foundation
public import OTABase

/// Detached DSSE-style signatures over a document (the manifest entry of a bundle, or the
/// payload of an approval). Each signature covers `PAE(payloadType, body)` and carries its
/// algorithm and certificate chain (leaf first, DER, base64).
public struct SignatureEnvelope: Codable, Sendable, Equatable {
    public static let manifestType = "application/vnd.ota.manifest.v1+json"
    public static let approvalType = "application/vnd.ota.approval.v1+json"

    public struct Signature: Codable, Sendable, Equatable {
        public var algorithm: String
        public var signature: String
        public var certificates: [String]

        public init(algorithm: String, signature: String, certificates: [String]) {
            self.algorithm = algorithm
            self.signature = signature
            self.certificates = certificates
        }
    }

    public var payloadType: String
    public var signatures: [Signature]

    public init(payloadType: String, signatures: [Signature] = []) {
        self.payloadType = payloadType
        self.signatures = signatures
    }

    /// Most signatures an envelope may carry, and most certificates per signature.
    public static let maximumSignatures = 16
    public static let maximumCertificates = 8

    /// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`,
    /// lengths as ASCII decimal.
    public static func pae(type: String, body: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return Array("DSSEv1 \(typeBytes.count) ".utf8) + typeBytes + Array(" \(body.count) ".utf8) + body
    }

    /// Signs `body` with `key`, attaching `certificate` and its `chain`.
    public static func sign(
        body: [UInt8], type: String, key: PrivateKey, certificate: Certificate, chain: [Certificate]
    ) throws(OTAError) -> Signature {
        guard try key.publicKey == certificate.publicKey else {
            throw OTAError(
                .keyCertificateMismatch, "the signing key does not belong to the certificate \(certificate.subject)")
        }
        let algorithm = try SignatureAlgorithm.forKey(key.type)
        let signature = try key.signature(for: pae(type: type, body: body))
        return Signature(
            algorithm: algorithm.rawValue, signature: Data(signature).base64EncodedString(),
            certificates: ([certificate] + chain).map { Data($0.der).base64EncodedString() })
    }

    public func encoded() throws(OTAError) -> [UInt8] { try CanonicalJSON.encode(self) }

    /// Reads an envelope; more than `maximumSignatures` signatures, or more than
    /// `maximumCertificates` certificates on one, is refused outright (never silently ignored).
    public static func decode(_ bytes: [UInt8]) throws(OTAError) -> SignatureEnvelope {
        let envelope = try CanonicalJSON.decode(SignatureEnvelope.self, from: bytes, as: .signaturesMalformed)
        guard envelope.signatures.count <= maximumSignatures else {
            throw OTAError(
                .signatureTooMany,
                "the envelope carries \(envelope.signatures.count) signatures; at most \(maximumSignatures) are allowed"
            )
        }
        if let index = envelope.signatures.firstIndex(where: { $0.certificates.count > maximumCertificates }) {
            throw OTAError(
                .signatureCertificates, "signature \(index) carries more than \(maximumCertificates) certificates")
        }
        return envelope
    }
}

/// One signature's outcome.
public struct SignerReport: Sendable, Codable {
    public let index: Int
    public let algorithm: String
    public let subject: String?
    public let issuer: String?
    public let keyID: String?
    public let notBefore: Date?
    public let notAfter: Date?
    /// Nil when the signature verified and chained to the role's anchors.
    public let failure: OTAError.Code?
    public let failureMessage: String?
    /// Who signed (key, signer id, canonical subject), for trusted signatures: thresholds count
    /// distinct signatories, not keys or certificates.
    public var signatory: Signatory? = nil

    public var isTrusted: Bool { failure == nil }

    /// JSON keys spell identifiers `…Id`, as the signed formats do.
    enum CodingKeys: String, CodingKey {
        case index, algorithm, subject, issuer, keyID = "keyId", notBefore, notAfter, failure, failureMessage, signatory
    }
}

/// Verifies an envelope's signatures against one trust role.
package struct EnvelopeVerifier: Sendable {
    package let chains: ChainVerifier
    package let role: TrustRole

    package init(chains: ChainVerifier, role: TrustRole) {
        self.chains = chains
        self.role = role
    }

    /// Checks every signature over `body`; returns one report per signature, in order.
    /// Throws only for environmental problems (unreadable or empty trust store).
    package func verify(_ envelope: SignatureEnvelope, body: [UInt8], expectedType: String) throws(OTAError)
        -> [SignerReport]
    {
        guard envelope.payloadType == expectedType else {
            return [
                SignerReport(
                    index: 0, algorithm: "", subject: nil, issuer: nil, keyID: nil, notBefore: nil, notAfter: nil,
                    failure: .signaturePayloadType,
                    failureMessage: "envelope payload type '\(envelope.payloadType)' is not '\(expectedType)'")
            ]
        }
        let message = SignatureEnvelope.pae(type: expectedType, body: body)
        var reports: [SignerReport] = []
        for (index, entry) in envelope.signatures.prefix(SignatureEnvelope.maximumSignatures).enumerated() {
            reports.append(try verifyOne(entry, index: index, message: message))
        }
        if envelope.signatures.count > SignatureEnvelope.maximumSignatures {
            reports.append(
                SignerReport(
                    index: SignatureEnvelope.maximumSignatures, algorithm: "", subject: nil, issuer: nil, keyID: nil,
                    notBefore: nil, notAfter: nil,
                    failure: .signatureTooMany,
                    failureMessage: "more than \(SignatureEnvelope.maximumSignatures) signatures"))
        }
        return reports
    }

    private func verifyOne(_ entry: SignatureEnvelope.Signature, index: Int, message: [UInt8]) throws(OTAError)
        -> SignerReport
    {
        func fail(_ code: OTAError.Code, _ text: String, _ leaf: Certificate? = nil, keyID: String? = nil)
            -> SignerReport
        {
            SignerReport(
                index: index, algorithm: entry.algorithm, subject: leaf?.subject, issuer: leaf?.issuer, keyID: keyID,
                notBefore: leaf?.notBefore, notAfter: leaf?.notAfter, failure: code,
                failureMessage: "signature \(index): \(text)")
        }
        guard let algorithm = SignatureAlgorithm(rawValue: entry.algorithm) else {
            return fail(.signatureAlgorithmUnknown, "unknown algorithm '\(entry.algorithm)'")
        }
        guard !entry.certificates.isEmpty, entry.certificates.count <= SignatureEnvelope.maximumCertificates else {
            return fail(.signatureCertificates, "needs 1 to \(SignatureEnvelope.maximumCertificates) certificates")
        }
        var certificates: [Certificate] = []
        for (position, text) in entry.certificates.enumerated() {
            guard let der = Data(base64Encoded: text), let certificate = try? Certificate(der: Array(der)) else {
                return fail(.signatureCertificates, "certificate \(position) is not base64 DER X.509")
            }
            certificates.append(certificate)
        }
        let leaf = certificates[0]
        guard let signatureBytes = Data(base64Encoded: entry.signature) else {
            return fail(.signatureEncoding, "signature is not base64", leaf)
        }
        let publicKey: PublicKey
        do throws(OTAError) { publicKey = try leaf.publicKey } catch {
            return fail(.signatureCertificates, error.message, leaf)
        }
        let keyID = (try? publicKey.keyID().hex)
        guard publicKey.type == algorithm.keyType else {
            return fail(
                .signatureAlgorithmMismatch,
                "algorithm \(algorithm.rawValue) does not fit the certificate's \(publicKey.type.rawValue) key", leaf,
                keyID: keyID)
        }
        guard try publicKey.check(Array(signatureBytes), for: message, algorithm: algorithm) == .valid else {
            return fail(.signatureInvalid, "does not verify over the document (\(leaf.subject))", leaf, keyID: keyID)
        }
        if case .untrusted(let error) = try chains.verify(
            leaf, intermediates: Array(certificates.dropFirst()), role: role)
        {
            return fail(error.code, error.message, leaf, keyID: keyID)
        }
        let signatory: Signatory
        do throws(OTAError) { signatory = try Signatory(certificate: leaf) } catch {
            return fail(error.code, error.message, leaf, keyID: keyID)
        }
        return SignerReport(
            index: index, algorithm: algorithm.rawValue, subject: leaf.subject, issuer: leaf.issuer, keyID: keyID,
            notBefore: leaf.notBefore, notAfter: leaf.notAfter, failure: nil, failureMessage: nil, signatory: signatory)
    }

    /// The trusted signatures of `suite`, grouped by signatory (see `Signatory`): each group is
    /// one person, however many keys or certificates they signed with.
    package static func distinctSignatories(_ reports: [SignerReport], suite: Suite? = nil) -> [[SignerReport]] {
        let allowed = Set((suite?.signatureAlgorithms ?? SignatureAlgorithm.allCases).map(\.rawValue))
        let counted = reports.filter { $0.isTrusted && allowed.contains($0.algorithm) && $0.signatory != nil }
        return Signatory.distinct(counted.map { $0.signatory! }).map { group in group.map { counted[$0] } }
    }

    /// Decides the threshold: enough distinct trusted signatories (people, not keys or
    /// certificates: `Signatory`) whose algorithms belong to `suite`. A failing signature's own
    /// code is reported when the threshold is missed because of it; one signatory signing more
    /// than once is `signature.duplicate-signer`.
    package static func requireThreshold(_ reports: [SignerReport], threshold: Int, suite: Suite) throws(OTAError) {
        let allowed = Set(suite.signatureAlgorithms.map(\.rawValue))
        let groups = distinctSignatories(reports, suite: suite)
        let suiteMismatch = reports.last { $0.isTrusted && !allowed.contains($0.algorithm) }
        guard groups.count < max(threshold, 1) else { return }
        if let failure = reports.first(where: { !$0.isTrusted }) {
            let all = reports.compactMap(\.failureMessage).joined(separator: "; ")
            throw OTAError(failure.failure ?? .signatureInvalid, all)
        }
        if let mismatch = suiteMismatch {
            throw OTAError(
                .signatureSuiteMismatch,
                "signature \(mismatch.index) uses \(mismatch.algorithm), not allowed in the \(suite.rawValue) suite")
        }
        if reports.isEmpty { throw OTAError(.signatureMissing, "the document carries no signature") }
        if let repeated = groups.first(where: { $0.count > 1 }) {
            let names = repeated.map { "signature \($0.index) (\($0.subject ?? "?"))" }.joined(separator: ", ")
            throw OTAError(
                .signatureDuplicateSigner,
                "\(names) are by one signer (shared key, signer id or subject name): \(groups.count) distinct signer(s); \(threshold) required"
            )
        }
        throw OTAError(
            .signatureThreshold,
            "\(groups.count) distinct trusted signer(s); \(threshold) required (one person signing twice counts once)")
    }
}
