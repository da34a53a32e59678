import Foundation
public import OTACore
import OTARecorder
import Synchronization

extension Vehicle {
    /// Runs the whole policy (as `check`, plus the approval, preconditions and consent), then
    /// streams every image into the inactive slot of its group, checks each written slot's hash,
    /// and, with `activate`, points the boot control at all new slots together (on trial).
    ///
    /// Only bytes verified as they were read are written: the bundle is read once, through one
    /// descriptor. With `expecting` (the decision from `check`), a bundle whose manifest changed
    /// since is refused (`install.bundle-changed`). Success means "installed" or "activated":
    /// the update is done only after a reboot and `confirmBoot()`.
    @discardableResult
    public func install(
        bundle path: String, expecting decision: InstallDecision? = nil, approval: [UInt8]? = nil,
        conditions: VehicleConditions?,
        consent: Consent?, activate: Bool = true, progress: ((WorkProgress) -> Void)? = nil
    ) throws(OTAError) -> InstallReport {
        let started = Date()
        try beginAttempt(.install)
        if let pending = state.pending {
            let error = OTAError(
                .installPending,
                "update \(pending.bundleId) is \(pending.stage.rawValue); confirm or roll it back first")
            throw failure(error) { () throws(OTAError) in
                try record(.install, .rejected, error: error)
                try recordResult(.rejected, error: error)
            }
        }
        let reader: BundleReader
        do throws(OTAError) {
            reader = try BundleReader(path: path)
        } catch {
            throw failure(error) { () throws(OTAError) in
                try record(.verify, Self.outcome(of: error), error: error)
                try recordResult(Self.outcome(of: error), error: error)
            }
        }
        let evaluation = try evaluate(
            reader: reader, bundlePath: path, approval: approval, requireApproval: true, commitTrust: true)
        let manifest = evaluation.head.manifest
        if let expected = decision?.manifestDigest {
            try step(.unchanged) { () throws(OTAError) in
                guard expected == evaluation.head.digest.hex else {
                    throw OTAError(
                        .installBundleChanged,
                        "the bundle's manifest changed since it was checked (digest \(evaluation.head.digest.hex), checked \(expected))"
                    )
                }
                return ((), .none)
            }
        }
        try step(.precondition) { () throws(OTAError) in
            ((), try checkPreconditions(manifest.preconditions, conditions))
        }
        try step(.consent) { () throws(OTAError) in ((), try checkConsent(manifest, consent)) }
        // The content key is unwrapped before anything is marked: a bad or foreign recipients
        // block (unsigned, so anyone can alter it) is a refusal that leaves every slot untouched.
        let contentKey: ContentKey? = try step(.decrypt) { () throws(OTAError) in
            guard manifest.encryption != nil else { return (nil, .none) }
            guard FileSystem.exists(layout.decryptionKey) else {
                throw OTAError(.decryptKeyMissing, "this vehicle has no decryption key")
            }
            let key = try evaluation.head.recipients.contentKey(
                using: [try PrivateKey(contentsOf: layout.decryptionKey)], manifestDigest: evaluation.head.digest)
            return (key, .none)
        }

        // Apply. The target slots are marked `writing` before their first byte.
        let digest = evaluation.head.digest
        var next = state
        next.pending = PendingUpdate(
            stage: .writing, bundleId: manifest.bundle.id, campaign: manifest.bundle.campaign,
            manifestDigest: digest.hex,
            hashAlgorithm: digest.algorithm, images: evaluation.plan, started: time.now(), attempt: attempt)
        for image in evaluation.plan {
            next.setSlot(image.slotGroup, image.slot, SlotInfo(status: .writing, bundle: manifest.bundle.id))
        }
        try save(next, step: "journal.writing")
        try record(.applyStart, .pending)
        let written: UInt64
        do throws(OTAError) {
            written = try writeImages(
                reader: reader, head: evaluation.head, contentKey: contentKey, plan: evaluation.plan, progress: progress
            )
        } catch {
            // Nothing switched; the half-written slots stay untrusted.
            throw failure(error) { () throws(OTAError) in
                try abandon(code: error.code, message: error.message, step: .apply)
            }
        }
        next = state
        next.pending?.stage = .installed
        for image in evaluation.plan {
            next.setSlot(
                image.slotGroup, image.slot,
                SlotInfo(
                    status: .valid, version: image.version, securityVersion: image.securityVersion, hash: image.hash,
                    hashAlgorithm: digest.algorithm, size: image.size, bundle: manifest.bundle.id))
        }
        // One record per ECU written (R156 §7.1.2: versions, integrity data and software
        // identification before and after), then one for the whole set.
        for facts in attempt?.ecus ?? [] { try record(.applyImage, .success, facts: RecordFacts(ecus: [facts])) }
        try record(.applyInstalled, .success)
        try save(next, step: "journal.installed")
        // The slots were read back and hashed just now, under the vehicle lock: activating here
        // does not hash them a second time (a later, separate `activate()` does).
        if activate { try self.activate(rehash: false) }
        return InstallReport(
            bundleId: manifest.bundle.id, manifestDigest: digest.hex, stage: state.pending?.stage ?? .installed,
            images: evaluation.plan,
            bytesWritten: written, seconds: Date().timeIntervalSince(started))
    }

