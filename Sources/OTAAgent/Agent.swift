import Foundation
public import OTACore
public import OTAInstaller
import OTARecorder
import OTATUF
public import OTATransport

#if canImport(Glibc)
    import Glibc
#endif

/// The vehicle agent: refreshes the TUF metadata, picks the bundle meant for this vehicle,
/// downloads it with resume into the vehicle's private directory, and installs it through the
/// installer's policy, with the repository's entry and the release signatures required to
/// agree. Every step is recorded in the vehicle's record log. Safe to kill at any instant: each
/// run starts from what is durable (the installer's journal, the verified part of a download).
public final class Agent {
    public struct Options: Sendable {
        /// Repository base URL: metadata at `URL/metadata/`, targets at `URL/targets/`.
        public var repository: String
        public var transport: TransportOptions
        /// First trusted root.json, used when the vehicle has none yet.
        public var initialRoot: String?
        public var conditions: VehicleConditions?
        public var consent: Consent?
        public var approval: [UInt8]?
        /// Called as verified chunks of a bundle arrive (for a display; never for the record).
        public var progress: (@Sendable (WorkProgress) -> Void)?
        /// The fleet service the record log goes to after every install attempt, and how to reach it.
        public var fleet: String?
        public var fleetTransport: TransportOptions?

        public init(
            repository: String, transport: TransportOptions, initialRoot: String? = nil,
            conditions: VehicleConditions? = nil, consent: Consent? = nil,
            approval: [UInt8]? = nil, progress: (@Sendable (WorkProgress) -> Void)? = nil, fleet: String? = nil,
            fleetTransport: TransportOptions? = nil
        ) {
            self.fleet = fleet
            self.fleetTransport = fleetTransport
            self.repository = repository
            self.transport = transport
            self.initialRoot = initialRoot
            self.conditions = conditions
            self.consent = consent
            self.approval = approval
            self.progress = progress
        }
    }

    /// What a run ended with.
    public struct Outcome: Codable, Sendable {
        public enum State: String, Codable, Sendable {
            case upToDate = "up-to-date"
            case available, downloaded
            case rebootRequired = "reboot-required"
            case confirmed
            case rolledBack = "rolled-back"
        }
        public var state: State
        public var target: String?
        public var bundleId: String?
        public var metadata: [String]
        public var download: HTTPTransport.DownloadReport?
        /// The record upload after the install attempt, when a fleet service is configured.
        public var upload: FleetUploader.Report? = nil
        public var uploadError: String? = nil
    }

    public let vehicle: Vehicle
    public let options: Options
    let transport: HTTPTransport
    let metadataDirectory: String
    let downloads: String

    public init(vehicle: Vehicle, options: Options) throws(OTAError) {
        self.vehicle = vehicle
        self.options = options
        let recorder = RetryLog()
        transport = HTTPTransport(options: options.transport, onRetry: { recorder.add($0) })
        retryLog = recorder
        metadataDirectory = vehicle.layout.directory + "/tuf"
        downloads = vehicle.layout.privateDirectory + "/agent"
        try FileSystem.createDirectory(downloads, mode: 0o700)
        if !FileSystem.exists(metadataDirectory + "/root.json") {
            guard let root = options.initialRoot else {
                throw OTAError(
                    .tufNotInitialized,
                    "\(metadataDirectory)/root.json: the vehicle has no trusted repository root (give --root once)")
            }
            try TUFClient.initialize(
                metadataDirectory: metadataDirectory,
                trustedRoot: try FileSystem.read(root, limit: TUFLimits.default.root))
        }
    }

    let retryLog: RetryLog

    var base: String { options.repository.hasSuffix("/") ? String(options.repository.dropLast()) : options.repository }

    // MARK: - steps

