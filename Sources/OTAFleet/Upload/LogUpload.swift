package import Foundation
public import OTACompliance
package import OTACore
public import OTARecorder

/// One vehicle's record-log upload (`ota-fleet-upload/1`, docs/FORMAT.md): the log's `log.json`
/// on the first line, then entry lines in order, exactly as the vehicle's segments hold them,
/// starting at entry 0 or at the checkpoint the fleet store last acknowledged.
///
/// Handling: the lines become a log directory of their own (never the store), the VIN of
/// `log.json` must be the certificate's, the log's signer is bound to the sender (`LogSigner`:
/// same VIN, both vehicle-role certificates of this fleet, the signer's key the log's), and
/// `FleetIngest` verifies the whole chain and every checkpoint signature before one transaction
/// stores the new entries. The answer is a signed acknowledgement of the stored head.
public enum LogUpload {
    public static let format = LogUploadFormat.name
    /// The largest upload one request may carry; a vehicle sends more in several requests.
    public static let defaultMaximumBytes = 64 << 20

    /// What the service answers.
    public struct Result: Sendable {
        public var acknowledgement: FleetAcknowledgement
        public var report: FleetIngest.Report

        /// `{"acknowledgement": …, "added": n, "alreadyStored": n, "unsigned": n}`.
        package var json: JSONValue {
            var out = JSONObjectWriter()
            out.set("acknowledgement", json: acknowledgement.json)
            out.set("added", Int64(report.added))
            out.set("alreadyStored", Int64(report.alreadyStored))
            out.set("unsigned", Int64(report.unsigned))
            return out.value
        }
    }

    /// Splits, stages and ingests an upload from `identity` (a verified vehicle certificate) for
    /// the VIN of the request path; `signerCertificate` is the upload's URL-escaped
    /// `X-Log-Signer-Certificate`, verified against `trust` (which also judges key rotations).
    package static func handle(
        _ body: [UInt8], pathVIN: String, identity: ClientIdentity, store: any RecordStore, signer: ExportSigner,
        scratch: String, trust: TrustStore, signerCertificate: String? = nil, now: Date = Date()
    ) throws(OTAError) -> Result {
        guard identity.role == .vehicle, let certifiedVIN = identity.vin else {
            throw OTAError(
                .fleetRole,
                "\(identity.subject) holds the \(identity.role.rawValue) role; only vehicles upload record logs")
        }
        guard pathVIN == certifiedVIN else {
            throw OTAError(
                .fleetVinMismatch, "\(identity.subject) may upload only the log of \(certifiedVIN), not of \(pathVIN)")
        }
        guard let newline = body.firstIndex(of: 0x0a) else {
            throw OTAError(
                .fleetUploadMalformed, "the upload has no log.json line (\(format): log.json, then entry lines)")
        }
        let meta = Array(body[..<newline])
        let entries = body[(newline + 1)...]
        guard !entries.isEmpty else { throw OTAError(.fleetUploadMalformed, "the upload holds no entry") }
        guard entries.last == 0x0a else {
            throw OTAError(.fleetUploadMalformed, "the upload ends inside an entry line (a cut upload): nothing stored")
        }
        let firstLine = entries.prefix { $0 != 0x0a }
        guard let first = LogEntry.parse(firstLine) else {
            throw OTAError(.fleetUploadMalformed, "the upload's first entry line is not an entry")
        }
        // The upload's own HEAD is its last checkpoint: what it covers is what can be stored.
        var headLine: ArraySlice<UInt8>? = nil
        for line in entries.split(separator: 0x0a) where LogEntry.parse(line)?.kind == .checkpoint { headLine = line }
        guard let headLine else {
            throw OTAError(
                .fleetUploadMalformed, "the upload holds no signed checkpoint: nothing in it could be stored")
        }
        let directory = scratch + "/upload-" + Hex.encode(try SecureRandom.bytes(8))
        try FileSystem.createDirectory(directory, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // What the checks say names the upload's files as the vehicle sent them (`log.json`,
        // `segment-…`), never the service's staging directory (it reached vehicles and the
        // refusal log).
        do throws(OTAError) {
            let layout = LogLayout(directory: directory)
            try AtomicFileWriter.write(meta + [0x0a], to: layout.metaPath)
            try AtomicFileWriter.write(Array(entries), to: layout.path(LogLayout.segmentName(firstSeq: first.seq)))
            try AtomicFileWriter.write(Array(headLine) + [0x0a], to: layout.headPath)
            let logMeta = try LogMeta.load(layout)
            guard logMeta.vin == certifiedVIN else {
                throw OTAError(
                    .fleetVinMismatch,
                    "\(identity.subject) may upload only the log of \(certifiedVIN); this log.json names \(logMeta.vin)"
                )
            }
            let logSigner = try LogSigner.bind(
                identity: identity, escapedPEM: signerCertificate, meta: logMeta, trust: trust, time: FixedTime(now))
            let report = try FleetIngest.ingest(
                log: directory, publicKey: logSigner.publicKey, certificate: logSigner.certificatePEM, into: store,
                rotationTrust: trust, now: RecordTime(now, source: .backend))
            guard let vehicle = try store.vehicle(certifiedVIN) else {
                throw OTAError(
                    .fleetUploadMalformed,
                    "the upload holds no signed checkpoint: nothing could be stored for \(certifiedVIN)")
            }
            let acknowledgement = try FleetAcknowledgement.sign(
                vin: certifiedVIN, through: vehicle.headSeq, hash: vehicle.headHash, genesis: vehicle.genesis,
                store: store.identity,
                time: RecordTime.format(now), key: signer.key,
                certificate: ([signer.certificate] + signer.chain).map(\.pem).joined())
            return Result(acknowledgement: acknowledgement, report: report)
        } catch {
            throw Self.naming(error, staged: directory)
        }
    }

    /// `error` with the staging directory taken out of its texts.
    static func naming(_ error: OTAError, staged directory: String) -> OTAError {
        func strip(_ text: String) -> String {
            text.replacingOccurrences(of: directory + "/", with: "").replacingOccurrences(
                of: directory, with: "the upload")
        }
        return OTAError(
            error.code, strip(error.message), cause: error.cause.map(strip),
            related: error.related.map { naming($0, staged: directory) })
    }
}
