public import OTACore
import OTARecorder

extension Vehicle {
    /// After the reboot into the new slots: makes them permanent, moves the security-version
    /// counters, and records success. Refused unless the running system is the trial.
    public func confirmBoot() throws(OTAError) {
        guard let pending = state.pending, pending.stage == .activated || pending.stage == .committing else {
            throw OTAError(.confirmNothingPending, "no activated update to confirm")
        }
        if pending.stage == .activated {
            let boot = try bootControl.load()
            guard boot.trial == pending.targets, boot.isBootedOnTrial else {
                let error = OTAError(
                    .confirmNotBooted,
                    "update \(pending.bundleId) is activated but the vehicle has not booted it yet (reboot first)")
                try record(.confirm, .rejected, error: error)
                throw error
            }
            var next = state
            next.pending?.stage = .committing
            try save(next, step: "journal.committing")
        }
        try finishCommit()
    }

    /// Boot control first (the new slots become the committed ones), then the counters: a crash
    /// between leaves the counters behind what is installed, never ahead.
    func finishCommit() throws(OTAError) {
        guard let pending = state.pending else { return }
        var boot = try bootControl.load()
        if boot.trial != nil || pending.targets.contains(where: { boot.active[$0.key] != $0.value }) {
            boot.active.merge(pending.targets) { _, new in new }
            boot.trial = nil
            boot.triesRemaining = 0
            try bootControl.store(boot)
        }
        fault(.step("boot.committed"))
        var next = state
        for image in pending.images {
            let facts = pending.attempt?.ecus.first { $0.ecu == image.ecu }
            next.ecus[image.ecu] = InstalledSoftware(
                version: image.version, securityVersion: image.securityVersion, bundle: pending.bundleId,
                swin: facts?.swinAfter ?? state.ecus[image.ecu]?.swin,
                rxswin: facts?.rxswinAfter ?? state.ecus[image.ecu]?.rxswin)
        }
        next.pending = nil
        try record(.commit, .success)
        try recordResult(.success)
        try save(next, step: "journal.committed")
    }

    /// Abandons the update in progress (installed or activated, not yet confirmed): the boot
    /// control goes back to the committed slots and the new slots are discarded.
    public func rollback() throws(OTAError) {
        guard let pending = state.pending else { throw OTAError(.rollbackNothingPending, "no update in progress") }
        if pending.stage != .rollingBack {
            var next = state
            next.pending?.stage = .rollingBack
            try save(next, step: "journal.rolling-back")
        }
        try finishRollback(code: .rollbackRequested, message: "rolled back on request")
    }

    func finishRollback(code: OTAError.Code, message: String) throws(OTAError) {
        guard state.pending != nil else { return }
        var boot = try bootControl.load()
        if boot.trial != nil {
            boot.trial = nil
            boot.triesRemaining = 0
            try bootControl.store(boot)
        }
        fault(.step("boot.rolled-back"))
        try abandon(code: code, message: message, step: .rollback)
    }

    /// The simulated power cycle: the bootloader's logic (`Bootloader.boot`), then the
    /// installer's recovery, which records a fallback as a failure with its reason.
    @discardableResult
    public func reboot() throws(OTAError) -> BootState {
        let boot = try Bootloader.boot(bootControl)
        fault(.step("boot.counted"))
        try recordBoots()
        try recover()
        return boot
    }

    /// Records the boots the bootloader counted since the last recorded one (normally one). Runs
    /// at every start, so a power cut between the bootloader saving its environment and the
    /// record leaves the boot to be recorded on the next start: twice at worst, never not at all.
    /// A boot that fell back from the trial of the update in progress is a failure.
    func recordBoots() throws(OTAError) {
        let boot = try bootControl.load()
        let recorded = state.recordedBootCount ?? 0
        guard boot.bootCount > recorded else { return }
        let reading = RecordFacts(
            boot: BootReading(
                booted: boot.booted.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(
                    separator: ","),
                triesRemaining: Int64(clamping: boot.triesRemaining), count: boot.bootCount,
                unrecorded: boot.bootCount - recorded))
        if let fallback = boot.lastFallback, boot.trial == nil, state.pending?.stage == .activated {
            try record(.boot, .failure, error: OTAError(.bootFallback, fallback), facts: reading)
        } else {
            try record(.boot, .success, facts: reading)
        }
        var next = state
        next.recordedBootCount = boot.bootCount
        try save(next, step: "journal.boot-recorded")
    }

    /// Settles an update a power loss interrupted, from the journal's stage and the boot
    /// control: half-written slots are discarded (rewritten in full by the next attempt), an
    /// interrupted switch or commit is completed, a bootloader fallback is recorded.
    func recover() throws(OTAError) {
        guard let pending = state.pending else { return }
        switch pending.stage {
        case .writing:
            try abandon(
                code: .installInterrupted,
                message: "the installer stopped while writing slots; they will be rewritten in full", step: .recover)
        case .installed:
            break  // consistent: old software boots; activate() or rollback() decides
        case .activating:
            try activate()
        case .activated:
            let boot = try bootControl.load()
            if boot.trial == pending.targets { return }  // waiting for reboot and confirm
            let reason = boot.lastFallback ?? "the boot control no longer tries the new slots"
            try abandon(code: .bootFallback, message: reason, step: .boot)
        case .committing:
            try finishCommit()
        case .rollingBack:
            try finishRollback(code: .rollbackRequested, message: "rolled back on request (completed after a restart)")
        }
    }
}
