import Foundation
package import OTACore
package import OTARecorder

/// Loads vehicle logs into a fleet store after verifying them.
///
/// Rules: the log must verify completely (any issue rejects it whole) before anything is
/// stored: a first pass verifies, and only an intact log is read again, verified again, and
/// stored in one transaction (the second pass must end where the first did, or nothing is kept);
/// only entries covered by a signed checkpoint are stored (an unsigned tail waits for the next
/// ingest); a vehicle's new entries must continue the chain from the stored head, or the log is
/// rejected, never merged; a log that ends before the stored head (cut back on the vehicle) is
/// rejected; ingesting the same log twice adds nothing. A vehicle the store knows is checked
/// against the keys the store holds for it (learned from rotations in its chain), not the key
/// given. A log may start at the stored head itself (same entry, same hash: what a vehicle
/// uploads when the store holds the rest).
public enum FleetIngest {
    public struct Report: Sendable, Encodable {
        public var vin: String
        public var added: Int = 0
        public var alreadyStored: Int = 0
        /// Entries after the log's last checkpoint, left for a later ingest.
        public var unsigned: Int = 0
        public var headSeq: UInt64?
        public var headHash: String?
        public var keyRotations: Int = 0
    }

    /// Most entries held back waiting for a checkpoint before the log is refused.
    public static let maximumUnsignedRun = 100_000

    /// Ingests the log in `directory`. `publicKey` and `certificate` (PEM) are the device key
    /// trusted for a vehicle the store does not know yet; the certificate is kept for exports.
    /// With `rotationTrust` (the vehicle role's anchors and CRLs), every key rotation the store
    /// does not hold yet must also announce a vehicle certificate and be signed by a key not
    /// revoked now (`KeyRotationTrust`); rotations already stored are not judged again.
    /// `progress` sees the segment bytes read so far over both passes (twice the log's size in all;
    /// from 0 again when the ingest starts again).
    package static func ingest(
        log directory: String, publicKey: PublicKey, certificate: String? = nil,
        into store: any RecordStore, rotationTrust: TrustStore? = nil,
        now: @autoclosure () -> RecordTime = RecordTime(.now, source: .backend),
        progress: ((UInt64) -> Void)? = nil
    ) throws(OTAError) -> Report {
        // Another writer (another service process on the same store) may move the vehicle's head
        // between the verification and the write: the write then refuses, and the ingest starts
        // again from the new head (a repeat of that writer's upload then adds nothing).
        var attempt = 1
        while true {
            do throws(OTAError) {
                return try ingestOnce(
                    log: directory, publicKey: publicKey, certificate: certificate, into: store,
                    rotationTrust: rotationTrust,
                    now: now(), progress: progress)
            } catch  where error.code == .recordsHeadMoved && attempt < maximumAttempts {
                attempt += 1
            }
        }
    }

    /// How often an ingest starts again when other writers keep moving the head.
    static let maximumAttempts = 8

