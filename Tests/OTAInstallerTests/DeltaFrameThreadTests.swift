import Foundation
import OTACore
import OTADelta
import OTAInstaller
import OTATestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `OTADeltaApplier` runs the decoder pipelined: the slot writes happen on the decoder's frame
/// thread while the installer's thread feeds the next patch bytes. A write's failure must still
/// fail the delta with its own code (from `consume` or `finish`), nothing may be written after
/// it, and a session given up mid-patch must not write after `cancel` (or its release) returned.
@Suite("Delta writes on the decoder's frame thread")
struct DeltaFrameThreadTests {
    /// Images like a file system's (the fixture's generator: zeros, text and noise), 3 MiB: the
    /// patch has several frames and the output twelve 256 KiB pieces.
    static let pair: (old: [UInt8], new: [UInt8], patch: [UInt8]) = {
        let old = [UInt8](InstallerFixture.image(size: 3 << 20, seed: 10))
        let new = [UInt8](InstallerFixture.image(size: 3 << 20, seed: 20))
        return (old, new, try! Delta.diff(old: old, new: new))
    }()

    /// What a target saw: its writes, on which threads, and writes after a failure or a release.
    final class WriteLog: Sendable {
        struct State {
            var writes = 0
            var running = 0
            var offThread = 0
            var afterFailure = 0
            var afterRelease = 0
            var failed = false
            var released = false
            var reached = false
            var content: [UInt8] = []
        }
        let state = Mutex(State())
        /// The thread feeding the patch.
        let feeder = Mutex<pthread_t?>(nil)
        var snapshot: State { state.withLock { $0 } }
    }

    /// Records its writes into `log` (and passes them on to `next`); fails the `failAt`th one
    /// (counting from 1) with `slot.io`; holds the `holdAt`th one for `hold` seconds, and every
    /// one for `delay` seconds (a slow device).
    final class Target: SlotWriting {
        let log: WriteLog
        let next: (any SlotWriting)?
        let failAt: Int?
        let holdAt: Int?
        let hold: Double
        let delay: Double

        init(
            log: WriteLog, next: (any SlotWriting)? = nil, failAt: Int? = nil, holdAt: Int? = nil, hold: Double = 0,
            delay: Double = 0
        ) {
            self.log = log
            self.next = next
            self.failAt = failAt
            self.holdAt = holdAt
            self.hold = hold
            self.delay = delay
        }

