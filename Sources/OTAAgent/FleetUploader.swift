public import Foundation
public import OTACore
public import OTAInstaller
import OTARecorder
public import OTATransport

/// Sends the vehicle's record log to the fleet service and keeps its acknowledgement
/// (docs/COMPLIANCE.md, Uploads): asks the service which checkpoint it holds, sends the entries
/// from there on (`ota-fleet-upload/1`, at most `maximumEntries` a request, each request ending
/// at a checkpoint), checks the signed acknowledgement (a `compliance` role signer in the
/// vehicle's trust store, this VIN, this log, an entry the log holds with that hash), keeps it,
/// records it in the log's `ACK`, and prunes: only whole segments older than the retention and
/// acknowledged (`Recorder.prune`). A dropped connection is retried by the transport; an upload
/// cut off anywhere is simply sent again (the service stores by entry hash, idempotently).
public struct FleetUploader {
    public struct Report: Codable, Sendable {
        /// The acknowledged entry and its hash.
        public var through: UInt64?
        public var hash: String?
        public var requests = 0
        public var entriesSent = 0
        public var added = 0
        /// Segments removed by the prune after the acknowledgement.
        public var prunedSegments = 0
        /// Why nothing was pruned when the prune's clock checks refused (the upload still counts).
        public var pruneRefused: String?
        public var store: String?
    }

    /// The record log, the device key that signs it, the trust store that holds the
    /// `compliance` anchors, and where the latest acknowledgement is kept (as the service signed it).
    public let log: String
    public let deviceKey: String
    public let trust: String
    public let acknowledgementPath: String
    /// The certificate of the log's key (PEM), sent with every upload when the TLS certificate is
    /// another (gm: the SM2 device certificate beside a P-256 TLS one); nil: the TLS certificate
    /// is the log's.
    public let signerCertificate: String?
    public let fleet: String
    let transport: HTTPTransport
    public var maximumEntries: Int

    public init(
        log: String, deviceKey: String, trust: String, acknowledgementPath: String, fleet: String,
        transport: TransportOptions,
        maximumEntries: Int = 4096, signerCertificate: String? = nil
    ) {
        self.log = log
        self.signerCertificate = signerCertificate
        self.deviceKey = deviceKey
        self.trust = trust
        self.acknowledgementPath = acknowledgementPath
        self.fleet = fleet.hasSuffix("/") ? String(fleet.dropLast()) : fleet
        self.transport = HTTPTransport(options: transport)
        self.maximumEntries = max(2, maximumEntries)
    }

    /// The uploader of a vehicle's own log (`DIR/records`), keeping the acknowledgement in
    /// `DIR/private/agent/fleet-ack.json`; the log signer's certificate is `signerCertificate`,
    /// or else the vehicle's `keys/device.crt` when it has one.
    public init(
        vehicle: Vehicle, fleet: String, transport: TransportOptions, maximumEntries: Int = 4096,
        signerCertificate: String? = nil
    ) {
        self.init(
            log: vehicle.layout.recordLog, deviceKey: vehicle.layout.decryptionKey, trust: vehicle.layout.trust,
            acknowledgementPath: vehicle.layout.privateDirectory + "/agent/fleet-ack.json", fleet: fleet,
            transport: transport,
            maximumEntries: maximumEntries,
            signerCertificate: signerCertificate
                ?? (FileSystem.exists(vehicle.layout.deviceCertificate) ? vehicle.layout.deviceCertificate : nil))
    }

    public func upload(now: Date = Date()) throws(OTAError) -> Report {
        let layout = LogLayout(directory: log)
        let metaBytes = try FileSystem.read(layout.metaPath, limit: 64 << 10)
        let meta = try LogMeta.load(layout)
        let vin = meta.vin
        let lines = try Self.entryLines(layout)
        guard let last = lines.last else {
            throw OTAError(.recordsMalformed, "\(layout.directory): the log holds no entry")
        }
        var headers: [String] = []
        if let signerCertificate {
            // URL-escaped PEM, as nginx forwards the TLS certificate (docs/FORMAT.md, Fleet service).
            var unreserved = CharacterSet.alphanumerics
            unreserved.insert(charactersIn: "-._~")
            let pem = String(decoding: try FileSystem.read(signerCertificate, limit: 64 << 10), as: UTF8.self)
            headers.append(
                "X-Log-Signer-Certificate: " + (pem.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""))
        }
        var report = Report()
        var start = lines[0].seq
        if let head = try remoteHead(vin: vin), head.genesis == meta.genesis,
            let held = lines.first(where: { $0.seq == head.through }), held.hash == head.hash
        {
            start = head.through
            report.through = head.through
            report.hash = head.hash
        }
        var acknowledgement: FleetAcknowledgement? = nil
        while true {
            let pending = lines.filter { $0.seq >= start }
            guard pending.count > 1 || report.through == nil else { break }
            var batch = Array(pending.prefix(maximumEntries))
            if batch.count < pending.count, let cut = batch.lastIndex(where: { $0.isCheckpoint }), cut > 0 {
                batch = Array(batch[...cut])
            }
            let body = LogUploadFormat.body(meta: metaBytes, lines: batch.map(\.bytes))
            let (status, answer) = try transport.post(
                fleet + "/v1/vehicles/\(vin)/log", body: body, contentType: "application/octet-stream",
                headers: headers, maxLength: 1 << 20)
            report.requests += 1
            report.entriesSent += batch.count
            guard status == 200 else { throw Self.refusal(status: status, answer) }
            let (ack, added) = try checked(answer, vin: vin, meta: meta, lines: lines, now: now)
            report.added += added
            acknowledgement = ack
            let progressed = ack.through > (report.through ?? 0) || report.through == nil
            report.through = ack.through
            report.hash = ack.hash
            report.store = ack.store
            start = ack.through
            guard progressed, batch.last?.seq != last.seq, ack.through < last.seq else { break }
        }
        if let acknowledgement {
            try FileSystem.createDirectory(Self.parent(acknowledgementPath), mode: 0o700)
            try AtomicFileWriter.write(acknowledgement.json.bytes + [0x0a], to: acknowledgementPath, mode: 0o600)
        }
        if let through = report.through, let hash = report.hash {
            // The prune is judged at the upload's time (the system clock unless a caller gives one).
            let recorder = try openLog(clock: UploadClock(time: now))
            defer { try? recorder.close() }
            try recorder.acknowledge(
                through: through, hash: hash,
                by: Self.storeName(report.store ?? acknowledgement?.store ?? "fleet-store"))
            do throws(OTAError) {
                report.prunedSegments = try recorder.prune(now: now, requestedBy: "agent").removed.count
            } catch  where error.code == .recordsRetention {
                // A clock the prune doubts keeps every record: pruning waits for a later upload.
                report.pruneRefused = error.message
            }
        }
        return report
    }