    private static func ingestOnce(
        log directory: String, publicKey: PublicKey, certificate: String?, into store: any RecordStore,
        rotationTrust: TrustStore?, now: RecordTime, progress: ((UInt64) -> Void)?
    ) throws(OTAError) -> Report {
        let meta = try LogMeta.load(LogLayout(directory: directory))
        let stored = try store.vehicle(meta.vin)
        var keys: [PublicKey] = []
        var known: [String: StoredVehicle.Key] = [:]
        if let stored {
            guard stored.genesis == meta.genesis, stored.hashAlgorithm == meta.hash else {
                throw OTAError(
                    .recordsChainFork,
                    "\(directory): the log of \(meta.vin) starts from another genesis (\(meta.genesis)) than the stored chain (\(stored.genesis))"
                )
            }
            for key in stored.keys {
                keys.append(try PublicKey(der: key.publicKey, source: "stored key \(key.keyID)"))
                known[key.keyID] = key
            }
        } else {
            keys = [publicKey]
            let keyID = try publicKey.keyID(.sha256).hex
            known[keyID] = StoredVehicle.Key(
                keyID: keyID, publicKey: try publicKey.der(), certificate: certificate, fromSeq: 0)
        }

        // A log may start at the stored head (an upload of what the store lacks).
        var verifier = LogVerifier(directory: directory, keys: keys)
        // The store keeps entries; quarantined torn bytes stay on the vehicle (an upload has none).
        verifier.checksQuarantine = false
        verifier.trustedAnchor = stored.map { ($0.headSeq, $0.headHash) }
        var firstPassBytes: UInt64 = 0
        if let progress {
            verifier.progress = { bytes in
                firstPassBytes = bytes
                progress(bytes)
            }
        }

        // Pass 1: verify everything; decide continuity. Nothing is written.
        var continuity = Continuity(stored: stored)
        var rotations = rotationTrust.map { trust in
            KeyRotationTrust(
                store: trust, instant: now.date, certificates: known.compactMapValues(\.certificate),
                current: stored?.keyID)
        }
        let first: VerificationReport
        do throws(OTAError) {
            first = try verifier.verify { verified throws(OTAError) in
                try continuity.see(verified.entry, directory: directory, vin: meta.vin)
                try rotations?.see(verified, check: stored.map { verified.entry.seq > $0.headSeq } ?? true)
            }
        } catch {
            if stored != nil, error.code == .recordsKeyMismatch {
                throw OTAError(
                    .recordsKeyChanged,
                    "\(directory): the log of \(meta.vin) is not signed by the device keys the store holds for it",
                    cause: error.message)
            }
            throw error
        }
        guard first.intact else {
            let issue = first.issues[0]
            throw OTAError(
                issue.kind.code, "\(directory): the log of \(meta.vin) does not verify: \(issue)",
                cause: first.issues.prefix(20).map(\.description).joined(separator: "; "))
        }
        try continuity.finish(report: first, directory: directory, vin: meta.vin)

        // Pass 2: read it again, verify it again, store what the checkpoints cover.
        if let progress {
            let base = firstPassBytes
            verifier.progress = { progress(base + $0) }
        }
        var report = Report(vin: meta.vin)
        try store.transaction { writer throws(OTAError) in
            let current = try writer.lockVehicle(meta.vin)
            guard current == stored.map({ ChainHead(seq: $0.headSeq, hash: $0.headHash) }) else {
                throw OTAError(
                    .recordsHeadMoved,
                    "\(directory): another writer stored entries of \(meta.vin) while this log was verified (head \(current.map { String($0.seq) } ?? "none"), verified against \(stored.map { String($0.headSeq) } ?? "none"))"
                )
            }
            var pending: [(StoredEntry, EntryBody)] = []
            var lastCheckpoint: (seq: UInt64, hash: String, key: String)? = nil
            var announced: StoredVehicle.Key? = nil
            let second = try verifier.verify { verified throws(OTAError) in
                let entry = verified.entry
                if let stored, entry.seq <= stored.headSeq {
                    report.alreadyStored += 1
                    return
                }
                pending.append((StoredEntry(vin: meta.vin, verified: verified), verified.body))
                switch verified.body {
                case .keyRotation(let rotation):
                    announced = StoredVehicle.Key(
                        keyID: rotation.key, publicKey: rotation.publicKey, certificate: rotation.certificate,
                        fromSeq: entry.seq + 2)
                case .checkpoint(let checkpoint):
                    if let key = announced, key.keyID == checkpoint.key, known[key.keyID] == nil {
                        known[key.keyID] = key
                        report.keyRotations += 1
                    }
                    for (item, body) in pending {
                        try writer.insert(item, body: body)
                        if case .record(let record) = body {
                            for change in SoftwareChange.changes(vin: meta.vin, seq: item.seq, record: record) {
                                try writer.addSoftwareChange(change)
                            }
                        }
                    }
                    report.added += pending.count
                    pending.removeAll(keepingCapacity: true)
                    lastCheckpoint = (entry.seq, entry.hash, checkpoint.key)
                default:
                    if pending.count > maximumUnsignedRun {
                        throw OTAError(
                            .recordsUnsigned,
                            "\(directory): more than \(maximumUnsignedRun) entries without a signed checkpoint")
                    }
                }
            }
            guard second.intact, second.lastSeq == first.lastSeq, second.lastHash == first.lastHash else {
                throw OTAError(
                    .recordsChanged,
                    "\(directory): the log of \(meta.vin) changed while it was ingested; nothing stored")
            }
            report.unsigned = pending.count
            if let lastCheckpoint {
                try writer.setVehicle(
                    StoredVehicle(
                        vin: meta.vin, hashAlgorithm: meta.hash, genesis: meta.genesis, headSeq: lastCheckpoint.seq,
                        headHash: lastCheckpoint.hash,
                        keyID: lastCheckpoint.key, keys: known.values.sorted { $0.fromSeq < $1.fromSeq }))
                report.headSeq = lastCheckpoint.seq
                report.headHash = lastCheckpoint.hash
            } else {
                report.headSeq = stored?.headSeq
                report.headHash = stored?.headHash
            }
            try writer.recordActivity(now.date)
        }
        return report
    }

    /// Whether a log continues the stored chain: decided in the first pass, before any write.
    struct Continuity {
        let stored: StoredVehicle?
        var connected: Bool
        var first: UInt64?

        init(stored: StoredVehicle?) {
            self.stored = stored
            connected = stored == nil
        }

        mutating func see(_ entry: LogEntry, directory: String, vin: String) throws(OTAError) {
            if first == nil { first = entry.seq }
            guard let stored else { return }
            if entry.seq == stored.headSeq {
                guard entry.hash == stored.headHash else {
                    throw OTAError(
                        .recordsChainFork,
                        "\(directory): entry \(entry.seq) of \(vin) differs from the stored one: the log forks from the stored chain"
                    )
                }
                connected = true
            } else if entry.seq == stored.headSeq + 1, entry.prev == stored.headHash {
                connected = true
            }
        }

        func finish(report: VerificationReport, directory: String, vin: String) throws(OTAError) {
            guard let stored else { return }
            guard let last = report.lastSeq, last >= stored.headSeq else {
                throw OTAError(
                    .recordsBehindStore,
                    "\(directory): the log of \(vin) ends at entry \(report.lastSeq.map(String.init) ?? "none"), before entry \(stored.headSeq) the store already holds: it was cut back on the vehicle"
                )
            }
            guard connected else {
                throw OTAError(
                    .recordsChainDiscontinuous,
                    "\(directory): the log of \(vin) starts at entry \(first.map(String.init) ?? "none") and does not meet the stored entry \(stored.headSeq); rejected, not merged"
                )
            }
        }
    }
}
