import Foundation
public import OTACore
import OTARecorder

/// The policy, in the design's order, each step recorded; the first failure refuses with its
/// stable code.
extension Vehicle {
    /// The bundle as the policy saw it.
    struct Evaluation {
        let head: VerifiedManifest
        let plan: [PendingImage]
        let approvalRequired: Bool
    }

    /// Verifies a bundle's head and runs every policy step that needs no user answer
    /// (signatures, targeting, anti-rollback, the approval rule, filings, delta support); returns
    /// the decision with the notice to show. Reads no payload. Each step is recorded.
    public func check(bundle path: String, approval: [UInt8]? = nil) throws(OTAError) -> InstallDecision {
        var decision = InstallDecision(images: [], approvalRequired: false, notice: [:])
        try beginAttempt(.check)
        do throws(OTAError) {
            let reader = try BundleReader(path: path)
            let evaluation = try evaluate(
                reader: reader, bundlePath: path, approval: approval, requireApproval: approval != nil,
                commitTrust: false)
            fill(&decision, evaluation)
        } catch {
            decision.refusal = .init(code: error.code, message: error.message, cause: error.cause)
            decision.reasons = error.reasons.map { .init(code: $0.code, message: $0.message, cause: $0.cause) }
            if error.kind != .rejected { throw error }
        }
        return decision
    }

    func fill(_ decision: inout InstallDecision, _ evaluation: Evaluation) {
        let manifest = evaluation.head.manifest
        decision.bundleId = manifest.bundle.id
        decision.campaign = manifest.bundle.campaign
        decision.manifestDigest = evaluation.head.digest.hex
        decision.approvalRequired = evaluation.approvalRequired
        decision.notice = manifest.notice
        decision.preconditions = manifest.preconditions
        decision.images = evaluation.plan.map { image in
            .init(
                name: image.name, ecu: image.ecu, slotGroup: image.slotGroup, kind: image.kind,
                fromVersion: state.ecus[image.ecu]?.version,
                toVersion: image.version, securityVersion: image.securityVersion, size: image.size)
        }
    }

    /// Runs one policy step: records its success with the facts it established, or its
    /// refusal with its code; a refusal also closes the attempt with its `result` record.
    func step<T>(_ name: RecordStep, _ body: () throws(OTAError) -> (T, RecordFacts)) throws(OTAError) -> T {
        do throws(OTAError) {
            let (value, facts) = try body()
            try record(name, .success, facts: facts)
            return value
        } catch {
            throw failure(error) { () throws(OTAError) in
                try record(name, Self.outcome(of: error), error: error, facts: factsBeforeRefusal(name))
                try recordResult(Self.outcome(of: error), error: error)
            }
        }
    }

    /// `error` once `recording` has recorded it. When recording fails too (a full disk), the
    /// error the step met is still the one reported, with the recording's failure beside it
    /// (`related`): a full disk reported `records/HEAD: write failed` instead of the slot's
    /// write error.
    func failure(_ met: OTAError, recording: () throws(OTAError) -> Void) -> OTAError {
        do throws(OTAError) {
            try recording()
            return met
        } catch {
            return OTAError(
                met.code, met.message, cause: met.cause,
                related: met.related + [OTAError(error.code, "not recorded: \(error.message)", cause: error.cause)])
        }
    }