    /// Streams each payload, verified chunk by chunk, through the decoder into its slot, and
    /// checks the slot's hash as read back from the device.
    ///
    /// Pipelined over the cores: one thread reads each stored chunk, checks its signed hash and
    /// decrypts it; the calling thread decompresses (xz blocks decode on `decodeThreads`
    /// threads), hashes the content and writes it in order; a third thread reads back what has
    /// been written and checks it: compared byte for byte with what was written for a full image
    /// (whose written bytes the decoder hashed against the signed image hash) and for a delta
    /// whose applier checks its output against the signed target hash (OTADelta), else hashed.
    /// Only bytes verified as they were read are ever decrypted or written, as in a single loop;
    /// a failure anywhere stops every stage before this returns.
    func writeImages(
        reader: BundleReader, head: VerifiedManifest, contentKey: ContentKey?, plan: [PendingImage],
        progress: ((WorkProgress) -> Void)?
    ) throws(OTAError) -> UInt64 {
        let manifest = head.manifest
        let total = plan.reduce(0) { $0 + $1.size }
        // Bytes written so far: added to by the slot writes (for a delta on the frame thread of
        // OTADelta's pipelined decoder), read by the progress report on this thread. A count and
        // nothing else depends on it, so relaxed atomics are enough.
        let done = Atomic<UInt64>(0)
        func report(_ step: String) {
            progress?(WorkProgress(step: step, done: done.load(ordering: .relaxed), total: total))
        }
        while let stream = try reader.nextPayload() {
            let image = stream.image
            guard let target = plan.first(where: { $0.name == image.name }) else {
                throw OTAError(.bundleUnexpectedEntry, "payload \(image.name) is not planned")
            }
            let device = try slotDevice(target.slotGroup, target.slot, writable: true)
            guard image.target.size <= device.capacity else {
                throw OTAError(
                    .targetSlotSize,
                    "\(device.path): \(device.capacity) bytes; image \(image.name) needs \(image.target.size)")
            }
            let decoder = try PayloadDecoder(
                manifest: manifest, image: image, contentKey: contentKey, threads: Self.decodeThreads)
            // A full image's content is hashed by the decoder as it is written and must equal the
            // signed image (manifest rule), and so is a delta's output by an applier that
            // `verifiesTarget` (OTADelta): reading it back, it is enough to compare it with what
            // was written. Another applier's output is hashed as read back.
            let sameAsDecoded =
                switch image.kind {
                case .full: image.payload.plainHash == image.target.hash && image.payload.plainSize == image.target.size
                case .delta: options.deltaApplier?.verifiesTarget == true
                }
            let writer = try ReadBackSlotWriter(
                device, check: sameAsDecoded ? .sameAsWritten : .hash(head.digest.algorithm))
            defer { writer.stop() }
            let counted = CountingSlotWriter(writer) { count in
                self.fault(.bytesWritten(done.add(count, ordering: .relaxed).newValue))
            }
            // Stage one (its own thread): read, check the chunk's signed hash, decrypt.
            let produce = { () throws(OTAError) -> (opened: [UInt8], isLast: Bool)? in
                var item: (opened: [UInt8], isLast: Bool)?
                guard
                    try stream.withNextChunk({ chunk, isLast throws(OTAError) in
                        item = (try decoder.open(chunk, isLast: isLast), isLast)
                    })
                else {
                    return nil
                }
                return item
            }
            report("write \(image.name)")
            if image.kind == .full {
                var offset: UInt64 = 0
                try StagePipeline.run(depth: Self.pipelineDepth, produce: produce) { item throws(OTAError) in
                    try decoder.decode(item.opened, isLast: item.isLast) { piece throws(OTAError) in
                        try counted.write(piece[...], at: offset)
                        offset += UInt64(piece.count)
                    }
                    report("write \(image.name)")
                }
                try decoder.finish()
            } else {
                guard let applier = options.deltaApplier, let source = image.source else {
                    throw OTAError(
                        .installDeltaUnavailable,
                        "image \(image.name) is a delta and this installer has no delta applier yet")
                }
                // The source is the active slot; its content is checked here before the patch is
                // applied to it, or by the applier by the end of `session.finish()` (OTADelta: on
                // a second thread while it decodes). Either way a wrong source fails the install
                // before the read-back check below, and nothing is switched.
                let sourceDevice = try slotDevice(target.slotGroup, target.slot.other, writable: false)
                if !applier.verifiesSource {
                    let digest = try sourceDevice.hash(head.digest.algorithm, size: source.size)
                    guard digest.hex == source.hash else {
                        throw OTAError(
                            .deltaSourceMismatch,
                            "slot \(target.slotGroup)/\(target.slot.other.rawValue) does not hold \(source.version)")
                    }
                }
                // The session may write the slot on a thread of its own behind `consume`
                // (OTADelta's frames): on any failure it is cancelled, which waits for that
                // thread, before `writer.stop()` and the caller's `abandon` touch the slot.
                let targetHash = try Digest(
                    algorithm: head.digest.algorithm, hex: image.target.hash, field: "image \(image.name) target hash")
                let session = try applier.begin(
                    source: sourceDevice, sourceSize: source.size, target: counted, targetSize: image.target.size,
                    targetHash: targetHash, patchSize: image.payload.plainSize)
                let rebuilt: UInt64
                do throws(OTAError) {
                    try StagePipeline.run(depth: Self.pipelineDepth, produce: produce) { item throws(OTAError) in
                        try decoder.decode(item.opened, isLast: item.isLast) { piece throws(OTAError) in
                            try session.consume(piece)
                        }
                        report("write \(image.name)")
                    }
                    try decoder.finish()
                    rebuilt = try session.finish()
                } catch {
                    session.cancel()
                    throw error
                }
                guard rebuilt == image.target.size else {
                    throw OTAError(
                        .deltaShortOutput,
                        "image \(image.name): the delta rebuilt \(rebuilt) bytes; \(image.target.size) signed")
                }
            }
            try device.sync()
            report("verify \(image.name)")
            switch try writer.finish(size: image.target.size) {
            case .matchesWritten:
                break  // the bytes written are the content `decoder.finish()` checked against the signed hash
            case .digest(let digest):
                guard digest.hex == image.target.hash else {
                    throw OTAError(
                        .slotHashMismatch, "\(device.path): the written image does not match its signed hash")
                }
            }
        }
        return done.load(ordering: .relaxed)
    }

