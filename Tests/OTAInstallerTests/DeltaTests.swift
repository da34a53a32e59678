import Foundation
import OTACore
import OTADelta
import OTAInstaller
import OTARecorder
import Synchronization
import Testing

@testable import OTABuilder

/// Delta images go through the `DeltaApplier` seam: OTADelta's streaming decoder by default, or
/// any other applier (here a toy XOR one); without one they are refused. The active slot's hash
/// is checked first, the target is streamed into the inactive slot and its hash checked before
/// any switch.
@Suite("Delta images")
struct DeltaTests {
    /// Patch = target XOR source, applied as the bytes arrive.
    final class XORApplier: DeltaApplier {
        final class Session: DeltaApplySession {
            let source: any SlotReading
            let target: any SlotWriting
            var offset: UInt64 = 0
            init(source: any SlotReading, target: any SlotWriting) {
                self.source = source
                self.target = target
            }
            func consume(_ patch: [UInt8]) throws(OTAError) {
                let old = try source.read(at: offset, count: patch.count)
                var out = patch
                for index in out.indices where index < old.count { out[index] ^= old[index] }
                try target.write(out[...], at: offset)
                offset += UInt64(patch.count)
            }
            func finish() throws(OTAError) -> UInt64 { offset }
        }
        func begin(
            source: any SlotReading, sourceSize: UInt64, target: any SlotWriting, targetSize: UInt64,
            targetHash: Digest, patchSize: UInt64
        ) throws(OTAError) -> any DeltaApplySession {
            Session(source: source, target: target)
        }
    }

    /// OTADelta's applier, keeping the first bytes of each patch it is fed (its header).
    final class HeaderKeepingApplier: DeltaApplier {
        let headers = Mutex<[[UInt8]]>([])
        let applier = OTADeltaApplier()
        var verifiesSource: Bool { applier.verifiesSource }
        var verifiesTarget: Bool { applier.verifiesTarget }

        final class Session: DeltaApplySession {
            let inner: any DeltaApplySession
            let owner: HeaderKeepingApplier
            var kept: [UInt8] = []
            init(inner: any DeltaApplySession, owner: HeaderKeepingApplier) {
                self.inner = inner
                self.owner = owner
            }
            func consume(_ patch: [UInt8]) throws(OTAError) {
                if kept.count < DeltaPatchHeader.byteCount {
                    kept += patch.prefix(DeltaPatchHeader.byteCount - kept.count)
                    if kept.count == DeltaPatchHeader.byteCount { owner.headers.withLock { $0.append(kept) } }
                }
                try inner.consume(patch)
            }
            func finish() throws(OTAError) -> UInt64 { try inner.finish() }
            func cancel() { inner.cancel() }
        }

        func begin(
            source: any SlotReading, sourceSize: UInt64, target: any SlotWriting, targetSize: UInt64,
            targetHash: Digest, patchSize: UInt64
        ) throws(OTAError) -> any DeltaApplySession {
            let inner = try applier.begin(
                source: source, sourceSize: sourceSize, target: target, targetSize: targetSize, targetHash: targetHash,
                patchSize: patchSize)
            return Session(inner: inner, owner: self)
        }
    }