    /// Refreshes the metadata (recorded with its versions) and moves the clock floor by the
    /// timestamp's signed time.
    func refresh() throws(OTAError) -> TUFClient {
        let floor = vehicle.trustedNow
        let client = try TUFClient(
            metadataDirectory: metadataDirectory, metadataURL: base + "/metadata", fetcher: transport,
            now: { @Sendable in max(wallClockSeconds(), Int64(floor.timeIntervalSince1970)) })
        do throws(OTAError) {
            try client.refresh()
        } catch {
            try vehicle.recordAgentStep(
                .agentRefresh, Vehicle.outcome(of: error), error: error,
                repository: RepositoryFacts(repository: base, download: DownloadReading(retryLog: retryLog.joined())))
            throw error
        }
        try vehicle.recordAgentStep(
            .agentRefresh, .success,
            repository: RepositoryFacts(
                repository: base, rootVersion: client.root.metadata.version,
                timestampVersion: client.timestamp?.metadata.version,
                snapshotVersion: client.snapshot?.metadata.version, events: client.events))
        if let signedAt = client.timestamp?.metadata.signed["x-ota-signed-at"]?.string,
            let seconds = TUFTime.parse(signedAt)
        {
            try vehicle.advanceClockFloor(
                repositoryTime: Date(timeIntervalSince1970: TimeInterval(seconds)),
                timestampVersion: client.timestamp?.metadata.version ?? 0)
        }
        return client
    }

    /// The first bundle (by name) for this vehicle's model, VIN and ECUs that changes software
    /// it runs and was not refused before.
    func select(_ client: TUFClient) throws(OTAError) -> BundleTarget? {
        let config = vehicle.config
        let status = try vehicle.status()
        let refused = Set(loadRefused())
        var candidates: [BundleTarget] = []
        for (name, file) in try client.allTargets() {
            let listed: BundleTarget?
            do throws(OTAError) {
                listed = try BundleTarget(name: name, file: file)
            } catch {
                // A signed entry this agent cannot read: recorded, and nothing is fetched.
                try vehicle.recordAgentStep(
                    .agentSelect, Vehicle.outcome(of: error), error: error, repository: RepositoryFacts(target: name))
                throw error
            }
            guard let target = listed else { continue }
            guard target.models.contains(config.model), target.vins.map({ $0.contains(config.vin) }) ?? true else {
                continue
            }
            guard
                target.ecus.allSatisfy({ ecu in
                    config.ecu(ecu).map { target.hardwareIds.contains($0.hardwareId) } ?? false
                })
            else { continue }
            guard !refused.contains(target.sha256) else { continue }
            let changes = target.ecus.contains { ecu in
                guard let installed = status.ecus[ecu] else { return true }
                return installed.version != target.versions[ecu]
                    || installed.securityVersion != target.securityVersions[ecu]
            }
            if changes { candidates.append(target) }
        }
        return candidates.sorted { $0.name < $1.name }.first
    }

