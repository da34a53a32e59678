import Foundation
public import OTACore
public import OTARecorder

/// The installer's typed recording API: each step records an `UpgradeRecord` built from the
/// attempt's facts, and every attempt ends with a `result` record carrying all of them.
extension Vehicle {
    /// The time for a record, with its source: the installer's clock, or its signed floor
    /// when the real-time clock reads earlier.
    var recordTime: RecordTime {
        let base = options.time.now()
        if base < state.timeFloor { return RecordTime(state.timeFloor, source: .signedFloor) }
        return RecordTime(base, source: options.clockSource)
    }

    /// Starts a new attempt (a check or an install).
    func beginAttempt(_ phase: RecordPhase) throws(OTAError) {
        attempt = try UpgradeAttempt.begin(phase: phase, at: recordTime)
    }

    /// The attempt steps belong to: this process's, or the update in progress's (after a
    /// restart), or one made up for a pending update from before attempts were journalled.
    private func currentAttempt() throws(OTAError) -> UpgradeAttempt? {
        if let attempt { return attempt }
        guard let pending = state.pending else { return nil }
        if let saved = pending.attempt { return saved }
        var made = try UpgradeAttempt.begin(
            phase: .install, at: RecordTime(pending.started, source: options.clockSource))
        made.update = UpdateFacts(
            bundle: pending.bundleId, campaign: pending.campaign, manifestDigest: pending.manifestDigest)
        return made
    }

    /// Records one step with what it established (merged into the attempt), or its refusal.
    func record(_ step: RecordStep, _ outcome: RecordOutcome, error: OTAError? = nil, facts: RecordFacts = .none)
        throws(OTAError)
    {
        let time = recordTime
        guard var current = try currentAttempt() else {
            // A step outside any attempt (a reboot with nothing pending).
            try recorder.record(
                UpgradeRecord(
                    time: time, vin: config.vin, step: step, outcome: outcome, errorCode: error?.code.rawValue,
                    reasons: error.map(UpgradeAttempt.reasons) ?? [], ecus: facts.ecus, boot: facts.boot,
                    repository: facts.repository, trust: facts.trust))
            return
        }
        current.merge(facts)
        attempt = current
        try recorder.record(current.stepRecord(step, outcome, vin: config.vin, time: time, error: error, facts: facts))
    }

    /// How a refusal or failure ends a step.
    public static func outcome(of error: OTAError) -> RecordOutcome { error.kind == .rejected ? .rejected : .failure }

    /// Closes the attempt: the `result` record with every fact, the outcome and the result
    /// notices (both languages, their digests recorded). The notices are kept in
    /// `lastResultNotices` for the caller to show.
    @discardableResult
    func recordResult(_ outcome: RecordOutcome, error: OTAError? = nil) throws(OTAError) -> [ResultNotice] {
        guard let current = try currentAttempt() else { return [] }
        let time = recordTime
        let draft = current.resultRecord(outcome, vin: config.vin, time: time, error: error, resultNotices: [])
        let notices = RecordLanguage.allCases.map { ResultNotice(record: draft, language: $0) }
        var shown: [NoticeShown] = []
        for notice in notices { shown.append(try notice.shown(hash: config.hashAlgorithm)) }
        try recorder.record(
            current.resultRecord(outcome, vin: config.vin, time: time, error: error, resultNotices: shown))
        attempt = nil
        lastResultNotices = notices
        return notices
    }

    /// What the bundle is and who signed it, for the verify step.
    func updateFacts(_ head: VerifiedManifest) -> UpdateFacts {
        let manifest = head.manifest
        return UpdateFacts(
            bundle: manifest.bundle.id, campaign: manifest.bundle.campaign, manifestDigest: head.digest.hex,
            categories: manifest.categories.sorted(),
            references: manifest.regulatory.map {
                UpdateFacts.Reference(kind: $0.type, number: $0.number, authority: $0.authority)
            },
            signers: head.signers.filter(\.isTrusted).compactMap { signer in
                guard let subject = signer.subject, let keyID = signer.keyID else { return nil }
                return UpdateFacts.Signer(subject: subject, keyID: keyID)
            })
    }

    /// Every ECU the manifest changes, before (this vehicle's committed software and the
    /// active slot's content) and after (the signed image).
    func ecuFacts(_ manifest: Manifest) -> [ECUFacts] {
        let active = (try? bootControl.load())?.active ?? [:]
        return manifest.images.map { image in
            let installed = state.ecus[image.ecu]
            let slot = state.slot(image.slotGroup, active[image.slotGroup] ?? .a)
            return ECUFacts(
                ecu: image.ecu, hardwarePart: config.ecu(image.ecu)?.hardwareId, kind: image.kind,
                versionBefore: installed?.version, versionAfter: image.version,
                securityVersionBefore: installed?.securityVersion, securityVersionAfter: image.securityVersion,
                rxswinBefore: installed?.rxswin ?? image.rxswin?.before, rxswinAfter: image.rxswin?.after,
                swinBefore: installed?.swin ?? image.swin?.before, swinAfter: image.swin?.after,
                imageHashBefore: slot.status == .valid ? slot.hash : image.source?.hash,
                imageHashAfter: image.target.hash)
        }
    }

    /// The approval facts: the number the approval states and the authority the manifest names
    /// for it.
    func approvalFacts(_ manifest: Manifest, approvalId: String, validUntil: Date) -> UpdateFacts.Approval {
        let references = manifest.regulatory.filter { $0.type == .adApproval }
        let authority = (references.first { $0.number == approvalId } ?? references.first)?.authority ?? "unnamed"
        return UpdateFacts.Approval(number: approvalId, authority: authority, validUntil: RecordTime.format(validUntil))
    }

    /// The readings the preconditions were checked against.
    static func readings(_ conditions: VehicleConditions) -> PreconditionReadings {
        PreconditionReadings(
            parked: conditions.parked, gear: conditions.gear,
            batteryPercent: Int64(clamping: conditions.batteryPercent),
            driving: conditions.driving, doorsUnlockable: conditions.doorsUnlockable)
    }
}

extension Vehicle {
    /// What a refused step had established before it refused: the readings a precondition
    /// failed on, the answer a consent refused with.
    func factsBeforeRefusal(_ step: RecordStep) -> RecordFacts {
        switch step {
        case .precondition: RecordFacts(preconditions: attempt?.preconditions)
        case .consent: RecordFacts(notice: attempt?.notice, confirmation: attempt?.confirmation)
        default: .none
        }
    }

    /// The digest of the notice text the user was shown (canonical JSON, suite hash) and
    /// their answer; refuses an answer to a notice the manifest does not have in that language.
    func consentFacts(_ manifest: Manifest, _ consent: Consent) throws(OTAError) -> RecordFacts {
        guard let notice = manifest.notice[consent.language] else {
            throw OTAError(.consentLanguage, "the notice has no \(consent.language) text; the user cannot have read it")
        }
        let digest = try Self.noticeDigest(notice, hash: manifest.bundle.suite.hash)
        return RecordFacts(
            notice: NoticeShown(digest: digest, language: consent.language),
            confirmation: Confirmation(
                party: consent.by, channel: consent.channel, answer: consent.answer,
                at: RecordTime(consent.time, source: options.clockSource)))
    }

    /// The digest a notice is recorded under: the suite hash of its canonical JSON.
    public static func noticeDigest(_ notice: Notice, hash: HashAlgorithm) throws(OTAError) -> String {
        try Hasher.hash(hash, try CanonicalJSON.encode(notice)).hex
    }
}