    /// A signed bundle with one delta image for group0 (old-0 → new-0): its payload is `patch`, by
    /// default the XOR of new-0 and `sourceImage` (for `XORApplier`).
    func deltaBundle(
        _ fixture: InstallerFixture, sourceImage: String = "old-0.img", patch: [UInt8]? = nil
    ) throws -> String {
        let old = Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixture.images)/\(sourceImage)")))
        let new = Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixture.images)/new-0.img")))
        try Data(patch ?? zip(new, old).map { $0 ^ $1 }).write(
            to: URL(fileURLWithPath: "\(fixture.images)/patch-0.bin"))
        // Build it as a full image of the patch bytes, then re-sign the manifest as a delta.
        let manifestPath = try fixture.manifest(images: [InstallerFixture.ImageSpec(group: 0, compression: "xz")])
        let text = try String(contentsOfFile: manifestPath, encoding: .utf8).replacingOccurrences(
            of: "file: new-0.img", with: "file: patch-0.bin")
        try text.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let full = try fixture.bundle(manifestPath, encrypted: false)
        let reader = try BundleReader(path: full)
        let head = try reader.readHead()
        var manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        let original = manifest
        manifest.images[0].kind = .delta
        manifest.images[0].source = Manifest.DeltaSource(
            version: "1.0.0", hash: try Hasher.hash(.sha256, old).hex, size: UInt64(old.count))
        manifest.images[0].target = Manifest.Target(hash: try Hasher.hash(.sha256, new).hex, size: UInt64(new.count))
        let bytes = try CanonicalJSON.encode(manifest)
        let envelope = SignatureEnvelope(
            payloadType: SignatureEnvelope.manifestType,
            signatures: [try fixture.signer().sign(bytes, type: SignatureEnvelope.manifestType)])
        try reader.streamPayloadsUnverifiedHead(manifest: original)
        let path = "\(fixture.directory)/delta-\(UUID().uuidString).ota"
        let image = original.images[0]
        try BundleWriter.write(
            to: path, manifest: bytes, envelope: envelope, recipients: head.recipients,
            payloads: [
                (
                    entry: image.payload.entry, size: image.payload.storedSize,
                    source: { () throws(OTAError) -> BundleWriter.PayloadSource in
                        guard let stream = try reader.nextPayload() else {
                            throw OTAError(.bundleMissingEntry, "no payload")
                        }
                        return .stream(stream)
                    }
                )
            ])
        return path
    }

    @Test func `without a delta applier a delta image is refused before any slot is written`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try deltaBundle(fixture)
        let before = try InstallerFixture.slotHashes(vehicle)
        let none = Vehicle.Options(deltaApplier: nil)
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle, options: none).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "install.delta-unavailable")
        #expect(try InstallerFixture.slotHashes(vehicle) == before)
        #expect(try InstallerFixture.records(vehicle).last?.errorCode == "install.delta-unavailable")
        #expect(
            try Vehicle(directory: vehicle, options: none).check(bundle: bundle).refusal?.code
                == "install.delta-unavailable")
    }

    @Test(arguments: [false, true])
    func `an OTADelta image and a full image install together and switch together`(encrypted: Bool) throws {
        let fixture = try InstallerFixture(imageSize: 200_000)
        let vehicle = try fixture.vehicle()
        let manifest = try fixture.manifest(images: [
            InstallerFixture.ImageSpec(group: 0, delta: true), InstallerFixture.ImageSpec(group: 1),
        ])
        let bundle = try fixture.bundle(manifest, encrypted: encrypted)
        let report = try Vehicle(directory: vehicle).install(
            bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(report.images.map(\.kind) == [.delta, .full])
        #expect(report.bytesWritten == UInt64(2 * fixture.imageSize))
        try Vehicle(directory: vehicle).reboot()
        try Vehicle(directory: vehicle).confirmBoot()
        #expect(try fixture.slotContentHash(vehicle, group: 0, slot: .b) == fixture.imageHash("new-0.img"))
        #expect(try fixture.slotContentHash(vehicle, group: 1, slot: .b) == fixture.imageHash("new-1.img"))
        // A second delta against 1.0.0 no longer applies: the active slot now holds 2.0.0.
        let again = try fixture.bundle(
            try fixture.manifest(
                id: "update-2",
                images: [InstallerFixture.ImageSpec(group: 0, version: "2.1.0", securityVersion: 7, delta: true)]))
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: again, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "delta.source-mismatch")
    }

    /// `ota bundle build --prime-delta-inserts`: the patch in the bundle is primed, and the
    /// vehicle's decoder rebuilds the target from it through the whole install.
    @Test(arguments: [false, true])
    func `a delta built with primed inserts installs and switches`(encrypted: Bool) throws {
        let fixture = try InstallerFixture(imageSize: 300_000)
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.bundle(
            try fixture.manifest(images: [InstallerFixture.ImageSpec(group: 0, delta: true)]), encrypted: encrypted,
            primeDeltaInserts: true)
        let applier = HeaderKeepingApplier()
        let options = Vehicle.Options(deltaApplier: applier)
        let report = try Vehicle(directory: vehicle, options: options).install(
            bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(report.stage == .activated && report.images.first?.kind == .delta)
        let headers = applier.headers.withLock { $0 }
        #expect(headers.count == 1)
        #expect(
            try headers.first.map { (bytes) throws(OTAError) in try DeltaPatchHeader.decode(bytes).insertsPrimed }
                == true)
        try Vehicle(directory: vehicle, options: options).reboot()
        try Vehicle(directory: vehicle, options: options).confirmBoot()
        #expect(try fixture.slotContentHash(vehicle, group: 0, slot: .b) == fixture.imageHash("new-0.img"))
    }

    /// The builder's delta images are made with the request's choices (`ota bundle build
    /// --prime-delta-inserts`, `--parallel-delta-inserts`, `--no-split-delta-operands`) and the
    /// bundle's suite.
    @Test func `a bundle request hands its delta choices to the encoder`() throws {
        let fixture = try InstallerFixture()
        var request = BundleBuilder.Request(
            manifestPath: "unused", imagesDirectory: "unused", signer: try fixture.signer(), outputPath: "unused")
        #expect(request.deltaOptions(suite: .intl).insertsPriming == .mostlyNew)
        for (primed, parallel, split, align) in [
            (false as Bool?, false, true, true), (true, false, true, false), (nil, true, true, true),
            (true, true, false, false), (false, false, false, true),
        ] {
            request.primeDeltaInserts = primed
            request.parallelDeltaInserts = parallel
            request.splitDeltaOperands = split
            request.alignDeltaInserts = align
            for suite in Suite.allCases {
                let options = request.deltaOptions(suite: suite)
                let priming: DeltaOptions.InsertsPriming = primed.map { $0 ? .always : .never } ?? .mostlyNew
                #expect(options.insertsPriming == priming && options.parallelInserts == parallel)
                #expect(options.splitOperands == split && options.alignInserts == align)
                #expect(options.hashAlgorithm == suite.hash)
            }
        }
    }

    @Test func `a plugged-in applier reads the checked active slot and writes the inactive one`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let options = Vehicle.Options(deltaApplier: XORApplier())
        let report = try Vehicle(directory: vehicle, options: options).install(
            bundle: try deltaBundle(fixture), conditions: InstallerFixture.parked,
            consent: InstallerFixture.yes)
        #expect(report.stage == .activated && report.images.first?.kind == .delta)
        try Vehicle(directory: vehicle, options: options).reboot()
        try Vehicle(directory: vehicle, options: options).confirmBoot()
        #expect(try fixture.slotContentHash(vehicle, group: 0, slot: .b) == fixture.imageHash("new-0.img"))
        #expect(try Vehicle(directory: vehicle).status().ecus["ECU0"]?.version == "2.0.0")
    }

    /// A patch that rebuilds another image than the one the manifest signs (the same size, one
    /// byte changed): OTADelta refuses it from the patch header, before any byte reaches the
    /// inactive slot, and nothing is switched. (The installer compares the slot read back with the
    /// bytes written rather than hashing it again, which is sound only with this check.)
    @Test func `an OTADelta patch that rebuilds another image than the signed target is refused before any write`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let old = Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixture.images)/old-0.img")))
        var other = Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixture.images)/new-0.img")))
        other[other.count / 2] ^= 0x5A
        let bundle = try deltaBundle(fixture, patch: try Delta.diff(old: old, new: other))
        let before = try InstallerFixture.slotHashes(vehicle)
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "delta.target-mismatch")
        #expect(try InstallerFixture.slotHashes(vehicle) == before)
        #expect(try Vehicle(directory: vehicle).status().nextBoot == ["group0": .a, "group1": .a])
        #expect(try InstallerFixture.rawBoot(vehicle).trial == nil)
    }

    @Test func `a delta for another source image is refused`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let before = try InstallerFixture.slotHashes(vehicle)
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle, options: .init(deltaApplier: XORApplier())).install(
                bundle: try! deltaBundle(fixture, sourceImage: "old-1.img"), conditions: InstallerFixture.parked,
                consent: InstallerFixture.yes)
        }
        #expect(error?.code == "delta.source-mismatch")
        #expect(try InstallerFixture.slotHashes(vehicle) == before)
    }

    @Test func `an active slot altered behind the installer's back is caught before the delta reads it`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try deltaBundle(fixture)
        try SlotDevice(path: "\(vehicle)/slots/group0-a.img", writable: true).write([0xFF][...], at: 100)
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle, options: .init(deltaApplier: XORApplier())).install(
                bundle: bundle, conditions: InstallerFixture.parked,
                consent: InstallerFixture.yes)
        }
        #expect(error?.code == "delta.source-mismatch")
        #expect(try Vehicle(directory: vehicle).status().nextBoot == ["group0": .a, "group1": .a])
    }

    /// OTADelta hashes the source beside the decoding: the wrong bytes may have reached the
    /// inactive slot, but the source's mismatch is the error, the slot is discarded and nothing
    /// switched (without the decoder's source check the altered byte makes the result's hash
    /// the error, `delta.result-mismatch`).
    @Test func `with OTADelta, an altered active slot is refused as the wrong source and nothing is switched`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.bundle(
            try fixture.manifest(images: [InstallerFixture.ImageSpec(group: 0, delta: true)]))
        try SlotDevice(path: "\(vehicle)/slots/group0-a.img", writable: true).write([0xFF][...], at: 100)
        let error = failure { () throws(OTAError) in
            try Vehicle(directory: vehicle).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(error?.code == "delta.source-mismatch")
        let status = try Vehicle(directory: vehicle).status()
        #expect(status.nextBoot == ["group0": .a, "group1": .a] && status.slots["group0"]?["b"]?.status == .discarded)
        #expect(try InstallerFixture.rawBoot(vehicle).trial == nil)
    }
}