    /// Downloads (resuming) into the private directory; the finished file is checked against the
    /// entry's length and every hash, then renamed to `<sha256>.ota`.
    func download(_ target: BundleTarget, client: TUFClient) throws(OTAError) -> (String, HTTPTransport.DownloadReport?)
    {
        let finished = "\(downloads)/\(target.sha256).ota"
        if FileSystem.exists(finished) { return (finished, nil) }
        let partial = "\(downloads)/\(target.sha256).part"
        let url = client.targetURL(target.name, target.file, baseURL: base + "/targets")
        let report: HTTPTransport.DownloadReport
        do throws(OTAError) {
            // Every signed hash of the whole file, computed while the chunks arrived.
            let algorithms = target.file.hashes.entries.compactMap { HashAlgorithm(rawValue: $0.name) }
            report = try transport.download(
                url, target: target.chunks, partialPath: partial, wholeFileHashes: algorithms,
                progress: options.progress)
            for entry in target.file.hashes.entries where HashAlgorithm(rawValue: entry.name) != nil {
                guard let digest = report.fileDigests[entry.name], digest == entry.value.lowercased() else {
                    unlink(partial)
                    throw OTAError(
                        .tufHashMismatch, "\(target.name): the downloaded file does not match its signed \(entry.name)")
                }
            }
            try SystemCall.rename(
                partial, to: finished, message: "\(finished): cannot move the finished download into place")
        } catch {
            try vehicle.recordAgentStep(
                .agentDownload, Vehicle.outcome(of: error), bundle: target.bundleId, campaign: target.campaign,
                error: error,
                repository: RepositoryFacts(
                    target: target.name,
                    download: DownloadReading(bytes: UInt64(clamping: target.file.length), retryLog: retryLog.joined()))
            )
            if error.kind == .rejected { try refuse(target) }
            throw error
        }
        try vehicle.recordAgentStep(
            .agentDownload, .success, bundle: target.bundleId, campaign: target.campaign,
            repository: RepositoryFacts(
                target: target.name,
                download: DownloadReading(
                    bytes: UInt64(clamping: target.file.length), resumedFrom: UInt64(clamping: report.resumedFrom),
                    received: UInt64(clamping: report.bytesReceived),
                    refetchedChunks: UInt64(clamping: report.refetchedChunks),
                    retries: UInt64(clamping: report.retries))))
        return (finished, report)
    }

    // MARK: - commands

    /// `ota agent check`: what the repository offers this vehicle now.
    public func check() throws(OTAError) -> Outcome {
        let client = try refresh()
        let target = try select(client)
        try vehicle.recordAgentStep(
            .agentCheck, .success, bundle: target?.bundleId, campaign: target?.campaign,
            repository: RepositoryFacts(target: target?.name))
        return Outcome(
            state: target == nil ? .upToDate : .available, target: target?.name, bundleId: target?.bundleId,
            metadata: client.events, download: nil)
    }

    /// `ota agent download`: refresh, pick, download with resume (no install).
    public func downloadOnly() throws(OTAError) -> Outcome {
        let client = try refresh()
        try refreshTrust(client)
        guard let target = try select(client) else { return Outcome(state: .upToDate, metadata: client.events) }
        let (_, report) = try download(target, client: client)
        return Outcome(
            state: .downloaded, target: target.name, bundleId: target.bundleId, metadata: client.events,
            download: report)
    }