        func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OTAError) {
            let feeder = log.feeder.withLock { $0 }
            let number = log.state.withLock { state in
                state.writes += 1
                state.running += 1
                if state.failed { state.afterFailure += 1 }
                if state.released { state.afterRelease += 1 }
                if let feeder, pthread_equal(feeder, pthread_self()) == 0 { state.offThread += 1 }
                if state.writes == holdAt { state.reached = true }
                return state.writes
            }
            defer { log.state.withLock { $0.running -= 1 } }
            if number == holdAt { usleep(useconds_t(hold * 1_000_000)) }
            if delay > 0 { usleep(useconds_t(delay * 1_000_000)) }
            if number == failAt {
                log.state.withLock { $0.failed = true }
                throw OTAError(.slotIo, "write \(number) failed")
            }
            try next?.write(bytes, at: offset)
            log.state.withLock { state in
                let end = Int(offset) + bytes.count
                if state.content.count < end {
                    state.content += [UInt8](repeating: 0, count: end - state.content.count)
                }
                state.content.replaceSubrange(Int(offset)..<end, with: bytes)
            }
        }
    }

    /// A slot file holding `bytes` (the source is a `SlotDevice`, as on a vehicle: hashed on a
    /// second thread while the patch is decoded).
    static func sourceSlot(_ bytes: [UInt8], in directory: TemporaryDirectory) throws -> SlotDevice {
        let path = directory.path + "/source-\(UUID().uuidString).img"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try SlotDevice(path: path, writable: false)
    }

    /// A session of the installer's delta applier: `old` as a slot file in `directory`, the
    /// output to `target`, the signed sizes those of `old`, `targetSize` and `patch`, the signed
    /// target hash `targetHash` (by default the one the patch header declares).
    static func session(
        old: [UInt8], in directory: TemporaryDirectory, target: any SlotWriting, targetSize: Int, patch: [UInt8],
        targetHash: Digest? = nil
    ) throws -> any DeltaApplySession {
        try OTADeltaApplier().begin(
            source: try sourceSlot(old, in: directory), sourceSize: UInt64(old.count), target: target,
            targetSize: UInt64(targetSize), targetHash: try targetHash ?? DeltaPatchHeader.decode(patch).newHash,
            patchSize: UInt64(patch.count))
    }

    /// Feeds the patch in 16 KiB pieces as the installer would, stopping at the first error;
    /// returns the error of `consume` or `finish`, or nil. `after` runs after each piece.
    static func apply(
        _ session: any DeltaApplySession, _ patch: [UInt8], piece: Int = 16 << 10, after: () -> Bool = { false }
    ) -> OTAError? {
        do throws(OTAError) {
            var offset = 0
            while offset < patch.count {
                let end = min(offset + piece, patch.count)
                try session.consume(Array(patch[offset..<end]))
                offset = end
                if after() { return nil }
            }
            _ = try session.finish()
            return nil
        } catch {
            return error
        }
    }

    @Test func `the session rebuilds the image byte for byte, its writes on the decoder's own thread`() throws {
        let directory = try TemporaryDirectory("delta-frame-thread")
        let (old, new, patch) = Self.pair
        let log = WriteLog()
        log.feeder.withLock { $0 = pthread_self() }
        let session = try Self.session(
            old: old, in: directory, target: Target(log: log), targetSize: new.count, patch: patch)
        #expect(Self.apply(session, patch).map { "\($0.code): \($0.message)" } == nil)
        let seen = log.snapshot
        #expect(seen.content == new)
        #expect(seen.writes >= 12)
        // All but the last piece, which `finish` writes after the last frame ran.
        #expect(seen.offThread >= seen.writes - 1, "\(seen.offThread) of \(seen.writes) writes off the feeding thread")
    }

    /// The first, a middle and the last-but-one piece: the error comes from `consume` (a later
    /// frame's) or from `finish`, with the writer's own code and message.
    @Test(arguments: [1, 6, 11])
    func `a slot write failing on the frame thread fails the delta with its own code, nothing written after it`(
        failAt: Int
    ) throws {
        let directory = try TemporaryDirectory("delta-frame-thread")
        let (old, new, patch) = Self.pair
        let log = WriteLog()
        let session = try Self.session(
            old: old, in: directory, target: Target(log: log, failAt: failAt), targetSize: new.count, patch: patch)
        let error = Self.apply(session, patch)
        session.cancel()
        #expect(error?.code == "slot.io")
        #expect(error?.message == "write \(failAt) failed")
        usleep(100_000)
        let seen = log.snapshot
        #expect(seen.writes == failAt && seen.afterFailure == 0, "\(seen.writes) writes")
    }

    /// A small image and patch (`Delta.threads`, as `ota-patch` chooses): the session starts no
    /// thread of its own, every write is made on the feeding thread, and a wrong source is still
    /// refused as such.
    @Test func `a small delta is applied on the installer's thread alone`() throws {
        let directory = try TemporaryDirectory("delta-one-thread")
        let old = [UInt8](InstallerFixture.image(size: 1 << 20, seed: 10))
        var new = old
        for index in stride(from: 5000, to: new.count, by: 70_000) { new[index] &+= 1 }
        let patch = try Delta.diff(old: old, new: new)
        #expect(
            Delta.threads(oldSize: UInt64(old.count), newSize: UInt64(new.count), patchSize: UInt64(patch.count))
                == .callerOnly)
        let log = WriteLog()
        log.feeder.withLock { $0 = pthread_self() }
        let session = try Self.session(
            old: old, in: directory, target: Target(log: log), targetSize: new.count, patch: patch)
        #expect(Self.apply(session, patch).map { "\($0.code): \($0.message)" } == nil)
        let seen = log.snapshot
        #expect(seen.content == new)
        #expect(seen.writes >= 4)
        #expect(seen.offThread == 0, "\(seen.offThread) of \(seen.writes) writes off the feeding thread")
        var wrong = old
        wrong[old.count / 2] ^= 1
        let refused = try Self.session(
            old: wrong, in: directory, target: Target(log: WriteLog()), targetSize: new.count, patch: patch)
        #expect(Self.apply(refused, patch)?.code == "delta.source-mismatch")
    }

    @Test func `a patch rebuilding more than the signed size is delta.too-long, nothing written past it`() throws {
        let directory = try TemporaryDirectory("delta-frame-thread")
        let (old, new, patch) = Self.pair
        let log = WriteLog()
        let limit = new.count - 1000
        let session = try Self.session(
            old: old, in: directory, target: Target(log: log), targetSize: limit, patch: patch)
        let error = Self.apply(session, patch)
        session.cancel()
        #expect(error?.code == "delta.too-long")
        #expect(log.snapshot.content.count <= limit)
    }

    /// The installer compares the slot read back with the bytes written, not with the signed
    /// hash: that is sound only because a patch for another target writes nothing.
    @Test func `a patch declaring another new image than the signed target writes nothing`() throws {
        let directory = try TemporaryDirectory("delta-frame-thread")
        let (old, new, patch) = Self.pair
        var signed = try Hasher.hash(.sha256, new).bytes
        signed[0] ^= 1
        let log = WriteLog()
        let session = try Self.session(
            old: old, in: directory, target: Target(log: log), targetSize: new.count, patch: patch,
            targetHash: Digest(algorithm: .sha256, bytes: signed))
        let error = Self.apply(session, patch)
        session.cancel()
        #expect(error?.code == "delta.target-mismatch")
        #expect(log.snapshot.writes == 0)
    }

    @Test func `a wrong source is delta.source-mismatch, whatever the frames wrote`() throws {
        let directory = try TemporaryDirectory("delta-frame-thread")
        var (old, new, patch) = Self.pair
        old[old.count - 5] ^= 0xFF
        let session = try Self.session(
            old: old, in: directory, target: Target(log: WriteLog()), targetSize: new.count, patch: patch)
        #expect(Self.apply(session, patch)?.code == "delta.source-mismatch")
    }

    /// The installer gives a session up when the bundle or payload fails mid-patch, then stops
    /// the read-back and discards the slot: the frame thread must be done writing by then. A
    /// write held for 0.3 s on the frame thread; the session is cancelled (or released) as soon
    /// as the feeding thread sees that write start.
    @Test(arguments: [false, true])
    func `a session given up while a frame writes returns only after that write, and nothing is written after`(
        release: Bool
    ) throws {
        let directory = try TemporaryDirectory("delta-frame-thread")
        let (old, new, patch) = Self.pair
        let log = WriteLog()
        var session: (any DeltaApplySession)? = try Self.session(
            old: old, in: directory, target: Target(log: log, holdAt: 6, hold: 0.3), targetSize: new.count, patch: patch
        )
        var error: OTAError?
        do throws(OTAError) {
            var offset = 0
            while offset < patch.count && !log.snapshot.reached {
                let end = min(offset + (4 << 10), patch.count)
                try session?.consume(Array(patch[offset..<end]))
                offset = end
            }
        } catch let failure {
            error = failure
        }
        #expect(error.map { "\($0.code): \($0.message)" } == nil)
        if release { session = nil } else { session?.cancel() }
        let seen = log.state.withLock { state in
            state.released = true
            return state
        }
        #expect(seen.reached)
        #expect(seen.running == 0, "a write was still running after the session was given up")
        usleep(300_000)
        #expect(log.snapshot.afterRelease == 0, "written after the session was given up")
        withExtendedLifetime(session) {}
    }

    /// OTADelta's applier, its target failing on the `failAt`th write, each write taking at
    /// least `delay` seconds.
    struct FailingApplier: DeltaApplier {
        let log: WriteLog
        let failAt: Int
        var delay: Double = 0
        var verifiesSource: Bool { true }
        var verifiesTarget: Bool { true }

        func begin(
            source: any SlotReading, sourceSize: UInt64, target: any SlotWriting, targetSize: UInt64,
            targetHash: Digest, patchSize: UInt64
        ) throws(OTAError) -> any DeltaApplySession {
            try OTADeltaApplier().begin(
                source: source, sourceSize: sourceSize,
                target: Target(log: log, next: target, failAt: failAt, delay: delay),
                targetSize: targetSize, targetHash: targetHash, patchSize: patchSize)
        }
    }

    @Test
    func
        `a slot write failing on the frame thread fails the install with its code, the slot discarded, nothing switched`()
        throws
    {
        let fixture = try InstallerFixture(imageSize: 1 << 20)
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.bundle(
            try fixture.manifest(images: [InstallerFixture.ImageSpec(group: 0, delta: true)]), encrypted: true)
        let log = WriteLog()
        let options = Vehicle.Options(deltaApplier: FailingApplier(log: log, failAt: 3))
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle, options: options).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "slot.io")
        #expect(error?.message == "write 3 failed")
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "slot.io")
        let status = try Vehicle(directory: vehicle).status()
        #expect(status.nextBoot == ["group0": .a, "group1": .a])
        #expect(status.slots["group0"]?["b"]?.status == .discarded)
        #expect(try InstallerFixture.rawBoot(vehicle).trial == nil)
        let seen = log.snapshot
        #expect(seen.writes == 3 && seen.afterFailure == 0, "\(seen.writes) writes")
    }

    /// The install fails in the payload stage (a stored chunk altered near the end of the
    /// bundle) while a frame is writing (each write takes 0.25 s, a slow device): the session is
    /// cancelled before the slot is given up, so nothing is written after `install` returns,
    /// and nothing is switched.
    @Test func `a chunk failing mid-patch fails the install, no slot write after it returns, nothing switched`() throws
    {
        let fixture = try InstallerFixture(imageSize: 2 << 20)
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.bundle(
            try fixture.manifest(images: [InstallerFixture.ImageSpec(group: 0, delta: true)]), encrypted: true)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: bundle))
        bytes[bytes.count - 3000] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: bundle))
        let log = WriteLog()
        let options = Vehicle.Options(deltaApplier: FailingApplier(log: log, failAt: .max, delay: 0.25))
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle, options: options).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        let seen = log.state.withLock { state in
            state.released = true
            return state
        }
        #expect(error?.code == "payload.chunk-hash")
        #expect(seen.writes > 0, "no frame wrote before the failure: the test shows nothing")
        #expect(seen.running == 0, "a slot write was still running after install returned")
        usleep(300_000)
        #expect(log.snapshot.afterRelease == 0, "written after install returned (\(seen.writes) before)")
        let status = try Vehicle(directory: vehicle).status()
        #expect(status.pending == nil && status.nextBoot == ["group0": .a, "group1": .a])
        #expect(status.slots["group0"]?["b"]?.status == .discarded)
        #expect(try InstallerFixture.rawBoot(vehicle).trial == nil)
    }
}
