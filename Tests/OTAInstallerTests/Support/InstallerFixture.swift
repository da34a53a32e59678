import Foundation
import OTABuilder
import OTACore
import OTAInstaller
import OTARecorder
import OTATestSupport

/// A simulated two-ECU vehicle (ECU0 in group0, ECU1 in group1, both starting on slot A with an
/// "old" image) and bundles for it, built with the real builder from the committed sample PKI.
/// Everything lives in one temporary directory, removed when the fixture is released (at the end
/// of the test that made it, passed or failed).
final class InstallerFixture: Sendable {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let vin = "LSVX1A2B3C4D56789"

    private let temporary: TemporaryDirectory
    var directory: String { temporary.path }
    let imageSize: Int
    var keys: String { "\(Self.repository)/keys-sample/intl" }
    var images: String { "\(directory)/images" }

    init(imageSize: Int = 40_000) throws {
        self.imageSize = imageSize
        temporary = try TemporaryDirectory("installer-test")
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        for group in 0..<2 {
            try Self.image(size: imageSize, seed: UInt32(10 + group)).write(
                to: URL(fileURLWithPath: "\(images)/old-\(group).img"))
            try Self.image(size: imageSize, seed: UInt32(20 + group)).write(
                to: URL(fileURLWithPath: "\(images)/new-\(group).img"))
        }
    }

    /// Deterministic bytes: stretches of zeros, text-like and noise, like a file system image.
    static func image(size: Int, seed: UInt32) -> Data {
        var bytes = [UInt8](repeating: 0, count: size)
        var x = seed &* 2_654_435_761 | 1
        for index in 0..<size {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            switch (index / 2048) % 3 {
            case 0: bytes[index] = 0
            case 1: bytes[index] = UInt8(truncatingIfNeeded: 0x41 + index % 26)
            default: bytes[index] = UInt8(truncatingIfNeeded: x)
            }
        }
        return Data(bytes)
    }

    func config(
        bootControl: VehicleConfig.BootControlKind = .file, automatedDriving: Bool = false,
        securityVersions: [UInt64] = [5, 5],
        tries: Int = 2
    ) -> VehicleConfig {
        VehicleConfig(
            model: "X1", vin: Self.vin, suite: .intl, releaseThreshold: 1, bootControl: bootControl, bootTries: tries,
            ecus: (0..<2).map {
                .init(
                    id: "ECU\($0)", hardwareId: "HW-\($0)", slotGroup: "group\($0)",
                    automatedDriving: $0 == 0 && automatedDriving,
                    version: "1.0.0", securityVersion: securityVersions[$0])
            },
            slotGroups: (0..<2).map {
                .init(name: "group\($0)", size: UInt64(imageSize + 8192), image: "old-\($0).img")
            })
    }

    /// Creates a vehicle directory; returns its path.
    func vehicle(_ config: VehicleConfig? = nil, name: String = UUID().uuidString) throws -> String {
        let path = "\(directory)/vehicle-\(name)"
        try Vehicle.create(
            directory: path, config: config ?? self.config(), baseDirectory: images, trust: "\(keys)/trust",
            decryptionKey: "\(keys)/vehicle/device.key")
        return path
    }

    struct ImageSpec {
        var group = 0
        var hardwareId: String? = nil
        var version = "2.0.0"
        var securityVersion: UInt64 = 6
        var allowDowngrade = false
        var categories = "[other]"
        var compression = "xz"
        /// A delta from the vehicle's old image of the group (made by the builder with OTADelta).
        var delta = false
    }

