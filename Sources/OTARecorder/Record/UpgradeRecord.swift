import OTACore

/// One step of an update attempt, as the regulator wants it recorded (DESIGN.md, Recorder):
/// the one record type the installer builds, the vehicle's log holds, the fleet store keeps and
/// every export shows.
///
/// Each step carries the facts it established; the attempt's closing `result` record carries
/// them all (update, signers, approval, references, every ECU before and after, readings, the
/// notice and the answer, start, finish, duration, outcome, error code, result notices).
///
/// No location and no real-name data: the schema has no field for them, and decoding refuses
/// any member it does not list (`records.field-unknown`). The VIN is the log's (named once in
/// its genesis entry), so record bodies do not repeat it.
public struct UpgradeRecord: Sendable, Equatable {
    /// When the step was recorded, and by which clock.
    public var time: RecordTime
    public var vin: String
    /// Links the records of one install attempt.
    public var attempt: String?
    public var phase: RecordPhase?
    public var step: RecordStep
    public var outcome: RecordOutcome
    /// The stable dotted error code when the outcome is not a success.
    public var errorCode: String?
    /// Every reason the step did not succeed (code and message).
    public var reasons: [RecordReason]
    public var update: UpdateFacts?
    public var ecus: [ECUFacts]
    public var preconditions: PreconditionReadings?
    /// The boot control's state at a boot.
    public var boot: BootReading?
    /// The TUF repository and agent: target entry, metadata versions, clock floor, download.
    public var repository: RepositoryFacts?
    /// A change of the trust store (anchors, CRLs, versions).
    public var trust: TrustFacts?
    /// The update notice shown before the question (digest, language).
    public var notice: NoticeShown?
    /// The answer to it.
    public var confirmation: Confirmation?
    /// The result notices produced after the outcome, one per language.
    public var resultNotices: [NoticeShown]
    public var started: RecordTime?
    public var finished: RecordTime?
    public var durationMs: Int64?

    public init(
        time: RecordTime, vin: String, attempt: String? = nil, phase: RecordPhase? = nil, step: RecordStep,
        outcome: RecordOutcome, errorCode: String? = nil, reasons: [RecordReason] = [], update: UpdateFacts? = nil,
        ecus: [ECUFacts] = [], preconditions: PreconditionReadings? = nil, boot: BootReading? = nil,
        repository: RepositoryFacts? = nil, trust: TrustFacts? = nil, notice: NoticeShown? = nil,
        confirmation: Confirmation? = nil, resultNotices: [NoticeShown] = [], started: RecordTime? = nil,
        finished: RecordTime? = nil, durationMs: Int64? = nil
    ) {
        self.time = time
        self.vin = vin
        self.attempt = attempt
        self.phase = phase
        self.step = step
        self.outcome = outcome
        self.errorCode = errorCode
        self.reasons = reasons
        self.update = update
        self.ecus = ecus
        self.preconditions = preconditions
        self.boot = boot
        self.repository = repository
        self.trust = trust
        self.notice = notice
        self.confirmation = confirmation
        self.resultNotices = resultNotices
        self.started = started
        self.finished = finished
        self.durationMs = durationMs
    }

    /// The facts of one ECU, if the record names it.
    public func ecu(_ id: String) -> ECUFacts? { ecus.first { $0.ecu == id } }
}
