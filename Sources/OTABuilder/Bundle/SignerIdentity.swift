public import OTACore

/// A signer: private key, certificate, and the intermediates that chain it to a root.
public struct SignerIdentity: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate
    public let chain: [Certificate]

    public init(key: PrivateKey, certificate: Certificate, chain: [Certificate]) {
        self.key = key
        self.certificate = certificate
        self.chain = chain
    }

    /// Loads key, certificate and optional chain files; the key must match the certificate.
    public static func load(
        key keyPath: String, certificate certificatePath: String, chain chainPath: String?,
        passphrase: PassphraseSource?
    ) throws(OTAError) -> SignerIdentity {
        let key = try PrivateKey(reference: keyPath, passphrase: passphrase)
        let certificate = try Certificate.load(contentsOf: certificatePath)[0]
        guard try key.publicKey == certificate.publicKey else {
            throw OTAError(
                .keyCertificateMismatch,
                "\(keyPath) is not the private key of \(certificatePath) (\(certificate.subject))")
        }
        guard key.type.canSign else {
            throw OTAError(.keyCannotSign, "\(keyPath): an \(key.type.rawValue) key cannot sign")
        }
        var chain: [Certificate] = []
        if let chainPath { chain = try Certificate.load(contentsOf: chainPath) }
        return SignerIdentity(key: key, certificate: certificate, chain: chain)
    }

    func sign(_ body: [UInt8], type: String) throws(OTAError) -> SignatureEnvelope.Signature {
        try SignatureEnvelope.sign(body: body, type: type, key: key, certificate: certificate, chain: chain)
    }
}
