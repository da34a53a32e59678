import Foundation
import OTACore
import OTARepository
import OTATUF
import OTATestSupport

/// A clock a test can move.
final class TestClock: @unchecked Sendable {
    // Only read and written from the test's own thread.
    var seconds: Int64
    init(_ seconds: Int64 = 1_800_000_000) { self.seconds = seconds }
    var read: @Sendable () -> Int64 { { [unowned self] in self.seconds } }
}

/// A repository made by ota's own repository code, with a vehicle-side client reading it over
/// `file://`, so attacks can be staged by changing what the "server" directory holds.
final class RepositoryFixture {
    let directory: TemporaryDirectory
    let clientDirectory: TemporaryDirectory
    let clock = TestClock()
    let repository: Repository

    init(
        suite: Suite = .intl, keyType: KeyType? = nil, thresholds: [String: Int] = [:],
        lifetimes: [String: Int64] = [:],
        consistentSnapshot: Bool = true
    ) throws {
        directory = try TemporaryDirectory("repo")
        clientDirectory = try TemporaryDirectory("client")
        repository = Repository(directory: directory.path + "/repo", now: clock.read)
        try repository.initialize(
            suite: suite, keyType: keyType, thresholds: thresholds, lifetimes: lifetimes,
            consistentSnapshot: consistentSnapshot)
        try TUFClient.initialize(
            metadataDirectory: clientDirectory.path,
            trustedRoot: try FileSystem.read(repository.metadataDirectory + "/1.root.json"))
    }

    var metadata: String { repository.metadataDirectory }

    func client(limits: TUFLimits = .default) throws -> TUFClient {
        try TUFClient(
            metadataDirectory: clientDirectory.path, metadataURL: "file://" + metadata, fetcher: FileFetcher(),
            limits: limits, now: clock.read)
    }

    /// Adds a file target with `content` and publishes.
    @discardableResult
    func addTarget(_ name: String, _ content: String, role: String = "targets") throws -> String {
        let file = try directory.write("src/\(UUID().uuidString)", content)
        try repository.addFile(file, name: name, role: role)
        try repository.publish()
        return file
    }

    func read(_ name: String) throws -> [UInt8] { try FileSystem.read("\(metadata)/\(name)") }
    func write(_ name: String, _ bytes: [UInt8]) throws { try AtomicFileWriter.write(bytes, to: "\(metadata)/\(name)") }

    /// Expects `body` to fail with `code`.
    func expect(_ code: OTAError.Code, _ body: () throws -> Void) -> OTAError? {
        do {
            try body()
            return nil
        } catch let error as OTAError {
            return error.code == code
                ? error : OTAError(error.code, "expected \(code), got \(error.code): \(error.message)")
        } catch {
            return nil
        }
    }
}

func fixturePath(_ name: String) -> String {
    Bundle.module.path(forResource: "Fixtures", ofType: nil)! + "/" + name
}

func refusal(_ body: () throws -> Void) -> OTAError.Code? {
    do {
        try body()
        return nil
    } catch let error as OTAError {
        return error.code
    } catch {
        return nil
    }
}