    /// Verification, targeting, anti-rollback, approval rule, filings and the apply plan.
    ///
    /// A trust update the bundle carries is verified against this vehicle's roots and applied to
    /// a copy of its trust store before the signers are checked against that copy (a failing
    /// update refuses the bundle with its own code, nothing changed). With `commitTrust` (an
    /// install), once the manifest that binds it is verified, the update is committed,
    /// journalled and recorded (`trust.update`), before any later policy step; a check only
    /// evaluates against the copy.
    func evaluate(
        reader: BundleReader, bundlePath: String, approval: [UInt8]?, requireApproval: Bool, commitTrust: Bool
    ) throws(OTAError) -> Evaluation {
        let head: VerifiedManifest = try step(.verify) { () throws(OTAError) in
            let trust = try TrustStore(directory: layout.trust)
            _ = try trust.anchors(for: .release)
            let head = try reader.verifyHead(
                policy: BundleTrustPolicy(trust: trust, time: time, threshold: config.threshold))
            return (head, RecordFacts(update: updateFacts(head), ecus: ecuFacts(head.manifest)))
        }
        let manifest = head.manifest
        if commitTrust, let update = head.trustUpdate, update.change.changesStore {
            try step(.trustUpdate) { () throws(OTAError) in
                let source = "bundle \(manifest.bundle.id)"
                return ((), RecordFacts(trust: Self.trustFacts(try applyTrustUnrecorded(update.bytes), source: source)))
            }
        }
        try step(.repository) { () throws(OTAError) in ((), RecordFacts(repository: try checkRepositoryEntry(head))) }
        try step(.target) { () throws(OTAError) in
            try checkTargeting(manifest)
            return ((), .none)
        }
        try step(.antiRollback) { () throws(OTAError) in
            _ = try checkAntiRollback(manifest)
            return ((), .none)
        }
        let required: Bool = try step(.approval) { () throws(OTAError) in
            try checkApproval(
                manifest, digest: head.digest, approval: approval, enforce: requireApproval, trust: head.trust)
        }
        try step(.filing) { () throws(OTAError) in
            _ = try checkFilings(manifest)
            return ((), .none)
        }
        let plan: [PendingImage] = try step(.plan) { () throws(OTAError) in
            (try makePlan(manifest), .none)
        }
        return Evaluation(head: head, plan: plan, approvalRequired: required)
    }

    /// Model, VIN, and per image: a known ECU, its hardware id, its slot group, the slot's size.
    func checkTargeting(_ manifest: Manifest) throws(OTAError) {
        guard manifest.targets.models.contains(config.model) else {
            throw OTAError(
                .targetModel,
                "bundle targets \(manifest.targets.models.joined(separator: ", ")); this vehicle is a \(config.model)")
        }
        let suite = config.suite ?? .intl
        guard manifest.bundle.suite == suite else {
            throw OTAError(
                .targetSuite,
                "bundle uses the \(manifest.bundle.suite.rawValue) suite; this vehicle is configured for \(suite.rawValue)"
            )
        }
        if let vins = manifest.targets.vins, !vins.contains(config.vin) {
            throw OTAError(.targetVin, "this vehicle's VIN is not in the bundle's VIN list")
        }
        var groups = Set<String>()
        for image in manifest.images {
            guard let ecu = config.ecu(image.ecu) else {
                throw OTAError(.targetEcu, "image \(image.name): this vehicle has no ECU \(image.ecu)")
            }
            guard image.hardwareIds.contains(ecu.hardwareId) else {
                throw OTAError(
                    .targetHardwareId,
                    "image \(image.name) is for hardware \(image.hardwareIds.joined(separator: ", ")); ECU \(ecu.id) is \(ecu.hardwareId)"
                )
            }
            guard image.slotGroup == ecu.slotGroup, let group = config.group(image.slotGroup) else {
                throw OTAError(
                    .targetSlotGroup,
                    "image \(image.name) names slot group \(image.slotGroup); ECU \(ecu.id) lives in \(ecu.slotGroup)")
            }
            guard groups.insert(group.name).inserted else {
                throw OTAError(.targetSlotGroup, "two images for slot group \(group.name)")
            }
            guard image.target.size <= group.size else {
                throw OTAError(
                    .targetSlotSize,
                    "image \(image.name) is \(image.target.size) bytes; slot group \(group.name) holds \(group.size)")
            }
        }
    }

