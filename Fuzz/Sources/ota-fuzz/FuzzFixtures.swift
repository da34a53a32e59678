import Foundation
import OTACore

/// What harnesses share: the repository's sample PKI (keys-sample/, never production keys),
/// the committed fixtures in Fuzz/fixtures/, a fixed clock, and a scratch folder on tmpfs.
enum FuzzFixtures {
    /// The repository root: `OTA_ROOT` when set, else the checkout this file was built from.
    static let root: String = {
        if let root = ProcessInfo.processInfo.environment["OTA_ROOT"], !root.isEmpty { return root }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// Committed inputs the harnesses need besides the fuzzed bytes (the signed manifests that
    /// the seed envelopes and recipients belong to).
    static var fixtures: String { "\(root)/Fuzz/fixtures" }

    /// Verification time: inside every sample certificate's validity and before the seed
    /// bundles expire, so that seeds reach as deep as they can.
    static let now = Date(timeIntervalSince1970: 1_798_761_600)  // 2027-01-01T00:00:00Z

    static func pki(_ suite: Suite) -> String { "\(root)/keys-sample/\(suite.rawValue)" }

    static func trust(_ suite: Suite) throws(OTAError) -> TrustStore {
        try TrustStore(directory: "\(pki(suite))/trust")
    }

    static func chains(_ suite: Suite) throws(OTAError) -> ChainVerifier {
        ChainVerifier(store: try trust(suite), time: FixedTime(now))
    }

    static func key(_ suite: Suite, _ path: String) throws(OTAError) -> PrivateKey {
        try PrivateKey(contentsOf: "\(pki(suite))/\(path)")
    }

    /// The vehicle-side keys that can unwrap a sample bundle's content key.
    static func recipientKeys(_ suite: Suite) throws(OTAError) -> [PrivateKey] {
        [try key(suite, "vehicle/device.key"), try key(suite, "vehicle/fleet-recipient.key")]
    }

    /// A signed sample manifest's exact bytes (`Fuzz/fixtures/manifest-SUITE.json`).
    static func manifestBytes(_ suite: Suite) throws(OTAError) -> [UInt8] {
        try FileSystem.read("\(fixtures)/manifest-\(suite.rawValue).json", limit: BundleLayout.maximumManifestSize)
    }

    /// A private folder for this process's scratch files, on tmpfs when there is one.
    static func scratch(_ name: String) throws(OTAError) -> String {
        let base = FileSystem.isDirectory("/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let directory = "\(base)/ota-fuzz-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileSystem.createDirectory(directory, mode: 0o700)
        if created.isEmpty { atexit { FuzzFixtures.removeScratch() } }
        created.append(directory)
        return directory
    }

    nonisolated(unsafe) private static var created: [String] = []

    private static func removeScratch() {
        for directory in created { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Writes `bytes` to `path`, replacing it (the harness's input file for path-based APIs).
    static func write(_ bytes: [UInt8], to path: String) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            FuzzTargets.violated("cannot write the scratch file \(path)")
        }
    }
}
