/// The installer steps a record names, in the order an install runs them (docs/INSTALLER.md).
public enum RecordStep: String, Sendable, CaseIterable, Comparable {
    /// The vehicle directory was set up (software at delivery).
    case vehicleInit = "vehicle.init"
    /// The sealed installer state did not verify on open (refused).
    case stateCheck = "state.check"
    /// The trust store did not match its seal on open (refused).
    case trustCheck = "trust.check"
    /// A trust change a power loss interrupted, finished or undone on open.
    case trustRecover = "trust.recover"
    /// Trust material received over the air applied (or refused).
    case trustUpdate = "trust.update"
    /// The agent refreshed the TUF metadata (its versions and events recorded).
    case agentRefresh = "agent.refresh"
    /// The clock floor moved toward the time the repository's timestamp was signed.
    case clockFloor = "clock.floor"
    /// The agent fetched trust material (CRLs, trust updates) the repository lists.
    case agentTrust = "agent.trust"
    /// The agent read the repository's target entries (one it cannot read is refused).
    case agentSelect = "agent.select"
    /// The agent asked what the repository offers this vehicle.
    case agentCheck = "agent.check"
    /// The agent downloaded a bundle (resumed, every chunk checked).
    case agentDownload = "agent.download"
    /// An install asked for while another update is in progress, or a bundle that cannot be read.
    case install
    /// Signatures, chains, threshold, revocation, validity.
    case verify
    /// The repository's signed target entry agrees with the release-signed manifest.
    case repository
    /// Model, VIN, ECU, hardware id, slot group, slot size.
    case target
    /// Security versions never go down; versions only with an allowed downgrade.
    case antiRollback = "anti-rollback"
    /// The automated-driving approval rule.
    case approval
    /// Filing references the change categories need.
    case filing
    /// Which slot each image goes to.
    case plan
    /// The bundle is the one that was checked.
    case unchanged
    /// Vehicle state readings against the preconditions.
    case precondition
    /// The user (or technician) answered the notice.
    case consent
    /// The content key unwrapped (an encrypted bundle), before any slot is marked.
    case decrypt
    /// Slots marked and writing begins.
    case applyStart = "apply.start"
    /// Writing the images failed as a whole (nothing switched).
    case apply
    /// One ECU's image written and checked.
    case applyImage = "apply.image"
    /// Every image written and checked.
    case applyInstalled = "apply.installed"
    /// The boot control tries the new slots.
    case activate
    /// A (simulated) power cycle: the bootloader chose its slots.
    case boot
    /// Confirmation asked for after the boot.
    case confirm
    /// The new slots made permanent, counters moved.
    case commit
    /// The update abandoned and the previous software kept.
    case rollback
    /// An interrupted update settled after a restart.
    case recover
    /// The agent installed what the repository offered (or could not).
    case agentInstall = "agent.install"
    /// The agent confirmed the update after the reboot.
    case agentConfirm = "agent.confirm"
    /// The agent found that the boot control fell back to the previous software.
    case agentRolledBack = "agent.rolled-back"
    /// The attempt's outcome with every fact of it, and the result notice shown.
    case result

    public static func < (lhs: RecordStep, rhs: RecordStep) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// How a step ended: one vocabulary for the installer, the log, the store and every export.
public enum RecordOutcome: String, Sendable, CaseIterable {
    /// Done as asked.
    case success
    /// Refused by verification or policy (nothing was written).
    case rejected
    /// Could not be done (an I/O error, a hash that did not match after writing, a failed boot).
    case failure
    /// The update was abandoned and the vehicle kept or went back to its previous software.
    case rolledBack = "rolled-back"
    /// Under way: written but not yet switched or confirmed.
    case pending

    /// Whether a report highlights it as a problem.
    public var isFailure: Bool { self == .rejected || self == .failure || self == .rolledBack }
}

/// Who confirmed (GB 44496: explicit confirmation before an OTA; a skilled person where the
/// manifest asks for one).
public enum ConfirmingParty: String, Sendable, CaseIterable, Codable {
    case owner, driver, fleet, technician
}

/// What the confirming party answered.
public enum ConsentAnswer: String, Sendable, CaseIterable, Codable {
    case accepted, refused
}

/// Whether steps ran for a check (nothing written) or for an install.
public enum RecordPhase: String, Sendable, CaseIterable {
    case check, install
}
