import Foundation
public import OTACore
public import OTARecorder

/// What one step established, to record with it and to add to the attempt.
package struct RecordFacts: Sendable, Equatable {
    /// The bundle, its manifest and signers (the verify step).
    package var update: UpdateFacts?
    /// The approval the approval step checked.
    package var approval: UpdateFacts.Approval?
    /// Per ECU; merged into the attempt's by ECU id.
    package var ecus: [ECUFacts]
    package var preconditions: PreconditionReadings?
    /// The boot control at a boot (the boot step only; not kept with the attempt).
    package var boot: BootReading?
    /// The repository entry the bundle came with (merged into the attempt) or an agent step's
    /// metadata and download facts.
    package var repository: RepositoryFacts?
    /// A trust store change (not kept with the attempt).
    package var trust: TrustFacts?
    package var notice: NoticeShown?
    package var confirmation: Confirmation?

    package init(
        update: UpdateFacts? = nil, approval: UpdateFacts.Approval? = nil, ecus: [ECUFacts] = [],
        preconditions: PreconditionReadings? = nil, boot: BootReading? = nil, repository: RepositoryFacts? = nil,
        trust: TrustFacts? = nil, notice: NoticeShown? = nil, confirmation: Confirmation? = nil
    ) {
        self.update = update
        self.approval = approval
        self.ecus = ecus
        self.preconditions = preconditions
        self.boot = boot
        self.repository = repository
        self.trust = trust
        self.notice = notice
        self.confirmation = confirmation
    }

    /// No facts.
    package static let none = RecordFacts()
}

/// The facts of one install attempt as the installer gathers them, step by step. Persisted with
/// the update in progress (`PendingUpdate.attempt`), so the attempt's closing `result` record,
/// written after a reboot or a rollback in another process, still carries every fact.
public struct UpgradeAttempt: Sendable, Equatable {
    public var id: String
    public var phase: RecordPhase
    public var started: RecordTime
    public var update: UpdateFacts?
    public var ecus: [ECUFacts]
    public var preconditions: PreconditionReadings?
    public var repository: RepositoryFacts?
    public var notice: NoticeShown?
    public var confirmation: Confirmation?

    public init(
        id: String, phase: RecordPhase, started: RecordTime, update: UpdateFacts? = nil, ecus: [ECUFacts] = [],
        preconditions: PreconditionReadings? = nil, repository: RepositoryFacts? = nil, notice: NoticeShown? = nil,
        confirmation: Confirmation? = nil
    ) {
        self.id = id
        self.phase = phase
        self.started = started
        self.update = update
        self.ecus = ecus
        self.preconditions = preconditions
        self.repository = repository
        self.notice = notice
        self.confirmation = confirmation
    }

    /// A new attempt with a random id.
    public static func begin(phase: RecordPhase, at time: RecordTime) throws(OTAError) -> UpgradeAttempt {
        UpgradeAttempt(id: Hex.encode(try SecureRandom.bytes(8)), phase: phase, started: time)
    }

    /// Adds what a step established.
    package mutating func merge(_ facts: RecordFacts) {
        if let given = facts.update {
            if var current = update {
                current.bundle = given.bundle
                current.campaign = given.campaign
                current.manifestDigest = given.manifestDigest ?? current.manifestDigest
                if !given.categories.isEmpty { current.categories = given.categories }
                if !given.references.isEmpty { current.references = given.references }
                if !given.signers.isEmpty { current.signers = given.signers }
                current.approval = given.approval ?? current.approval
                update = current
            } else {
                update = given
            }
        }
        if let approval = facts.approval { update?.approval = approval }
        for ecu in facts.ecus {
            if let index = ecus.firstIndex(where: { $0.ecu == ecu.ecu }) {
                ecus[index] = ecus[index].merged(with: ecu)
            } else {
                ecus.append(ecu)
            }
        }
        preconditions = facts.preconditions ?? preconditions
        if let given = facts.repository { repository = repository.map { $0.merged(with: given) } ?? given }
        notice = facts.notice ?? notice
        confirmation = facts.confirmation ?? confirmation
    }

    /// The bundle, campaign and manifest digest every step record names.
    var identity: UpdateFacts? {
        update.map { UpdateFacts(bundle: $0.bundle, campaign: $0.campaign, manifestDigest: $0.manifestDigest) }
    }

    /// A step's record: the attempt's identity and what the step itself established.
    package func stepRecord(
        _ step: RecordStep, _ outcome: RecordOutcome, vin: String, time: RecordTime, error: OTAError?,
        facts: RecordFacts
    ) -> UpgradeRecord {
        var named = identity
        if let given = facts.update {
            named = given
        }
        if let approval = facts.approval { named?.approval = approval }
        return UpgradeRecord(
            time: time, vin: vin, attempt: id, phase: phase, step: step, outcome: outcome,
            errorCode: error?.code.rawValue,
            reasons: error.map(Self.reasons) ?? [], update: named, ecus: facts.ecus, preconditions: facts.preconditions,
            boot: facts.boot, repository: facts.repository, trust: facts.trust, notice: facts.notice,
            confirmation: facts.confirmation)
    }

    /// The attempt's closing record: every fact, the outcome, the error, start, finish and
    /// duration, and the result notices shown.
    package func resultRecord(
        _ outcome: RecordOutcome, vin: String, time: RecordTime, error: OTAError?,
        resultNotices: [NoticeShown]
    ) -> UpgradeRecord {
        UpgradeRecord(
            time: time, vin: vin, attempt: id, phase: phase, step: .result, outcome: outcome,
            errorCode: error?.code.rawValue,
            reasons: error.map(Self.reasons) ?? [], update: update, ecus: ecus, preconditions: preconditions,
            repository: repository,
            notice: notice, confirmation: confirmation, resultNotices: resultNotices, started: started, finished: time,
            durationMs: time.milliseconds(since: started))
    }

    /// Every reason of a refusal (the deciding one first), each with its cause.
    static func reasons(_ error: OTAError) -> [RecordReason] {
        error.reasons.map { reason in
            RecordReason(
                code: reason.code.rawValue, message: reason.cause.map { "\(reason.message) (\($0))" } ?? reason.message)
        }
    }
}

/// The journal keeps the attempt as the canonical JSON of its record (one encoding of the facts).
extension UpgradeAttempt: Codable {
    public func encode(to encoder: any Encoder) throws {
        let record = UpgradeRecord(
            time: started, vin: "-", attempt: id, phase: phase, step: .result, outcome: .pending, update: update,
            ecus: ecus,
            preconditions: preconditions, repository: repository, notice: notice, confirmation: confirmation,
            started: started)
        var container = encoder.singleValueContainer()
        try container.encode(String(decoding: record.json.bytes, as: UTF8.self))
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let record = try UpgradeRecord(jsonText: Array(text.utf8), vin: "-", source: "journal attempt")
        guard let id = record.attempt, let phase = record.phase else {
            throw OTAError(.vehicleStateMalformed, "journal attempt: no attempt id or phase")
        }
        self.init(
            id: id, phase: phase, started: record.started ?? record.time, update: record.update, ecus: record.ecus,
            preconditions: record.preconditions, repository: record.repository, notice: record.notice,
            confirmation: record.confirmation)
    }
}
