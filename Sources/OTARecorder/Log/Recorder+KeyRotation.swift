public import OTACore

/// Renewing the device key without breaking the chain.
extension Recorder {
    /// Rotates the device key, keeping one chain: an entry announcing `newSigner`'s public key
    /// (and certificate), a checkpoint signed by the current key over it, `log.json` naming the
    /// new key, then a checkpoint signed by the new key, which signs every later one. A
    /// verifier that trusts the old key learns the new one from the chain; the rotation counts
    /// only when those three entries follow each other (a crash in between leaves the old key
    /// in charge; rotate again). For the trust lifecycle (a device key renewed, issue 12).
    @discardableResult
    public func rotateKey(to newSigner: PrivateKey, certificate: String? = nil, reason: String) throws(OTAError)
        -> Appended
    {
        guard newSigner.type.canSign else {
            throw OTAError(
                .recordsKey, "the new device key (\(newSigner.type.rawValue)) cannot sign record checkpoints")
        }
        let newAlgorithm = try SignatureAlgorithm.forKey(newSigner.type)
        let publicKey = try newSigner.publicKey
        let keyID = try publicKey.keyID(.sha256).hex
        guard keyID != meta.keyID else { throw OTAError(.usageInvalid, "the new device key is the current one") }
        guard !reason.isEmpty, reason.utf8.count <= 256 else {
            throw OTAError(.usageInvalid, "a key rotation states its reason (1 to 256 bytes)")
        }
        if let certificate {
            guard let first = try Certificate.load(Array(certificate.utf8), source: "new device certificate").first,
                try first.publicKey.keyID(.sha256).hex == keyID
            else { throw OTAError(.recordsKeyMismatch, "the new device certificate does not hold the new device key") }
        }
        if segmentSize >= configuration.segmentBytes { try rotate() }
        let appended = try write(
            kind: .keyRotation,
            body: EntryBody.keyRotation(
                .init(
                    key: keyID, publicKey: try publicKey.der(), certificate: certificate, reason: reason,
                    time: clock.now())
            ).json)
        try checkpoint()
        signer = newSigner
        algorithm = newAlgorithm
        meta.keyID = keyID
        try LogIO.replace(layout.metaPath, with: meta.json.bytes + [0x0a], durable: durable)
        try checkpoint()
        return appended
    }
}
