public import OTACore
import OTARecorder

/// Loads vehicle logs into a fleet store after verifying them.
///
/// Rules: the log must verify completely (any issue rejects it whole); only entries covered by a
/// signed checkpoint are stored (an unsigned tail waits for the next ingest); a vehicle's new
/// entries must continue the chain from the stored head, or the log is rejected, never merged;
/// ingesting the same log twice adds nothing.
public enum FleetIngest {
    public struct Report: Sendable, Encodable {
        public var vin: String
        public var added: Int = 0
        public var alreadyStored: Int = 0
        /// Entries after the log's last checkpoint, left for a later ingest.
        public var unsigned: Int = 0
        public var head: ChainHead?
    }

    /// Most entries held back waiting for a checkpoint before the log is refused.
    public static let maximumUnsignedRun = 100_000

    public static func ingest(log directory: String, publicKey: PublicKey, into store: any RecordStore) throws(OTAError) -> Report {
        let meta = try LogMeta.load(LogLayout(directory: directory))
        let stored = try store.head(of: meta.vin)
        if let stored, stored.keyID != meta.keyID {
            throw OTAError(.recordsKeyChanged, "\(directory): the log of \(meta.vin) is signed by device key \(meta.keyID), the store knows \(stored.keyID)")
        }
        var report = Report(vin: meta.vin)
        var verification: VerificationReport? = nil
        try store.transaction { writer throws(OTAError) in
            var connected = stored == nil
            var pending: [StoredEntry] = []
            var lastCheckpoint: (seq: UInt64, hash: String)? = nil
            var lastSeen: (seq: UInt64, hash: String)? = nil
            let result = try LogVerifier(directory: directory, publicKey: publicKey).verify { entry throws(OTAError) in
                lastSeen = (entry.seq, entry.hash)
                if let stored, entry.seq <= stored.seq {
                    if entry.seq == stored.seq {
                        guard entry.hash == stored.hash else {
                            throw OTAError(.recordsChainFork, "\(directory): entry \(entry.seq) of \(meta.vin) differs from the stored one: the log forks from the stored chain")
                        }
                        connected = true
                    }
                    report.alreadyStored += 1
                    return
                }
                if !connected, let stored, entry.seq == stored.seq + 1, entry.prev == stored.hash { connected = true }
                guard connected else {
                    throw OTAError(.recordsChainDiscontinuous, "\(directory): the log of \(meta.vin) does not continue from the stored entry \(stored!.seq); rejected, not merged")
                }
                pending.append(try StoredEntry(vin: meta.vin, entry: entry))
                if entry.kind == .checkpoint {
                    for item in pending { try writer.insert(item) }
                    report.added += pending.count
                    pending.removeAll(keepingCapacity: true)
                    lastCheckpoint = (entry.seq, entry.hash)
                } else if pending.count > maximumUnsignedRun {
                    throw OTAError(.recordsUnsigned, "\(directory): more than \(maximumUnsignedRun) entries without a signed checkpoint")
                }
            }
            verification = result
            guard result.intact else {
                let first = result.issues[0]
                throw OTAError(first.kind.code, "\(directory): the log of \(meta.vin) does not verify: \(first)",
                                cause: result.issues.prefix(20).map(\.description).joined(separator: "; "))
            }
            if let stored, !connected {
                // An older copy of the log: everything in it must already be stored, unchanged.
                guard let lastSeen, try writer.hash(of: meta.vin, seq: lastSeen.seq) == lastSeen.hash else {
                    throw OTAError(.recordsChainDiscontinuous, "\(directory): the log of \(meta.vin) does not meet the stored chain at entry \(stored.seq); rejected, not merged")
                }
            }
            report.unsigned = pending.count
            if let lastCheckpoint {
                let head = ChainHead(vin: meta.vin, seq: lastCheckpoint.seq, hash: lastCheckpoint.hash, keyID: meta.keyID, hashAlgorithm: meta.hash.rawValue)
                try writer.setHead(head)
                report.head = head
            } else {
                report.head = stored
            }
        }
        _ = verification
        return report
    }
}