    /// The security version never goes down; the plain version goes down only with an equal
    /// security version and the manifest's `allowDowngrade`.
    func checkAntiRollback(_ manifest: Manifest) throws(OTAError) -> String {
        var lines: [String] = []
        for image in manifest.images {
            guard let current = state.ecus[image.ecu] else { continue }
            guard image.securityVersion >= current.securityVersion else {
                throw OTAError(
                    .rollbackSecurityVersion,
                    "image \(image.name): security version \(image.securityVersion) is below ECU \(image.ecu)'s \(current.securityVersion)"
                )
            }
            guard let offered = SoftwareVersion(image.version), let installed = SoftwareVersion(current.version) else {
                throw OTAError(
                    .rollbackVersionUnordered,
                    "image \(image.name): version \(image.version) cannot be ordered against ECU \(image.ecu)'s \(current.version) (docs/FORMAT.md, Versions)"
                )
            }
            if image.securityVersion == current.securityVersion, offered < installed, !image.allowDowngrade {
                throw OTAError(
                    .rollbackVersion,
                    "image \(image.name): version \(image.version) is older than \(current.version) and the manifest does not allow a downgrade"
                )
            }
            lines.append(
                "\(image.ecu) \(current.version)(sv\(current.securityVersion))→\(image.version)(sv\(image.securityVersion))"
            )
        }
        return lines.joined(separator: ", ")
    }

    /// The approval rule (MIIT 2021 No.103 §4): any image for an ECU this vehicle marks
    /// automated-driving, or a manifest declaring `automated-driving`, needs a valid approval.
    /// With `enforce` false (a check without an approval), only reports whether one is needed.
    func checkApproval(
        _ manifest: Manifest, digest: Digest, approval: [UInt8]?, enforce: Bool, trust: TrustStore
    ) throws(OTAError) -> (Bool, RecordFacts) {
        let vehicleMarked = manifest.images.filter { config.ecu($0.ecu)?.isAutomatedDriving == true }.map(\.ecu)
        let declared = manifest.categories.contains(.automatedDriving)
        guard declared || !vehicleMarked.isEmpty else { return (false, .none) }
        guard let approval else {
            if !enforce { return (true, .none) }
            throw OTAError(
                .approvalMissing,
                "bundle \(manifest.bundle.id) changes automated-driving functions (\(declared ? "declared" : "ECU \(vehicleMarked.joined(separator: ", "))")) and no approval was given"
            )
        }
        do throws(OTAError) {
            let verified = try ApprovalVerifier(chains: ChainVerifier(store: trust, time: time)).verify(
                approval, manifest: manifest, manifestDigest: digest, model: config.model)
            return (
                true,
                RecordFacts(
                    approval: approvalFacts(manifest, approvalId: verified.approvalId, validUntil: verified.validUntil))
            )
        } catch {
            throw OTAError(.approvalInvalid, "approval refused: \(error.message)", cause: error.code.rawValue)
        }
    }

    /// The regulatory references each declared category needs (MIIT filing rules, as digested
    /// in the design), present and within their validity.
    func checkFilings(_ manifest: Manifest) throws(OTAError) -> String {
        let now = time.now()
        var found: [String] = []
        for kind in ManifestRules.referencesNeeded(for: manifest.categories) {
            let references = manifest.regulatory.filter { $0.type == kind }
            guard !references.isEmpty else {
                let categories = manifest.categories.sorted().map(\.rawValue).joined(separator: ", ")
                throw OTAError(
                    .filingMissing, "categories \(categories) need a \(kind.rawValue) reference; the manifest has none")
            }
            guard
                let valid = references.first(where: {
                    ($0.validFrom ?? .distantPast) <= now && now < ($0.validUntil ?? .distantFuture)
                })
            else {
                throw OTAError(.filingExpired, "no \(kind.rawValue) reference is valid now")
            }
            found.append("\(kind.rawValue):\(valid.number)")
        }
        return found.joined(separator: ",")
    }