    /// The service's answer, checked before anything on the vehicle relies on it.
    private func checked(_ answer: [UInt8], vin: String, meta: LogMeta, lines: [Line], now: Date) throws(OTAError) -> (
        FleetAcknowledgement, Int
    ) {
        let json: JSONValue
        do { json = try JSONValue.parse(answer) } catch {
            throw OTAError(.fleetAckInvalid, "the fleet service's answer is not JSON: \(error.message)")
        }
        guard case .object(let members) = json, let ackValue = members["acknowledgement"] else {
            throw OTAError(.fleetAckInvalid, "the fleet service's answer holds no acknowledgement")
        }
        let ack = try FleetAcknowledgement(json: ackValue.bytes, source: "acknowledgement")
        try ack.verify(trust: try TrustStore(directory: trust), at: now)
        guard ack.vin == vin, ack.genesis == meta.genesis else {
            throw OTAError(
                .fleetAckMismatch,
                "the acknowledgement is for \(ack.vin), log \(ack.genesis); this vehicle is \(vin), log \(meta.genesis)"
            )
        }
        guard let held = lines.first(where: { $0.seq == ack.through }), held.hash == ack.hash else {
            throw OTAError(
                .fleetAckMismatch,
                "the acknowledgement names entry \(ack.through) with hash \(ack.hash), which this log does not hold")
        }
        var added = 0
        if case .integer(let value)? = members["added"] { added = Int(value) }
        return (ack, added)
    }

    /// The checkpoint the service holds for `vin`, if any.
    private func remoteHead(vin: String) throws(OTAError) -> (through: UInt64, hash: String, genesis: String)? {
        let bytes: [UInt8]
        do throws(OTAError) {
            bytes = try transport.fetch(fleet + "/v1/vehicles/\(vin)/head", maxLength: 64 << 10)
        } catch  where error.code == .transportNotFound {
            throw OTAError(
                .fleetRefused,
                "the fleet service refused to show the head of \(vin) (is the certificate this vehicle's?)",
                cause: error.message)
        }
        guard case .object(let members)? = try? JSONValue.parse(bytes), case .string(let through)? = members["through"],
            let seq = UInt64(through), case .string(let hash)? = members["hash"],
            case .string(let genesis)? = members["genesis"]
        else { return nil }
        return (seq, hash, genesis)
    }

    static func refusal(status: Int, _ answer: [UInt8]) -> OTAError {
        var code = "HTTP \(status)", message = String(decoding: answer.prefix(2048), as: UTF8.self)
        if case .object(let members)? = try? JSONValue.parse(answer) {
            if case .string(let value)? = members["error"] { code = value }
            if case .string(let value)? = members["message"] { message = value }
        }
        return OTAError(.fleetRefused, "the fleet service refused the upload (\(code)): \(message)", cause: code)
    }

    /// The store's name as the log's `ACK` keeps it (printable ASCII, no spaces, 256 bytes at most).
    static func storeName(_ identity: String) -> String {
        let cleaned = String(
            identity.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7f }.prefix(256).map(Character.init))
        return cleaned.isEmpty ? "fleet-store" : cleaned
    }

    /// The upload's time as the recorder's clock.
    private struct UploadClock: RecorderClock {
        let time: Date
        func now() -> RecordTime { RecordTime(time, source: .rtc) }
    }

    private func openLog(clock: any RecorderClock = SystemClock()) throws(OTAError) -> Recorder {
        let key = try PrivateKey(contentsOf: deviceKey)
        let deadline = Date().addingTimeInterval(5)
        while true {
            do throws(OTAError) {
                return try Recorder.open(at: log, signer: key, clock: clock)
            } catch {
                guard error.code == .recordsBusy, Date() < deadline else { throw error }
                usleep(20_000)
            }
        }
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    struct Line {
        let seq: UInt64
        let hash: String
        let isCheckpoint: Bool
        let bytes: [UInt8]
    }

    /// Every entry line of the log, in order (the verifier on the service checks them).
    static func entryLines(_ layout: LogLayout) throws(OTAError) -> [Line] {
        var lines: [Line] = []
        for name in try layout.segments() {
            let bytes = try FileSystem.read(layout.path(name), limit: 1 << 30)
            for line in bytes.split(separator: 0x0a) {
                guard let entry = LogEntry.parse(line) else { continue }
                lines.append(
                    Line(seq: entry.seq, hash: entry.hash, isCheckpoint: entry.kind == .checkpoint, bytes: Array(line)))
            }
        }
        return lines
    }
}
