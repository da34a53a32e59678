import Foundation
import OTACompliance
import OTACore
import OTARecorder
import OTATestSupport

/// A test's own temporary directory (removed by `cleanup`, or when the last copy is released).
struct Workspace {
    private let temporary: TemporaryDirectory
    var path: String { temporary.path }
    init() { temporary = try! TemporaryDirectory("compliance") }
    func cleanup() { TemporaryDirectory.remove(path) }
}

/// The committed sample PKI of a suite: device key and certificate (vehicle role), compliance
/// signer, a release signer (a key of the wrong role) and the trust store with every role.
struct SamplePKI {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    let directory: String

    init(_ suite: Suite = .intl) { directory = Self.repository + "/keys-sample/" + suite.rawValue }

    var trustPath: String { directory + "/trust" }
    func trust() throws -> TrustStore { try TrustStore(directory: trustPath) }
    func deviceKey() throws -> PrivateKey { try PrivateKey(contentsOf: directory + "/vehicle/device.key") }
    var deviceCertificate: String { directory + "/vehicle/device.crt" }
    func devicePEM() throws -> String { String(decoding: try FileSystem.read(deviceCertificate), as: UTF8.self) }
    func compliance() throws -> ExportSigner {
        try ExportSigner(
            key: PrivateKey(contentsOf: directory + "/compliance/compliance-signer.key"),
            certificate: Certificate.load(contentsOf: directory + "/compliance/compliance-signer.crt")[0])
    }
    /// A release signer: a valid certificate of another role.
    func release() throws -> ExportSigner {
        try ExportSigner(
            key: PrivateKey(contentsOf: directory + "/release/signer-1.key"),
            certificate: Certificate.load(contentsOf: directory + "/release/signer-1.crt")[0],
            chain: Certificate.load(contentsOf: directory + "/release/chain.pem"))
    }
}

enum Fleet {
    static let start = RecordTime.parse("2026-01-01T00:00:00.000Z")!
    /// The time exports and purges are checked at: now (the sample certificates are valid for 10 years).
    static var checkTime: Date { Date() }

    /// Records with every fact: an attempt of 4 steps (verify, consent, apply, result) per 4
    /// records; bundles change every 10, campaigns every 20; every 7th fails.
    static func record(vin: String, index: Int, time: Date) -> UpgradeRecord {
        let steps: [RecordStep] = [.verify, .consent, .applyImage, .result]
        let step = steps[index % 4]
        let stamp = RecordTime(time, source: .test)
        let failed = index % 7 == 6
        return UpgradeRecord(
            time: stamp, vin: vin, attempt: "A\(index / 4)", phase: .install, step: step,
            outcome: failed ? .failure : .success,
            errorCode: failed ? "slot.hash-mismatch" : nil,
            update: UpdateFacts(
                bundle: "bundle-\(index / 10)", campaign: "CAMP-\(index / 20)",
                manifestDigest: String(repeating: "11", count: 32),
                categories: [.safety], references: [.init(kind: .filing, number: "F-1", authority: "MIIT")]),
            ecus: [
                ECUFacts(
                    ecu: ["adas", "bms"][index % 2], hardwarePart: "HW-1", versionBefore: "1.\(index / 10)",
                    versionAfter: "1.\(index / 10 + 1)",
                    swinBefore: "SWIN-\(index / 10)", swinAfter: "SWIN-\(index / 10 + 1)")
            ],
            preconditions: PreconditionReadings(batteryPercent: 80),
            notice: NoticeShown(digest: String(repeating: "11", count: 32), language: "zh-CN"),
            confirmation: step == .consent
                ? Confirmation(party: .driver, channel: "head-unit", answer: .accepted, at: stamp) : nil)
    }

    /// A vehicle log with `count` records, one a day from `start`, hashed as a vehicle of the key's suite hashes.
    static func log(at path: String, vin: String, key: PrivateKey, count: Int, clock: ManualClock = ManualClock(start))
        throws -> Recorder
    {
        let recorder = try Recorder.create(
            at: path, vin: vin, signer: key, clock: clock,
            configuration: .init(
                hash: key.type == .sm2 ? .sm3 : .sha256, segmentBytes: 8 << 10, checkpointInterval: 8,
                durability: .none))
        try append(recorder, vin: vin, from: 0, count: count, clock: clock)
        return recorder
    }

    static func append(_ recorder: Recorder, vin: String, from: Int, count: Int, clock: ManualClock) throws {
        for index in from..<(from + count) {
            clock.advance(seconds: 86_400)
            try recorder.append(record(vin: vin, index: index, time: clock.now().date))
        }
        try recorder.close()
    }

    /// A store with `vehicles` vehicles of `count` records each, logs signed by the sample device key.
    static func store(_ ws: Workspace, vehicles: Int = 2, count: Int = 24, pki: SamplePKI = SamplePKI()) throws
        -> SQLiteRecordStore
    {
        let key = try pki.deviceKey()
        let store = try SQLiteRecordStore(path: ws.path + "/fleet.db", mode: .create)
        for vehicle in 1...vehicles {
            let vin = "LSVAU2180N2" + String(format: "%06d", vehicle)
            _ = try log(at: ws.path + "/\(vin)", vin: vin, key: key, count: count)
            _ = try FleetIngest.ingest(
                log: ws.path + "/\(vin)", publicKey: try key.publicKey, certificate: try pki.devicePEM(), into: store)
        }
        return store
    }

    static func exporter(
        _ pki: SamplePKI = SamplePKI(), filter: RecordFilter = RecordFilter(),
        formats: [ExportFormat] = ExportFormat.allCases,
        language: ExportLanguage = .en, pseudonymiser: VINPseudonymiser? = nil, signer: ExportSigner? = nil
    ) throws -> Exporter {
        Exporter(
            filter: filter, formats: formats, language: language,
            pseudonymiser: try pseudonymiser ?? VINPseudonymiser(.ephemeral),
            signer: try signer ?? pki.compliance(), now: checkTime)
    }
}