    /// Threads for xz decoding: one per core (liblzma uses fewer when the blocks would not fit
    /// the decoder's memory limit, and one for a single-block stream).
    static var decodeThreads: Int { max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4)) }
    /// Opened chunks the reading stage may hold ahead of the decoder.
    static let pipelineDepth = 4

    /// Points the boot control at every new slot at once (on trial, with the configured number
    /// of tries), after checking each slot's hash again. Separate from `install` so several
    /// units can be switched together.
    public func activate() throws(OTAError) {
        try activate(rehash: true)
    }

    func activate(rehash: Bool) throws(OTAError) {
        guard var next = state.pending, next.stage == .installed || next.stage == .activating else {
            throw OTAError(.activateNothingInstalled, "no installed update to activate")
        }
        if next.stage == .installed {
            var updated = state
            next.stage = .activating
            updated.pending = next
            try save(updated, step: "journal.activating")
        }
        for image in next.images where rehash {
            let hash = try slotDevice(image.slotGroup, image.slot, writable: false).hash(
                next.hashAlgorithm, size: image.size)
            guard hash.hex == image.hash else {
                try abandon(
                    code: .slotHashMismatch,
                    message: "slot \(image.slotGroup)/\(image.slot.rawValue) changed after it was written",
                    step: .activate)
                throw OTAError(
                    .slotHashMismatch,
                    "slot \(image.slotGroup)/\(image.slot.rawValue) changed after it was written; update abandoned")
            }
        }
        var boot = try bootControl.load()
        if boot.trial != next.targets {
            boot.trial = next.targets
            boot.triesRemaining = config.tries
            try bootControl.store(boot)
        }
        fault(.step("boot.trial-set"))
        try record(.activate, .pending)
        var updated = state
        updated.pending?.stage = .activated
        try save(updated, step: "journal.activated")
    }

    /// Drops the update in progress: its slots are marked discarded (never trusted again),
    /// nothing switched.
    func abandon(code: OTAError.Code, message: String, step: RecordStep) throws(OTAError) {
        guard let pending = state.pending else { return }
        var next = state
        for image in pending.images {
            next.setSlot(image.slotGroup, image.slot, SlotInfo(status: .discarded, bundle: pending.bundleId))
        }
        next.pending = nil
        // Recorded before the journal moves on: a crash in between records it again on restart
        // (at least once), never not at all.
        let error = OTAError(code, message)
        let outcome: RecordOutcome = step == .rollback || step == .boot ? .rolledBack : .failure
        try record(step, outcome, error: error)
        try recordResult(outcome, error: error)
        try save(next, step: "journal.abandoned")
    }
}

/// Passes writes to a slot and reports how many bytes each wrote (progress, fault injection).
/// `written` runs on the thread that writes.
final class CountingSlotWriter: SlotWriting {
    let device: any SlotWriting
    let written: (UInt64) -> Void

    init(_ device: any SlotWriting, written: @escaping (UInt64) -> Void) {
        self.device = device
        self.written = written
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError) {
        try device.write(bytes, at: offset)
        written(UInt64(bytes.count))
    }

    /// Passes the slice on as a slice, so a `ReadBackSlotWriter` below keeps it without a copy.
    func write(_ bytes: ArraySlice<UInt8>, at offset: UInt64) throws(OTAError) {
        try device.write(bytes, at: offset)
        written(UInt64(bytes.count))
    }
}
