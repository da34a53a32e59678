import Foundation
import OTACore
import OTATestSupport

@testable import OTABuilder

/// Builds real bundles for tests from the committed sample PKI (`keys-sample/`), generated
/// images and a generated manifest, in a temporary directory removed when the fixture is released
/// (at the end of the test that made it, passed or failed).
final class BundleFixture: Sendable {
    static var repository: String { RepositoryRoot.path }

    let suite: Suite
    private let scratch: TemporaryDirectory
    var directory: String { scratch.path }

    init(suite: Suite) throws {
        self.suite = suite
        scratch = try TemporaryDirectory("bundle-test")
        try FileManager.default.createDirectory(atPath: scratch.appending("images"), withIntermediateDirectories: true)
    }

    var pki: String { "\(Self.repository)/keys-sample/\(suite.rawValue)" }
    var trust: String { "\(pki)/trust" }

    func signer(_ name: String = "signer-1", role: String = "release") throws -> SignerIdentity {
        try SignerIdentity.load(
            key: "\(pki)/\(role)/\(name).key", certificate: "\(pki)/\(role)/\(name).crt",
            chain: role == "release" ? "\(pki)/release/chain.pem" : nil, passphrase: nil)
    }

    func certificate(_ path: String) throws -> Certificate { try Certificate.load(contentsOf: "\(pki)/\(path)")[0] }
    func key(_ path: String) throws -> PrivateKey { try PrivateKey(contentsOf: "\(pki)/\(path)") }

    func policy(threshold: Int = 1, at time: Date = Date()) throws -> BundleTrustPolicy {
        BundleTrustPolicy(trust: try TrustStore(directory: trust), time: FixedTime(time), threshold: threshold)
    }

    /// Writes an image of `size` bytes (deterministic, partly compressible).
    @discardableResult
    func image(_ name: String, size: Int, seed: UInt8 = 1) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var state = UInt32(seed) &* 2_654_435_761 | 1
        for index in 0..<size {
            if (index / 4096) % 3 == 0 { continue }  // zero runs
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            bytes[index] =
                (index / 4096) % 3 == 1 ? UInt8(truncatingIfNeeded: state) : UInt8(truncatingIfNeeded: index / 64)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/images/\(name)"))
        return bytes
    }

    /// A manifest for `images` (name → file), with everything the rules ask for.
    func manifest(
        id: String = "test-bundle", images: [(name: String, file: String)], categories: String = "[other]",
        models: String = "[X1]", extra: String = "", expires: String = "2036-01-01T00:00:00Z",
        compression: String = "xz"
    ) throws -> String {
        var text = """
            bundle:
              id: \(id)
              campaign: CAMP-TEST
              created: 2026-01-01T00:00:00Z
              expires: \(expires)
              suite: \(suite.rawValue)
            targets:
              models: \(models)
            images:

            """
        for (index, image) in images.enumerated() {
            text += """
                  - name: \(image.name)
                    file: \(image.file)
                    ecu: ECU\(index)
                    hardwareIds: [HW-\(index)]
                    slotGroup: group\(index)
                    version: 1.\(index).0
                    securityVersion: \(index + 1)
                    compression: \(compression)
                    swin: {before: SW-\(index)-A, after: SW-\(index)-B}
                    categories: \(categories)

                """
        }
        text += """
            impact: {affectedSystems: [test]}
            notice:
              zh-CN: {purpose: 测试, content: 测试内容, expectedDurationMinutes: 5, functionsUnavailable: [], precautions: [], impact: 无}
              en: {purpose: test, content: test content, expectedDurationMinutes: 5, functionsUnavailable: [], precautions: [], impact: none}
            preconditions: {parked: true, gear: P, minimumBatteryPercent: 20}
            recovery: rollback
            \(extra)
            """
        let path = "\(directory)/manifest-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Builds a bundle; small chunks so even small images have several.
    @discardableResult
    func build(
        manifest: String, output: String? = nil, signer: SignerIdentity? = nil, recipients: [Certificate] = [],
        chunkSize: Int = 16 * 1024, now: Date = Date()
    ) throws -> String {
        let path = output ?? "\(directory)/bundle-\(UUID().uuidString).ota"
        _ = try BundleBuilder.build(
            .init(
                manifestPath: manifest, imagesDirectory: "\(directory)/images", signer: try signer ?? self.signer(),
                recipients: recipients, outputPath: path, chunkSize: chunkSize, xzPreset: 1, threads: 1, now: now))
        return path
    }

    /// A standard two-image bundle.
    func standardBundle(recipients: [Certificate] = []) throws -> String {
        try image("a.img", size: 50_000, seed: 1)
        try image("b.img", size: 70_000, seed: 2)
        return try build(
            manifest: try manifest(images: [("alpha", "a.img"), ("beta", "b.img")]), recipients: recipients)
    }

    /// The bundle's entries as (name, bytes), read with libarchive.
    static func entries(of path: String) throws -> [RawTar.Entry] {
        let reader = try ArchiveReader(file: try InputFile(path: path))
        var entries: [RawTar.Entry] = []
        while let entry = try reader.nextEntry() {
            entries.append(RawTar.Entry(name: entry.name, data: try reader.readAll(limit: 64 << 20)))
        }
        return entries
    }

    func write(_ bytes: [UInt8], name: String = UUID().uuidString + ".ota") throws -> String {
        let path = "\(directory)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Verifies every byte (and content with `deep`); returns the error code, or nil if accepted.
    func verifyCode(
        _ path: String, threshold: Int = 1, deep: Bool = false, keys: [PrivateKey] = [], at time: Date = Date()
    ) -> String? {
        do {
            _ = try BundleVerification.verify(
                path: path, policy: try policy(threshold: threshold, at: time), decryptionKeys: keys, deep: deep)
            return nil
        } catch let error as OTAError {
            return error.code.rawValue
        } catch {
            return "unexpected: \(error)"
        }
    }
}
