public import Foundation
public import OTACore

/// Who signs an export: the compliance key, its certificate and the chain up to (not
/// including) the compliance root. The certificate travels in the export (`signer.pem`), so a
/// third party can check the signer holds the `compliance` role (`export.signer-role`).
public struct ExportSigner: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate
    public let chain: [Certificate]

    /// Refuses a certificate that does not hold `key`.
    public init(key: PrivateKey, certificate: Certificate, chain: [Certificate] = []) throws(OTAError) {
        guard try certificate.publicKey.keyID(.sha256).hex == key.publicKey.keyID(.sha256).hex else {
            throw OTAError(
                .keyCertificateMismatch,
                "the export signing key does not belong to the certificate \(certificate.subject)")
        }
        self.key = key
        self.certificate = certificate
        self.chain = chain
    }

    /// Checks the certificate chains to the `compliance` anchors of `trust` at `time`.
    public func checkRole(trust: TrustStore, at time: Date) throws(OTAError) {
        try Self.checkRole(certificate, chain: chain, trust: trust, at: time)
    }

    /// Whether `certificate` (with `chain`) chains to the `compliance` anchors: a release,
    /// approval or vehicle key is refused (`export.signer-role`).
    static func checkRole(_ certificate: Certificate, chain: [Certificate], trust: TrustStore, at time: Date)
        throws(OTAError)
    {
        let verdict = try ChainVerifier(store: trust, time: FixedTime(time)).verify(
            certificate, intermediates: chain, role: .compliance)
        if case .untrusted(let error) = verdict {
            throw OTAError(
                .exportSignerRole,
                "the export signer \(certificate.subject) does not hold the compliance role: \(error.message)",
                cause: error.code.rawValue)
        }
    }

    /// `signer.pem`: the certificate, then the chain.
    var pem: String { ([certificate] + chain).map(\.pem).joined() }
}
