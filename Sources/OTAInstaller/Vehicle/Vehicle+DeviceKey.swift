public import Foundation
public import OTACore
import OTARecorder

#if canImport(Glibc)
    import Glibc
#endif

/// The vehicle's device key over its lifetime. One key (`keys/device.key`, certified in
/// `keys/device.crt`) signs the record log's checkpoints, authenticates the agent (mutual TLS)
/// and unwraps bundles encrypted to the vehicle. Rotating it: the new key and its certificate
/// are staged beside the old ones, the log announces the new key in an entry signed by the old
/// one (`Recorder.rotateKey`: its certificate, the reason; then a checkpoint by each key), and
/// the staged files replace the old ones. A power loss at any point leaves the key the log's
/// last checkpoint names in charge (`settleDeviceKey`, on open).
extension Vehicle {
    /// What a device-key rotation did.
    public struct DeviceKeyRotation: Sendable, Codable {
        /// Key ids (hex SHA-256 of the SubjectPublicKeyInfo).
        public let oldKey: String
        public let newKey: String
        /// The log entry announcing the new key.
        public let entry: UInt64
        public let certificate: String
        public let notAfter: Date
    }

    static func stagedKeyPath(_ layout: VehicleLayout) -> String { layout.decryptionKey + ".next" }
    static func stagedCertificatePath(_ layout: VehicleLayout) -> String { layout.deviceCertificate + ".next" }

    /// Hands the vehicle over to `key`, certified by `certificate` (with `chain` up to the
    /// vehicle role's anchors): the certificate must hold the key and chain to this vehicle's
    /// `vehicle` anchors now (its role marker, not revoked). The log continues under the new key;
    /// the agent's default mutual-TLS identity becomes the new certificate. Bundles encrypted to
    /// the old device certificate can no longer be opened (re-wrap them to the new one).
    public func rotateDeviceKey(to key: PrivateKey, certificate: Certificate, chain: [Certificate] = [], reason: String)
        throws(OTAError)
        -> DeviceKeyRotation
    {
        guard options.recorder == nil else {
            throw OTAError(
                .usageInvalid, "this vehicle records through a recorder of its own; its device key is not rotated here")
        }
        guard try certificate.publicKey == key.publicKey else {
            throw OTAError(
                .keyCertificateMismatch,
                "the new device certificate \(certificate.subject) does not hold the new device key")
        }
        let suite = config.suite ?? .intl
        guard suite.signatureAlgorithms.contains(try SignatureAlgorithm.forKey(key.type)) else {
            throw OTAError(
                .keySuiteMismatch,
                "a \(key.type.rawValue) device key cannot sign this \(suite.rawValue)-suite vehicle's records")
        }
        let verdict = try ChainVerifier(store: try TrustStore(directory: layout.trust), time: time).verify(
            certificate, intermediates: chain, role: .vehicle)
        if case .untrusted(let error) = verdict { throw error }
        let oldKey = try PrivateKey(contentsOf: layout.decryptionKey)
        let oldID = try oldKey.publicKey.keyID(.sha256).hex
        let newID = try key.publicKey.keyID(.sha256).hex
        guard oldID != newID else { throw OTAError(.usageInvalid, "the new device key is the current one") }
        let certificatePEM = ([certificate] + chain).map(\.pem).joined()
        // Staged first: a key the log may name must exist before the log names it.
        try AtomicFileWriter.write(Array(try key.pem().utf8), to: Self.stagedKeyPath(layout), mode: 0o600)
        try AtomicFileWriter.write(Array(certificatePEM.utf8), to: Self.stagedCertificatePath(layout), mode: 0o644)
        fault(.step("device-key.staged"))
        let announced = try Self.announce(
            layout, oldKey: oldKey, newKey: key, certificate: certificatePEM, reason: reason, time: recordTime)
        fault(.step("device-key.announced"))
        try Self.settleDeviceKey(layout)
        recorder = try Self.defaultRecorder(layout: layout, config: config, debugLines: options.debugRecordLines)
        return DeviceKeyRotation(
            oldKey: oldID, newKey: newID, entry: announced.seq, certificate: certificate.subject,
            notAfter: certificate.notAfter)
    }

    /// The log step: the rotation entry and its two checkpoints; the log's writer lock is released
    /// on return.
    private static func announce(
        _ layout: VehicleLayout, oldKey: PrivateKey, newKey: PrivateKey, certificate: String, reason: String,
        time: RecordTime
    ) throws(OTAError) -> Recorder.Appended {
        let log = try Recorder.open(at: layout.recordLog, signer: oldKey, clock: FixedRecorderClock(time: time))
        let announced = try log.rotateKey(to: newKey, certificate: certificate, reason: reason)
        try log.close()
        return announced
    }

    /// Settles a rotation a power loss interrupted: when a staged key exists, the log decides —
    /// if its last checkpoint is signed by the staged key, the staged files replace the old ones;
    /// otherwise they are dropped and the old key stays in charge.
    static func settleDeviceKey(_ layout: VehicleLayout) throws(OTAError) {
        let stagedKey = stagedKeyPath(layout), stagedCertificate = stagedCertificatePath(layout)
        guard FileSystem.exists(stagedKey) else {
            if FileSystem.exists(stagedCertificate) { unlink(stagedCertificate) }
            return
        }
        let key = try PrivateKey(contentsOf: stagedKey)
        var inCharge = true
        do throws(OTAError) {
            // Opening with the staged key succeeds only when the chain's last checkpoint is its.
            _ = try Recorder.open(at: layout.recordLog, signer: key, clock: SystemClock())
        } catch  where error.code == .recordsWrongKey {
            inCharge = false
        }
        if inCharge {
            if FileSystem.exists(stagedCertificate) {
                try SystemCall.rename(
                    stagedCertificate, to: layout.deviceCertificate,
                    message: "\(stagedCertificate): cannot move the new device certificate into place")
            }
            try SystemCall.rename(
                stagedKey, to: layout.decryptionKey, message: "\(stagedKey): cannot move the new device key into place")
        } else {
            unlink(stagedKey)
            unlink(stagedCertificate)
        }
        try FileSystem.syncDirectory(layout.keys)
    }
}