    /// A manifest YAML for `images` (default: both groups, new images).
    func manifest(
        id: String = "update-1", models: String = "[X1]", vins: String? = nil,
        images: [ImageSpec] = [ImageSpec(group: 0), ImageSpec(group: 1)],
        regulatory: String = "", expires: String = "2036-01-01T00:00:00Z", created: String = "2026-01-01T00:00:00Z",
        preconditions: String = "{parked: true, gear: P, minimumBatteryPercent: 30}"
    ) throws -> String {
        var text = """
            bundle: {id: \(id), campaign: CAMP-1, created: \(created), expires: \(expires), suite: intl}
            targets:
              models: \(models)

            """
        if let vins { text += "  vins: \(vins)\n" }
        text += "images:\n"
        for image in images {
            text += """
                  - name: image\(image.group)
                    file: new-\(image.group).img
                    ecu: ECU\(image.group)
                    hardwareIds: [\(image.hardwareId ?? "HW-\(image.group)")]
                    slotGroup: group\(image.group)
                    version: \(image.version)
                    securityVersion: \(image.securityVersion)
                    allowDowngrade: \(image.allowDowngrade)
                    compression: \(image.compression)
                    kind: \(image.delta ? "delta\n    source: {file: old-\(image.group).img, version: 1.0.0}" : "full")
                    swin: {before: SW-\(image.group)-OLD, after: SW-\(image.group)-\(image.version)}
                    categories: \(image.categories)

                """
        }
        if !regulatory.isEmpty { text += "regulatory:\n\(regulatory)\n" }
        text += """
            impact: {affectedSystems: [test]}
            notice:
              zh-CN: {purpose: 测试, content: 测试内容, expectedDurationMinutes: 5, functionsUnavailable: [], precautions: [], impact: 无}
              en: {purpose: test, content: test content, expectedDurationMinutes: 5, functionsUnavailable: [], precautions: [], impact: none}
            preconditions: \(preconditions)
            recovery: rollback

            """
        let path = "\(directory)/manifest-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let adRegulatory = """
          - {type: filing, number: F-1, authority: MIIT}
          - {type: ad-approval, number: AD-2026-1, authority: MIIT}
        """

    func signer(_ name: String = "signer-1", role: String = "release") throws -> SignerIdentity {
        try SignerIdentity.load(
            key: "\(keys)/\(role)/\(name).key", certificate: "\(keys)/\(role)/\(name).crt",
            chain: role == "release" ? "\(keys)/release/chain.pem" : nil, passphrase: nil)
    }

    /// Builds a bundle (encrypted to the vehicle's key by default).
    /// Builds a bundle; `refusable` lets the builder sign what every vehicle refuses (an expired
    /// manifest, a missing filing), so the vehicle's own refusal can be tested.
    func bundle(
        _ manifest: String, encrypted: Bool = true, chunkSize: Int = 4096, refusable: Bool = false,
        primeDeltaInserts: Bool? = nil
    ) throws -> String {
        let path = "\(directory)/bundle-\(UUID().uuidString).ota"
        let recipients = encrypted ? [try Certificate.load(contentsOf: "\(keys)/vehicle/device.crt")[0]] : []
        var request = BundleBuilder.Request(
            manifestPath: manifest, imagesDirectory: images, signer: try signer(), recipients: recipients,
            outputPath: path,
            chunkSize: chunkSize, xzPreset: 1, threads: 1)
        request.refusesWhatVehiclesRefuse = !refusable
        request.primeDeltaInserts = primeDeltaInserts
        _ = try BundleBuilder.build(request)
        return path
    }

    func standardBundle() throws -> String { try bundle(try manifest()) }

    /// An approval file's bytes for `bundle`.
    /// An approval signed by the real approval authority for `bundle`'s digest, with whatever
    /// fields a test states (the issuer would refuse a number the manifest does not name).
    func craftedApproval(for bundle: String, id: String, bundleId: String? = nil, models: [String] = ["X1"]) throws
        -> [UInt8]
    {
        let head = try BundleReader(path: bundle).readHead()
        let manifest = try CanonicalJSON.decode(Manifest.self, from: head.manifestBytes, as: .manifestMalformed)
        let approval = Approval(
            approvalId: id, bundleId: bundleId ?? manifest.bundle.id,
            manifestDigest: try Hasher.hash(manifest.bundle.suite.hash, head.manifestBytes),
            models: models, validFrom: Date().addingTimeInterval(-60), validUntil: Date().addingTimeInterval(86400),
            issued: Date())
        let payload = try CanonicalJSON.encode(approval)
        let signer = try self.signer("approval-signer", role: "approval")
        let signature = try SignatureEnvelope.sign(
            body: payload, type: SignatureEnvelope.approvalType, key: signer.key, certificate: signer.certificate,
            chain: signer.chain)
        return try CanonicalJSON.encode(SignedApproval(payload: payload, signatures: [signature]))
    }

    func approval(
        for bundle: String, id: String = "AD-2026-1", models: [String] = ["X1"], signer: SignerIdentity? = nil,
        validFrom: Date? = nil,
        validUntil: Date = Date().addingTimeInterval(86400 * 30)
    ) throws -> [UInt8] {
        let output = "\(directory)/approval-\(UUID().uuidString).json"
        _ = try ApprovalIssuer.approve(
            bundlePath: bundle, signer: try signer ?? self.signer("approval-signer", role: "approval"), approvalID: id,
            models: models, validFrom: validFrom, validUntil: validUntil, outputPath: output, now: validFrom ?? Date())
        return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    static let parked = VehicleConditions(
        parked: true, gear: "P", batteryPercent: 80, driving: false, doorsUnlockable: true)
    static let yes = Consent(answer: .accepted, language: "zh-CN", by: .owner, channel: "head-unit")

    /// SHA-256 of every slot file, by file name: "nothing written" means these do not change.
    static func slotHashes(_ vehicle: String) throws -> [String: String] {
        var hashes: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(vehicle)/slots") {
            hashes[name] = try Hasher.hash(.sha256, fileAt: "\(vehicle)/slots/\(name)").hex
        }
        return hashes
    }

    /// Hash of the first `size` bytes of a slot.
    func slotContentHash(_ vehicle: String, group: Int, slot: SlotName) throws -> String {
        try SlotDevice(path: "\(vehicle)/slots/group\(group)-\(slot.rawValue).img", writable: false).hash(
            .sha256, size: UInt64(imageSize)
        ).hex
    }

    func imageHash(_ name: String) throws -> String { try Hasher.hash(.sha256, fileAt: "\(images)/\(name)").hex }

    /// The vehicle's records, read from its tamper-evident log (which must verify intact under
    /// the vehicle's device key): the test oracle is the evidence itself.
    static func records(_ vehicle: String) throws -> [UpgradeRecord] {
        let key = try PrivateKey(contentsOf: "\(vehicle)/keys/device.key").publicKey
        var records: [UpgradeRecord] = []
        let report = try LogVerifier(directory: "\(vehicle)/records", publicKey: key).verify { verified in
            if case .record(let record) = verified.body { records.append(record) }
        }
        guard report.intact else { throw OTAError(report.issues[0].kind.code, "\(vehicle)/records: \(report.issues)") }
        return records
    }

    /// The installer's journal as left on disk (no recovery); its seal is checked.
    static func rawState(_ vehicle: String) throws -> VehicleState {
        let key = try MACFileStore.Key(contentsOf: "\(vehicle)/keys/seal.key")
        let bytes = try MACFileStore.open(
            try FileSystem.read("\(vehicle)/private/state.json"), name: "state.json", key: key, path: "state.json")
        return try CanonicalJSON.decode(VehicleState.self, from: bytes, as: .vehicleStateMalformed)
    }

    /// The journal's document without checking its seal (what an attacker reads to edit it).
    static func rawStateUnchecked(_ vehicle: String) throws -> VehicleState {
        let bytes = try FileSystem.read("\(vehicle)/private/state.json")
        let end = bytes.lastIndex(of: 0x7d).map { $0 + 1 } ?? bytes.count  // the closing brace of the JSON object
        return try CanonicalJSON.decode(VehicleState.self, from: Array(bytes[..<end]), as: .vehicleStateMalformed)
    }

    /// Replaces the installer's journal on disk, sealed with the vehicle's key (a test standing in
    /// for an earlier installer run).
    static func writeRawState(_ vehicle: String, _ state: VehicleState) throws {
        let key = try MACFileStore.Key(contentsOf: "\(vehicle)/keys/seal.key")
        try AtomicFileWriter.write(
            try MACFileStore.seal(try CanonicalJSON.encode(state), name: "state.json", key: key),
            to: "\(vehicle)/private/state.json", mode: 0o600)
    }

    /// The boot control as left on disk.
    static func rawBoot(_ vehicle: String) throws -> BootState {
        let config = try CanonicalJSON.decode(
            VehicleConfig.self, from: try FileSystem.read("\(vehicle)/vehicle.json"), as: .vehicleConfigMalformed)
        let layout = VehicleLayout(directory: vehicle)
        return try layout.bootControl(config.bootControl ?? .file).load()
    }
}

/// The error a body throws, or nil.
func failure(_ body: () throws(OTAError) -> Void) -> OTAError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}
