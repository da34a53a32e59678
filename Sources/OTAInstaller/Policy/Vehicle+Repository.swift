public import Foundation
public import OTACore
public import OTARecorder

/// What the vehicle's TUF client verified about a bundle before handing it to the installer:
/// the repository's signed target entry (second key hierarchy, as in Uptane).
public struct RepositoryEntry: Sendable, Equatable {
    public var targetName: String
    /// Suite hash of the manifest as `algorithm:hex` (custom.ota.manifestDigest).
    public var manifestDigest: String
    public var bundleId: String
    public var campaign: String
    /// ECU id → version and security version, as the target entry lists them.
    public var versions: [String: String]
    public var securityVersions: [String: UInt64]
    /// Metadata versions the entry came from (for the record).
    public var targetsVersion: Int64
    public var snapshotVersion: Int64
    public var timestampVersion: Int64

    public init(
        targetName: String, manifestDigest: String, bundleId: String, campaign: String, versions: [String: String],
        securityVersions: [String: UInt64],
        targetsVersion: Int64, snapshotVersion: Int64, timestampVersion: Int64
    ) {
        self.targetName = targetName
        self.manifestDigest = manifestDigest
        self.bundleId = bundleId
        self.campaign = campaign
        self.versions = versions
        self.securityVersions = securityVersions
        self.targetsVersion = targetsVersion
        self.snapshotVersion = snapshotVersion
        self.timestampVersion = timestampVersion
    }
}

extension Vehicle {
    /// The two hierarchies must agree: with `requireRepository`, a bundle installs only with a
    /// repository entry whose custom fields match its release-signed manifest (digest, id,
    /// campaign, every ECU's version and security version). A workshop install is the recorded
    /// exception.
    func checkRepositoryEntry(_ head: VerifiedManifest) throws(OTAError) -> RepositoryFacts {
        let manifest = head.manifest
        guard let entry = repositoryEntry else {
            guard config.requireRepository == true else { return RepositoryFacts(required: false) }
            guard workshopInstall else {
                throw OTAError(
                    .repositoryRequired,
                    "this vehicle installs only bundles its TUF repository lists (ota agent); bundle \(manifest.bundle.id) came without an entry"
                )
            }
            return RepositoryFacts(required: true, workshop: true)
        }
        func mismatch(_ what: String) -> OTAError {
            OTAError(
                .repositoryMismatch,
                "the repository's entry \(entry.targetName) and the release-signed manifest disagree on \(what)")
        }
        guard entry.manifestDigest == head.digest.description else { throw mismatch("the manifest digest") }
        guard entry.bundleId == manifest.bundle.id, entry.campaign == manifest.bundle.campaign else {
            throw mismatch("bundle id or campaign")
        }
        let versions = Dictionary(manifest.images.map { ($0.ecu, $0.version) }, uniquingKeysWith: { a, _ in a })
        let securityVersions = Dictionary(
            manifest.images.map { ($0.ecu, $0.securityVersion) }, uniquingKeysWith: { a, _ in a })
        guard entry.versions == versions, entry.securityVersions == securityVersions else {
            throw mismatch("ECU versions")
        }
        return RepositoryFacts(
            target: entry.targetName, required: config.requireRepository == true,
            timestampVersion: entry.timestampVersion,
            snapshotVersion: entry.snapshotVersion, targetsVersion: entry.targetsVersion)
    }

    /// Moves the clock floor toward a time the repository signed (the timestamp role's
    /// `x-ota-signed-at`, verified by the TUF client), never backwards and never more than
    /// `maximumClockStep` past the vehicle's current trusted time (the later of its clock and
    /// the floor), so even a stolen timestamp key moves it only one bounded step per refresh;
    /// recorded. A bundle's own dates never move it. Returns the new floor.
    @discardableResult
    public func advanceClockFloor(repositoryTime: Date, timestampVersion: Int64) throws(OTAError) -> Date {
        let step = TimeInterval(config.maximumClockStep ?? 30 * 86_400)
        let target = min(repositoryTime, time.now().addingTimeInterval(step))
        guard target > state.timeFloor else { return state.timeFloor }
        var next = state
        next.timeFloor = target
        try save(next, step: "journal.clock")
        try recordAgentStep(
            .clockFloor, .success,
            repository: RepositoryFacts(
                timestampVersion: timestampVersion, signedAt: RecordTime.format(repositoryTime),
                clockFloor: RecordTime.format(target),
                floorBounded: target < repositoryTime))
        return target
    }

    /// The installer's clock (never below the floor), for the agent's expiry checks.
    public var trustedNow: Date { time.now() }

    /// Records one agent step in the vehicle's record log: the bundle it concerns, the repository
    /// facts it established, and its error. Inside an install attempt (an update in progress) it
    /// carries the attempt's id.
    public func recordAgentStep(
        _ step: RecordStep, _ outcome: RecordOutcome, bundle: String? = nil, campaign: String? = nil,
        error: OTAError? = nil,
        repository: RepositoryFacts? = nil
    ) throws(OTAError) {
        let update = bundle.map { UpdateFacts(bundle: $0, campaign: campaign ?? "-") }
        try recorder.record(
            UpgradeRecord(
                time: recordTime, vin: config.vin, attempt: state.pending?.attempt?.id, step: step, outcome: outcome,
                errorCode: error?.code.rawValue, reasons: error.map(UpgradeAttempt.reasons) ?? [], update: update,
                repository: repository))
    }
}