    /// Preconditions against the vehicle's readings (No.103 §3, R156 §7.2.2).
    func checkPreconditions(_ required: Preconditions, _ conditions: VehicleConditions?) throws(OTAError) -> RecordFacts
    {
        guard let conditions else {
            throw OTAError(.preconditionUnknown, "no vehicle state was given; the preconditions cannot be checked")
        }
        attempt?.merge(RecordFacts(preconditions: Self.readings(conditions)))
        // Readings are checked before they are trusted: a battery at 1000% satisfies nothing.
        guard (0...100).contains(conditions.batteryPercent) else {
            throw OTAError(
                .preconditionReading,
                "the battery reading \(conditions.batteryPercent)% is not a charge level (0...100)")
        }
        if let gear = conditions.gear, !ManifestRules.isGear(gear) {
            throw OTAError(.preconditionReading, "the gear reading '\(gear)' is not a gear (1 to 4 of A-Z 0-9)")
        }
        if required.parked && !conditions.parked { throw OTAError(.preconditionParked, "the vehicle must be parked") }
        if let gear = required.gear, conditions.gear != gear {
            throw OTAError(.preconditionGear, "the gear must be \(gear); it is \(conditions.gear ?? "unknown")")
        }
        if conditions.batteryPercent < required.minimumBatteryPercent {
            throw OTAError(
                .preconditionBattery,
                "battery at \(conditions.batteryPercent)%; the update and a recovery need \(required.minimumBatteryPercent)%"
            )
        }
        // A reading the manifest needs and the state does not give satisfies nothing.
        if required.noDrivingDuringInstall {
            guard let driving = conditions.driving else {
                throw OTAError(
                    .preconditionUnknown,
                    "the update needs a vehicle that is not driven; the state has no `driving` reading")
            }
            if driving { throw OTAError(.preconditionDriving, "the vehicle is being driven") }
        }
        if required.doorsUnlockable {
            guard let doors = conditions.doorsUnlockable else {
                throw OTAError(
                    .preconditionUnknown,
                    "the doors must stay unlockable; the state has no `doorsUnlockable` reading")
            }
            if !doors { throw OTAError(.preconditionDoors, "the doors must stay unlockable") }
        }
        return RecordFacts(preconditions: Self.readings(conditions))
    }

    /// Consent to the notice in the language shown; recorded with the notice's digest.
    func checkConsent(_ manifest: Manifest, _ consent: Consent?) throws(OTAError) -> RecordFacts {
        guard let consent else { throw OTAError(.consentMissing, "the user has not answered the update notice") }
        let facts = try consentFacts(manifest, consent)
        attempt?.merge(facts)
        guard consent.answer == .accepted else {
            throw OTAError(
                .consentRefused,
                "the \(consent.by.rawValue) refused the update (notice \(facts.notice?.digest ?? "-"), \(consent.language))"
            )
        }
        if manifest.preconditions.skilledPersonRequired && consent.by != .technician {
            throw OTAError(
                .consentSkilledPerson,
                "the update needs a skilled person: a technician must confirm it (answered by the \(consent.by.rawValue))"
            )
        }
        return facts
    }

    /// The inactive slot of each group; delta images need a delta applier and a source that
    /// matches the active slot's recorded content.
    func makePlan(_ manifest: Manifest) throws(OTAError) -> [PendingImage] {
        let boot = try bootControl.load()
        var plan: [PendingImage] = []
        for image in manifest.images {
            let active = boot.active[image.slotGroup] ?? .a
            if image.kind == .delta {
                guard options.deltaApplier != nil else {
                    throw OTAError(
                        .installDeltaUnavailable,
                        "image \(image.name) is a delta and this installer has no delta applier yet")
                }
                let info = state.slot(image.slotGroup, active)
                guard let source = image.source, info.status == .valid, info.hash == source.hash,
                    info.size == source.size
                else {
                    throw OTAError(
                        .deltaSourceMismatch,
                        "image \(image.name) applies to \(image.source?.version ?? "?"); slot \(image.slotGroup)/\(active.rawValue) holds something else"
                    )
                }
            }
            plan.append(
                PendingImage(
                    name: image.name, ecu: image.ecu, slotGroup: image.slotGroup, slot: active.other,
                    version: image.version,
                    securityVersion: image.securityVersion, hash: image.target.hash, size: image.target.size,
                    kind: image.kind))
        }
        return plan
    }
}