    /// `ota agent run`: continue an update in progress (confirm after the reboot), or refresh,
    /// pick, download and install the next one.
    public func run() throws(OTAError) -> Outcome {
        let status = try vehicle.status()
        if let pending = status.pending {
            switch pending.stage {
            case .activated:
                do throws(OTAError) {
                    try vehicle.confirmBoot()
                } catch  where error.code == .confirmNotBooted {
                    return Outcome(state: .rebootRequired, bundleId: pending.bundleId, metadata: [])
                }
                try vehicle.recordAgentStep(
                    .agentConfirm, .success, bundle: pending.bundleId, campaign: pending.campaign)
                return Outcome(state: .confirmed, bundleId: pending.bundleId, metadata: [])
            case .installed, .activating:
                try vehicle.activate()
                return Outcome(state: .rebootRequired, bundleId: pending.bundleId, metadata: [])
            default:
                throw OTAError(.installPending, "update \(pending.bundleId) is \(pending.stage.rawValue)")
            }
        }
        if let fallback = status.lastFallback, !fallback.isEmpty, loadLastFallback() != fallback {
            saveLastFallback(fallback)
            try vehicle.recordAgentStep(.agentRolledBack, .rolledBack, error: OTAError(.bootFallback, fallback))
        }
        let client = try refresh()
        // New CRLs and trust updates first, so an install is never refused for CRLs the repository could refresh.
        try refreshTrust(client)
        guard let target = try select(client) else {
            return Outcome(state: .upToDate, metadata: client.events)
        }
        let (path, report) = try download(target, client: client)
        vehicle.repositoryEntry = RepositoryEntry(
            targetName: target.name, manifestDigest: target.manifestDigest, bundleId: target.bundleId,
            campaign: target.campaign,
            versions: target.versions, securityVersions: target.securityVersions,
            targetsVersion: client.trustedVersion(ofTargetsRole: TUFRoleName.targets) ?? 0,
            snapshotVersion: client.snapshot?.metadata.version ?? 0,
            timestampVersion: client.timestamp?.metadata.version ?? 0)
        defer { vehicle.repositoryEntry = nil }
        do throws(OTAError) {
            // Every stored byte against the release-signed chunk hashes before any slot is
            // written: a bundle only the repository vouches for never touches a slot.
            let trust = try TrustStore(directory: vehicle.layout.trust)
            _ = try BundleVerification.verify(
                path: path,
                policy: BundleTrustPolicy(
                    trust: trust, time: FixedTime(vehicle.trustedNow), threshold: vehicle.config.threshold))
            let decision = try vehicle.check(bundle: path, approval: options.approval)
            if let refusal = decision.refusal { throw OTAError(refusal.code, refusal.message, cause: refusal.cause) }
            try vehicle.install(
                bundle: path, expecting: decision, approval: options.approval, conditions: options.conditions,
                consent: options.consent)
        } catch {
            // A verification or policy refusal of this exact file is final: never fetched again
            // (but not stale CRLs: the vehicle's, fixed by the next CRL refresh).
            if error.kind == .rejected,
                ![OTAError.Code.preconditionUnknown, .consentMissing, .installPending, .crlStale].contains(error.code),
                !error.code.rawValue.hasPrefix("precondition.")
            {
                try refuse(target)
                unlink(path)
            }
            try vehicle.recordAgentStep(
                .agentInstall, Vehicle.outcome(of: error), bundle: target.bundleId, campaign: target.campaign,
                error: error,
                repository: RepositoryFacts(target: target.name))
            _ = uploadRecords()
            throw error
        }
        unlink(path)
        try vehicle.recordAgentStep(
            .agentInstall, .success, bundle: target.bundleId, campaign: target.campaign,
            repository: RepositoryFacts(target: target.name))
        var outcome = Outcome(
            state: .rebootRequired, target: target.name, bundleId: target.bundleId, metadata: client.events,
            download: report)
        (outcome.upload, outcome.uploadError) = uploadRecords()
        return outcome
    }

    /// After an install attempt: the record log goes to the fleet service, when one is
    /// configured. A failed upload is reported and tried again next time (the entries stay on
    /// the vehicle until acknowledged); it never changes the install's outcome.
    func uploadRecords() -> (FleetUploader.Report?, String?) {
        guard let fleet = options.fleet else { return (nil, nil) }
        do throws(OTAError) {
            return (
                try FleetUploader(
                    vehicle: vehicle, fleet: fleet, transport: options.fleetTransport ?? options.transport
                ).upload(), nil
            )
        } catch {
            return (nil, "\(error.code.rawValue): \(error.message)")
        }
    }

    // MARK: - small private state

    var refusedPath: String { "\(downloads)/refused" }

    func loadRefused() -> [String] {
        guard let bytes = try? FileSystem.read(refusedPath, limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func refuse(_ target: BundleTarget) throws(OTAError) {
        let list = loadRefused() + [target.sha256]
        try AtomicFileWriter.write(Array(list.joined(separator: "\n").utf8), to: refusedPath, mode: 0o600)
    }

    func loadLastFallback() -> String? {
        (try? FileSystem.read("\(downloads)/last-fallback", limit: 4096)).map { String(decoding: $0, as: UTF8.self) }
    }

    func saveLastFallback(_ text: String) {
        try? AtomicFileWriter.write(Array(text.utf8), to: "\(downloads)/last-fallback", mode: 0o600)
    }
}

/// Retry messages from the transport, for the record. `@unchecked Sendable`: guarded by a lock.
final class RetryLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    func joined() -> String { lock.lock(); defer { lock.unlock() }; return lines.joined(separator: "; ") }
}
