public import Foundation
public import OTACore
import OTARecorder

/// Deletes fleet-store entries past the retention period, leaving a signed tombstone.
///
/// Rules: only entries older than `years` (at least 10: UNECE R156 §7.1.2, GB 44496) before
/// `now`; `now` must agree with the store's own history: no more than a day from the system
/// clock, and no more than 30 days after the store's last ingest or purge, so a clock set far
/// ahead (`--now 2037`, or a system clock gone wrong) cannot erase the 10-year store; past those
/// bounds the purge needs an explicit override, whose reason the tombstone records. The
/// tombstone (range, count, why, by whom, on which clocks, with which override) is signed by
/// the compliance key and kept in the store for good; every export lists it.
public enum FleetPurge {
    /// How far `now` may run ahead of the store's last activity without an override.
    public static let activityWindow: TimeInterval = 30 * 86_400
    /// How far `now` may be from the system clock without an override.
    public static let clockSkew: TimeInterval = 86_400

    public struct Request: Sendable {
        public var before: Date
        public var now: Date
        public var years: Int
        public var reason: String
        /// Given to purge despite a clock that fails the checks; recorded with its reason.
        public var clockOverride: String?

        public init(before: Date, now: Date, years: Int = 10, reason: String, clockOverride: String? = nil) {
            self.before = before
            self.now = now
            self.years = years
            self.reason = reason
            self.clockOverride = clockOverride
        }
    }

    package static func purge(
        _ request: Request, store: any RecordStore, signer: ExportSigner, systemTime: Date = Date()
    ) throws(OTAError) -> PurgeTombstone {
        let years = max(request.years, 10)
        guard years <= 1000 else { throw OTAError(.usageInvalid, "--years \(years): at most 1000") }
        guard !request.reason.isEmpty, request.reason.utf8.count <= 1024 else {
            throw OTAError(.usageInvalid, "a purge states its reason (1 to 1024 bytes)")
        }
        let limit = RecordTime.adding(years: -years, to: request.now)
        guard request.before <= limit else {
            throw OTAError(
                .recordsRetention,
                "the fleet store keeps upgrade records \(years) years: deleting before \(RecordTime.format(request.before)) would reach records younger than \(RecordTime.format(limit))"
            )
        }
        let activity = try store.lastActivity()
        var doubts: [String] = []
        if abs(request.now.timeIntervalSince(systemTime)) > clockSkew {
            doubts.append(
                "the purge's time \(RecordTime.format(request.now)) is more than a day from the system clock (\(RecordTime.format(systemTime)))"
            )
        }
        if let activity, request.now.timeIntervalSince(activity) > activityWindow {
            doubts.append(
                "the purge's time \(RecordTime.format(request.now)) is more than 30 days after the store's last ingest or purge (\(RecordTime.format(activity)))"
            )
        }
        var override: String? = nil
        if !doubts.isEmpty {
            guard let given = request.clockOverride, !given.isEmpty else {
                throw OTAError(
                    .recordsPurgeClock,
                    doubts.joined(separator: "; ")
                        + ": nothing deleted; if the clock is right, purge again with an override stating why (it is recorded)"
                )
            }
            override = String(given.prefix(1024)) + " [" + doubts.joined(separator: "; ") + "]"
        }
        let cutoff = RecordTime.format(request.before)
        let algorithm = try SignatureAlgorithm.forKey(signer.key.type)
        var result: PurgeTombstone? = nil
        let (count, newest) = try store.entriesBefore(cutoff)
        try store.transaction { writer throws(OTAError) in
            var tombstone = PurgeTombstone(
                before: cutoff, deleted: Int64(count), newestDeleted: newest, now: RecordTime.format(request.now),
                systemTime: RecordTime.format(systemTime), lastActivity: activity.map(RecordTime.format),
                years: Int64(years),
                reason: request.reason, by: signer.certificate.subject,
                keyID: try signer.key.publicKey.keyID(.sha256).hex,
                clockOverride: override, store: store.identity, algorithm: algorithm, signature: [],
                certificate: signer.pem)
            tombstone.signature = try signer.key.signature(for: tombstone.json.bytes)
            let deleted = try writer.deleteEntries(before: cutoff)
            guard deleted == count else {
                throw OTAError(
                    .recordsStore,
                    "the store changed during the purge (\(deleted) deleted, \(count) counted); nothing deleted")
            }
            try writer.addPurge(tombstone)
            try writer.recordActivity(max(systemTime, activity ?? systemTime))
            result = tombstone
        }
        return result!
    }

    /// Checks a tombstone's signature and that its signer holds the compliance role.
    public static func verify(_ tombstone: PurgeTombstone, trust: TrustStore, at time: Date) throws(OTAError) {
        guard let pem = tombstone.certificate else {
            throw OTAError(
                .exportSignerRole,
                "a purge tombstone names no certificate: its signer cannot be shown to hold the compliance role")
        }
        let certificates = try Certificate.load(Array(pem.utf8), source: "purge tombstone")
        try ExportSigner.checkRole(certificates[0], chain: Array(certificates.dropFirst()), trust: trust, at: time)
        let key = try certificates[0].publicKey
        guard try key.check(tombstone.signature, for: tombstone.json.bytes, algorithm: tombstone.algorithm) == .valid
        else {
            throw OTAError(
                .recordsExportAltered, "a purge tombstone's signature does not verify under \(certificates[0].subject)")
        }
    }
}
