public import OTACore
public import OTARecorder

/// The certificate whose key signs an uploaded record log, bound to the vehicle that sends it.
///
/// A vehicle may authenticate to the service (mutual TLS) with another certificate than the one
/// of its record log's key: in the `gm` suite the log is signed with the SM2 device key while TLS
/// uses a P-256 `device-tls` certificate (OpenSSL's TLS has no SM2). The rule (docs/SECURITY.md,
/// Fleet service) is the same for both suites:
/// - the log signer's certificate is the one the upload carries in `X-Log-Signer-Certificate`,
///   or else the TLS client certificate itself;
/// - both are vehicle-role certificates that chain to the `vehicle` anchors and are not revoked
///   (the TLS one is checked by `ClientIdentity`, the signer's here, by the same `ChainVerifier`);
/// - both name the same VIN in the same field, the signer-id extension (`ProjectOID.signerID`);
/// - the signer certificate's key is the log's current key (`log.json` `key`).
public struct LogSigner: Sendable {
    public var publicKey: PublicKey
    /// Its certificate (PEM), stored with the vehicle's key.
    public var certificatePEM: String

    /// The signer of a log that `meta` describes, uploaded by `identity`; `escapedPEM` is the
    /// upload's `X-Log-Signer-Certificate` (URL-escaped PEM), if it carried one.
    public static func bind(
        identity: ClientIdentity, escapedPEM: String?, meta: LogMeta, trust: TrustStore, time: any TimeSource
    ) throws(OTAError) -> LogSigner {
        guard identity.role == .vehicle, let vin = identity.vin else {
            throw OTAError(
                .fleetRole,
                "\(identity.subject) holds the \(identity.role.rawValue) role; only vehicles upload record logs")
        }
        var signer = LogSigner(publicKey: identity.publicKey, certificatePEM: identity.certificatePEM)
        var subject = identity.subject
        if let escapedPEM {
            let leaf = try ClientIdentity.single(
                escapedPEM: escapedPEM, what: "log signer certificate", code: .fleetSignerCertificate)
            subject = leaf.subject
            if case .untrusted(let error) = try ChainVerifier(store: trust, time: time).verify(leaf, role: .vehicle) {
                throw OTAError(
                    .fleetSignerCertificate,
                    "the log signer certificate \(leaf.subject) is not a vehicle certificate of this fleet: \(error.message)",
                    cause: error.code.rawValue)
            }
            let signerVIN = try ClientIdentity.vehicleIdentification(leaf, code: .fleetSignerCertificate)
            guard signerVIN == vin else {
                throw OTAError(
                    .fleetVinMismatch,
                    "the TLS certificate \(identity.subject) names \(vin); the log signer certificate \(leaf.subject) names \(signerVIN)"
                )
            }
            signer = LogSigner(publicKey: try leaf.publicKey, certificatePEM: leaf.pem)
        }
        let keyID = try signer.publicKey.keyID(.sha256).hex
        guard keyID == meta.keyID else {
            throw OTAError(
                .fleetSignerCertificate,
                "\(subject) holds key \(keyID), but the log of \(meta.vin) is signed with key \(meta.keyID)"
                    + (escapedPEM == nil
                        ? ": send the certificate of the log's key in X-Log-Signer-Certificate (ota agent upload --log-cert)"
                        : ""))
        }
        return signer
    }
}
