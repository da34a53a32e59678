public import Foundation
public import OTACore

/// What a verifier holding the vehicle role's trust store (anchors and CRLs) adds to the chain
/// rules for a device-key rotation: the chain alone proves that the outgoing key signed it, not
/// that this key may still hand the log over, nor that the new key belongs to a vehicle.
///
/// - The announced key comes with a certificate for that key that chains to the `vehicle` role's
///   anchors (its marker, not revoked) at `instant`.
/// - The outgoing key's certificate (given for the first key, announced by the previous
///   rotation for later ones) is not revoked at `instant`: a key the CA revoked (stolen, say)
///   cannot hand the log over to a key of its holder's choosing.
///
/// Feed every verified entry in order (`see`); a rotation that breaks a rule throws
/// `records.rotation-untrusted` or `records.rotation-revoked`.
public struct KeyRotationTrust: Sendable {
    public let store: TrustStore
    /// The instant the rules are judged at: now for a fleet store taking new entries (a rotation
    /// it stored before the revocation stays stored), the rotation's own recorded time for an
    /// audit of a whole log (`instant: nil`).
    public let instant: Date?
    /// Device key id → certificate (PEM), as known so far.
    private var certificates: [String: String]
    /// The key that signs the current checkpoints.
    private var current: String?

    public init(store: TrustStore, instant: Date?, certificates: [String: String] = [:], current: String? = nil) {
        self.store = store
        self.instant = instant
        self.certificates = certificates
        self.current = current
    }

    /// Follows the signing key through the log and checks each rotation; `check` false follows
    /// without checking (entries a store already holds).
    public mutating func see(_ verified: VerifiedEntry, check: Bool = true) throws(OTAError) {
        switch verified.body {
        case .genesis(let genesis):
            current = genesis.key
        case .checkpoint(let checkpoint):
            current = checkpoint.key
        case .keyRotation(let rotation):
            if check { try self.check(rotation, seq: verified.entry.seq) }
            if let certificate = rotation.certificate { certificates[rotation.key] = certificate }
        default:
            break
        }
    }

    func check(_ rotation: EntryBody.KeyRotation, seq: UInt64) throws(OTAError) {
        let at = instant ?? rotation.time.date
        guard let pem = rotation.certificate,
            let certificate = try? Certificate.load(Array(pem.utf8), source: "key rotation \(seq)").first
        else {
            throw OTAError(
                .recordsRotationUntrusted,
                "key rotation \(seq) announces key \(rotation.key.prefix(16))… without a certificate; a vehicle-role certificate is required"
            )
        }
        guard try certificate.publicKey.keyID(.sha256).hex == rotation.key else {
            throw OTAError(
                .recordsRotationUntrusted,
                "key rotation \(seq): the announced certificate \(certificate.subject) is not for the announced key")
        }
        let anchors = try store.anchors(for: .vehicle), crls = try store.revocationLists(for: .vehicle)
        var verdict = try ChainVerifier.verify(
            certificate, intermediates: [], anchors: anchors, crls: crls, role: .vehicle, at: at, staleCRLPolicy: .allow
        )
        // An audit of an older rotation holds CRLs issued after it: the chain is judged when they
        // speak, the certificate's validity and revocation at the rotation's own time.
        if case .untrusted(let error) = verdict, error.code == .crlNotYetValid,
            let spoken = crls.map(\.thisUpdate).max(), spoken > at
        {
            verdict = try ChainVerifier.verify(
                certificate, intermediates: [], anchors: anchors, crls: crls, role: .vehicle, at: spoken,
                staleCRLPolicy: .allow)
            if case .untrusted(let later) = verdict, later.code == .certificateExpired, certificate.notBefore <= at,
                at < certificate.notAfter
            {
                verdict = .trusted(chain: [certificate])
            }
        }
        // A certificate revoked only after `at` was good then.
        if case .untrusted(let error) = verdict {
            if error.code == .certificateRevoked, try revocation(of: certificate, at: at) == nil {
                return try checkOutgoing(seq: seq, at: at)
            }
            throw OTAError(
                .recordsRotationUntrusted,
                "key rotation \(seq): the new device certificate \(certificate.subject) is not trusted: \(error.message)",
                cause: error.code.rawValue)
        }
        try checkOutgoing(seq: seq, at: at)
    }

    /// The key signing the rotation must not be revoked at `at`.
    func checkOutgoing(seq: UInt64, at: Date) throws(OTAError) {
        guard let current, let outgoingPEM = certificates[current],
            let outgoing = try? Certificate.load(Array(outgoingPEM.utf8), source: "device certificate").first
        else {
            throw OTAError(
                .recordsRotationUntrusted,
                "key rotation \(seq): the certificate of the key that signs it (\(current?.prefix(16) ?? "none")…) is unknown, so its revocation cannot be checked"
            )
        }
        if let revoked = try revocation(of: outgoing, at: at) {
            throw OTAError(
                .recordsRotationRevoked,
                "key rotation \(seq) is signed by the device key of \(outgoing.subject) (serial \(outgoing.serialNumber)), revoked at \(Timestamp.format(revoked.date))\(revoked.reason.map { " (\($0.rawValue))" } ?? ""): a revoked key cannot hand the log over"
            )
        }
    }

    /// The vehicle CRLs' entry revoking `certificate` at or before `at`, if any.
    func revocation(of certificate: Certificate, at: Date) throws(OTAError) -> Revocation? {
        for crl in try store.revocationLists(for: .vehicle) where crl.issuer == certificate.issuer {
            for revoked in try crl.entries where revoked.serialHex == certificate.serialNumber && revoked.date <= at {
                return revoked
            }
        }
        return nil
    }
}
