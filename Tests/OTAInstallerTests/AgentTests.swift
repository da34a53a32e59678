import Foundation
import OTAAgent
import OTABuilder
import OTACore
import OTAInstaller
import OTARecorder
import OTARepository
import OTATUF
import OTATransport
import Testing

/// The agent against a real nginx (mutual TLS) and our fault proxy: every attack refused with its
/// own code and no slot touched; drops, kills and damaged chunks recovered.
@Suite(.serialized) struct AgentTests {
    final class Setup {
        let fixture: InstallerFixture
        let repository: Repository
        let server: RepositoryServer
        let vehicle: String
        let bundle: String

        init(requireRepository: Bool = true, imageSize: Int = 40_000, chunkSize: Int = 4096, compression: String = "xz")
            throws
        {
            fixture = try InstallerFixture(imageSize: imageSize)
            repository = Repository(directory: fixture.directory + "/repo")
            try repository.initialize(suite: .intl)
            let images = (0..<2).map { InstallerFixture.ImageSpec(group: $0, compression: compression) }
            bundle = try fixture.bundle(try fixture.manifest(images: images), chunkSize: chunkSize)
            _ = try repository.add(bundles: [bundle], trust: fixture.keys + "/trust", names: ["x1/update-1.ota"])
            try repository.publish()
            var config = fixture.config()
            config.requireRepository = requireRepository
            vehicle = try fixture.vehicle(config)
            server = try RepositoryServer(
                directory: fixture.directory, repository: repository, clientCA: fixture.keys + "/vehicle/root-ca.crt")
        }

        /// The `custom` object of a published target entry.
        func publishedCustom(_ name: String) throws -> JSONObject {
            let document = try TUFJSONParser.parse(try FileSystem.read(repository.metadataDirectory + "/targets.json"))
            return try #require(
                document.object?["signed"]?.object?["targets"]?.object?[name]?.object?["custom"]?.object)
        }

        func transport(cert: String? = nil, key: String? = nil, ca: String? = nil, http: Bool = false)
            -> TransportOptions
        {
            TransportOptions(
                clientCertificate: cert ?? fixture.keys + "/vehicle/device.crt",
                clientKey: key ?? fixture.keys + "/vehicle/device.key",
                pinnedCA: ca ?? server.serverCA, allowPlainHTTP: http, retries: 6, backoff: 0.05, stallSeconds: 2)
        }

        func agent(
            _ url: String? = nil, transport: TransportOptions? = nil,
            progress: (@Sendable (WorkProgress) -> Void)? = nil
        ) throws -> Agent {
            try Agent(
                vehicle: try Vehicle(directory: vehicle),
                options: .init(
                    repository: url ?? server.https, transport: transport ?? self.transport(),
                    initialRoot: repository.metadataDirectory + "/1.root.json",
                    conditions: InstallerFixture.parked, consent: InstallerFixture.yes, progress: progress))
        }
    }

    @Test func `the agent pulls over mutual TLS, installs, and confirms after the reboot`() throws {
        let setup = try Setup()
        let slots = try InstallerFixture.slotHashes(setup.vehicle)
        #expect(try setup.agent().check().state == .available)
        let outcome = try setup.agent().run()
        #expect(outcome.state == .rebootRequired)
        #expect(try InstallerFixture.slotHashes(setup.vehicle) != slots)
        #expect(try setup.agent().run().state == .rebootRequired)
        _ = try Vehicle(directory: setup.vehicle).simulateBoot()
        #expect(try setup.agent().run().state == .confirmed)
        #expect(try setup.agent().run().state == .upToDate)
        let steps = try InstallerFixture.records(setup.vehicle).map(\.step)
        for step in [RecordStep.agentRefresh, .agentDownload, .repository, .agentInstall, .agentConfirm] {
            #expect(steps.contains(step))
        }
        // The install attempt's closing record names the repository entry it came from.
        let result = try #require(
            try InstallerFixture.records(setup.vehicle).last { $0.step == .result && $0.phase == .install })
        #expect(result.repository?.target != nil && result.repository?.timestampVersion != nil)
    }

    @Test func `a client without a certificate, or with one from another fleet, is refused by the server`() throws {
        let setup = try Setup()
        let none = TransportOptions(pinnedCA: setup.server.serverCA, retries: 0)
        #expect(refusal { _ = try setup.agent(transport: none).check() } == .transportClientRejected)
        // A certificate that chains to another root (another fleet's vehicle, or a self-made one).
        let other = setup.fixture.directory + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try RepositoryServer.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
            "-subj", "/CN=other fleet",
            "-keyout", other + "/key.pem", "-out", other + "/cert.pem",
        ])
        let foreign = setup.transport(cert: other + "/cert.pem", key: other + "/key.pem")
        #expect(refusal { _ = try setup.agent(transport: foreign).check() } == .transportClientRejected)
        #expect(
            try InstallerFixture.records(setup.vehicle).contains {
                $0.errorCode == OTAError.Code.transportClientRejected.rawValue
            })
    }

    @Test func `another vehicle's certificate without its private key cannot be used`() throws {
        let setup = try Setup()
        // The fleet-recipient certificate is a real vehicle-CA certificate; the device key is not its key.
        let borrowed = setup.transport(
            cert: setup.fixture.keys + "/vehicle/fleet-recipient.crt", key: setup.fixture.keys + "/vehicle/device.key")
        #expect(refusal { _ = try setup.agent(transport: borrowed).check() } == .transportClientIdentity)
    }

    @Test func `a server whose certificate is not from the pinned CA is refused, and plain HTTP needs the flag`() throws
    {
        let setup = try Setup()
        let wrongPin = setup.transport(ca: setup.fixture.keys + "/vehicle/root-ca.crt")
        #expect(refusal { _ = try setup.agent(transport: wrongPin).check() } == .transportTLS)
        #expect(
            refusal { _ = try setup.agent("http://127.0.0.1:\(setup.server.httpPort)").check() } == .transportPlainHTTP)
        #expect(
            try setup.agent("http://127.0.0.1:\(setup.server.httpPort)", transport: setup.transport(http: true)).check()
                .state == .available)
    }

    @Test func `five connection drops mid-body are resumed with Range requests and the bundle installs`() throws {
        let setup = try Setup(imageSize: 300_000)
        let proxy = try setup.server.startProxy()
        try setup.server.faults(#"{"match": ".ota", "drop_after": 20000, "drop_times": 5}"#)
        let outcome = try setup.agent(proxy, transport: setup.transport(http: true)).run()
        #expect(outcome.state == .rebootRequired)
        let download = try #require(outcome.download)
        #expect(download.retries == 5)
        #expect(download.refetchedChunks == 0)
    }

    @Test
    func `a corrupted chunk is fetched again once; corrupted every time the download is refused and nothing is kept`()
        throws
    {
        let setup = try Setup(imageSize: 300_000)
        let proxy = try setup.server.startProxy()
        try setup.server.faults(#"{"match": ".ota", "corrupt_at": 12345, "corrupt_times": 1}"#)
        let once = try setup.agent(proxy, transport: setup.transport(http: true)).downloadOnly()
        #expect(once.download?.refetchedChunks == 1)

        let second = try Setup(imageSize: 300_000)
        let proxy2 = try second.server.startProxy()
        try second.server.faults(#"{"match": ".ota", "corrupt_at": 12345, "corrupt_times": 100}"#)
        let slots = try InstallerFixture.slotHashes(second.vehicle)
        #expect(
            refusal { _ = try second.agent(proxy2, transport: second.transport(http: true)).run() }
                == .transportChunkHash)
        #expect(try InstallerFixture.slotHashes(second.vehicle) == slots)
        #expect(
            try FileSystem.list(second.vehicle + "/private/agent").filter {
                $0.hasSuffix(".part") || $0.hasSuffix(".ota")
            }.isEmpty)
    }

    @Test func `more bytes than the signed length are refused`() throws {
        let setup = try Setup()
        let proxy = try setup.server.startProxy()
        try setup.server.faults(#"{"match": ".ota", "extra": 10}"#)
        #expect(
            refusal { _ = try setup.agent(proxy, transport: setup.transport(http: true)).run() } == .transportTooLong)
        try setup.server.faults(#"{"match": "timestamp.json", "extra": 20000}"#)
        #expect(refusal { _ = try setup.agent(proxy, transport: setup.transport(http: true)).check() } == .tufTooLarge)
    }

    @Test func `a stalled server is cut off (slow retrieval) after the retries`() throws {
        let setup = try Setup(imageSize: 300_000)
        let proxy = try setup.server.startProxy()
        try setup.server.faults(#"{"match": ".ota", "stall_after": 1000, "stall_seconds": 20}"#)
        var options = setup.transport(http: true)
        options.retries = 1
        options.stallSeconds = 1
        #expect(refusal { _ = try setup.agent(proxy, transport: options).run() } == .transportTimeout)
    }

    @Test func `the bandwidth cap holds the download to its rate, and progress reaches the whole bundle`() throws {
        // Two 1 MiB chunks of the repository's chunk list.
        let setup = try Setup(imageSize: 700_000, compression: "none")
        let length = try FileSystem.read(setup.bundle, limit: 8 << 20).count
        #expect(length > 1 << 20)
        var options = setup.transport()
        options.bandwidthLimit = 500_000
        let seen = ProgressLog()
        let start = Date()
        let outcome = try setup.agent(transport: options, progress: { seen.add($0) }).downloadOnly()
        let elapsed = Date().timeIntervalSince(start)
        #expect(outcome.state == .downloaded)
        #expect(elapsed >= Double(length) / 500_000, "\(length) bytes in \(elapsed) s")
        let updates = seen.all
        #expect(updates.last?.done == UInt64(length))
        #expect(updates.count > 1)
        #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.done < $1.done })
    }

    @Test func `server errors are retried with doubling back-off, each retry recorded, then refused`() throws {
        let setup = try Setup()
        let proxy = try setup.server.startProxy()
        try setup.server.faults(#"{"status": {"/metadata/timestamp.json": 503}}"#)
        var options = setup.transport(http: true)
        options.retries = 3
        options.backoff = 0.2
        let start = Date()
        #expect(refusal { _ = try setup.agent(proxy, transport: options).check() } == .transportServerError)
        // 0.2 + 0.4 + 0.8 seconds of back-off before giving up.
        #expect(Date().timeIntervalSince(start) >= 1.4)
        let record = try #require(try InstallerFixture.records(setup.vehicle).last { $0.step == .agentRefresh })
        #expect(record.errorCode == "transport.server-error")
        let retries = record.repository?.download?.retryLog ?? ""
        #expect(retries.components(separatedBy: "(retry ").count == 4, "\(retries)")
        // The server recovers: the next run goes through.
        try setup.server.faults("{}")
        #expect(try setup.agent(proxy, transport: options).check().state == .available)
    }

    @Test func `a download whose chunks match but whose signed whole-file hash does not is refused, nothing kept`()
        throws
    {
        let setup = try Setup()
        // The repository signs the bundle's chunk list with another file's SHA-256 (and serves
        // the bundle under that hash's name): every chunk passes, the whole file must not.
        let staged = setup.repository.directory + "/staged/targets.json"
        var object = try #require(try TUFJSONParser.parse(try FileSystem.read(staged)).object)
        var targets = try #require(object["targets"]?.object)
        var entry = try #require(targets["x1/update-1.ota"]?.object)
        let other = try Hasher.hash(.sha256, Array("another file".utf8)).hex
        entry.set("hashes", .object(try JSONObject([("sha256", .string(other))])))
        targets.set("x1/update-1.ota", .object(entry))
        object.set("targets", .object(targets))
        try AtomicFileWriter.write(OLPCCanonicalJSON.encodeFile(.object(object)), to: staged)
        try FileManager.default.copyItem(
            atPath: setup.bundle, toPath: setup.repository.targetsDirectory + "/x1/\(other).update-1.ota")
        try setup.repository.publish()
        let slots = try InstallerFixture.slotHashes(setup.vehicle)
        #expect(refusal { _ = try setup.agent().run() } == .tufHashMismatch)
        #expect(try InstallerFixture.slotHashes(setup.vehicle) == slots)
        #expect(
            try FileSystem.list(setup.vehicle + "/private/agent").filter {
                $0.hasSuffix(".part") || $0.hasSuffix(".ota")
            }.isEmpty)
        #expect(
            try InstallerFixture.records(setup.vehicle).contains {
                $0.step == .agentDownload && $0.errorCode == OTAError.Code.tufHashMismatch.rawValue
            })
    }

    @Test func `a signed target entry the agent cannot read is refused and recorded, nothing fetched`() throws {
        let setup = try Setup()
        let custom = try JSONObject([("ota", .object(try JSONObject([("bundleId", .integer(7))])))])
        try setup.repository.addFile(setup.bundle, name: "x1/a-malformed.ota", custom: custom)
        try setup.repository.publish()
        #expect(refusal { _ = try setup.agent().run() } == .tufMetadata)
        let record = try #require(try InstallerFixture.records(setup.vehicle).last { $0.step == .agentSelect })
        #expect(record.errorCode == "tuf.metadata")
        #expect(record.repository?.target == "x1/a-malformed.ota")
        #expect(
            try FileSystem.list(setup.vehicle + "/private/agent").filter {
                $0.hasSuffix(".part") || $0.hasSuffix(".ota")
            }.isEmpty)
    }

    @Test func `freeze, replay, mix-and-match and rollback from the server are refused, no slot touched`() throws {
        let setup = try Setup()
        let proxy = try setup.server.startProxy()
        let metadata = setup.repository.metadataDirectory
        let oldTimestamp = setup.fixture.directory + "/old-timestamp.json"
        try FileManager.default.copyItem(atPath: metadata + "/timestamp.json", toPath: oldTimestamp)
        _ = try setup.agent(proxy, transport: setup.transport(http: true)).check()
        try setup.repository.timestamp()
        _ = try setup.agent(proxy, transport: setup.transport(http: true)).check()
        let slots = try InstallerFixture.slotHashes(setup.vehicle)
        // Replay of an older (still unexpired) timestamp.
        try setup.server.faults(#"{"replace": {"/metadata/timestamp.json": "\#(oldTimestamp)"}}"#)
        #expect(refusal { _ = try setup.agent(proxy, transport: setup.transport(http: true)).run() } == .tufRollback)
        // Mix-and-match: snapshot 1 served as snapshot 2.
        try setup.server.faults(#"{"replace": {"/metadata/2.snapshot.json": "\#(metadata)/1.snapshot.json"}}"#)
        let vehicleMetadata = setup.vehicle + "/tuf"
        try? FileManager.default.removeItem(atPath: vehicleMetadata + "/snapshot.json")
        let mixed = refusal { _ = try setup.agent(proxy, transport: setup.transport(http: true)).run() }
        // Caught by the length the timestamp signs (a longer file is cut at it), its hashes, or the version.
        #expect([OTAError.Code.tufTooLarge, .tufLengthMismatch, .tufHashMismatch, .tufVersionMismatch].contains(mixed))
        #expect(try InstallerFixture.slotHashes(setup.vehicle) == slots)
    }

    @Test func `an expired timestamp (freeze) is refused`() throws {
        let fixture = try InstallerFixture()
        let clock = Clock()
        let repository = Repository(directory: fixture.directory + "/repo", now: { clock.value })
        clock.value = Int64(Date().timeIntervalSince1970) - 3 * 86_400
        try repository.initialize(suite: .intl)
        var config = fixture.config()
        config.requireRepository = true
        let vehicle = try fixture.vehicle(config)
        let server = try RepositoryServer(
            directory: fixture.directory, repository: repository, clientCA: fixture.keys + "/vehicle/root-ca.crt")
        let agent = try Agent(
            vehicle: try Vehicle(directory: vehicle),
            options: .init(
                repository: server.https,
                transport: TransportOptions(
                    clientCertificate: fixture.keys + "/vehicle/device.crt",
                    clientKey: fixture.keys + "/vehicle/device.key", pinnedCA: server.serverCA),
                initialRoot: repository.metadataDirectory + "/1.root.json"))
        #expect(refusal { _ = try agent.check() } == .tufExpired)
    }

    @Test func `two hierarchies: a stolen release key alone, or a repository key alone, installs nothing`() throws {
        let setup = try Setup()
        let slots = try InstallerFixture.slotHashes(setup.vehicle)
        // A release-signed bundle the repository does not list: ota install refuses it on this vehicle.
        do {
            let vehicle = try Vehicle(directory: setup.vehicle)
            #expect(
                refusal {
                    try vehicle.install(
                        bundle: setup.bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
                }
                    == .repositoryRequired)
        }
        // The repository (its keys alone) lists a file the release keys never signed.
        let forged = setup.fixture.directory + "/forged.ota"
        var bytes = try FileSystem.read(setup.bundle)
        bytes[bytes.count / 2] ^= 0xff
        try AtomicFileWriter.write(bytes, to: forged)
        let custom = try setup.publishedCustom("x1/update-1.ota")
        var ota = try #require(custom["ota"]?.object)
        ota.set("chunks", .object(try BundleTargetFields.chunks(ofFile: forged)))
        var forgedCustom = custom
        forgedCustom.set("ota", .object(ota))
        try setup.repository.remove(names: ["x1/update-1.ota"])
        try setup.repository.addFile(forged, name: "x1/forged.ota", custom: forgedCustom)
        try setup.repository.publish()
        let code = refusal { _ = try setup.agent().run() }
        #expect(code == .payloadChunkHash)
        #expect(try InstallerFixture.slotHashes(setup.vehicle) == slots)
        // The workshop path is explicit and recorded.
        let vehicle = try Vehicle(directory: setup.vehicle)
        vehicle.workshopInstall = true
        try vehicle.install(bundle: setup.bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        #expect(
            try InstallerFixture.records(setup.vehicle).contains {
                $0.step == .repository && $0.repository?.workshop == true
            })
    }

    @Test func `a repository entry that disagrees with the release-signed manifest is refused`() throws {
        let setup = try Setup()
        let slots = try InstallerFixture.slotHashes(setup.vehicle)
        let custom = try setup.publishedCustom("x1/update-1.ota")
        var ota = try #require(custom["ota"]?.object)
        ota.set("versions", .object(try JSONObject([("ECU0", .string("9.9.9")), ("ECU1", .string("2.0.0"))])))
        var changed = custom
        changed.set("ota", .object(ota))
        try setup.repository.addFile(setup.bundle, name: "x1/update-1.ota", custom: changed)
        try setup.repository.publish()
        #expect(refusal { _ = try setup.agent().run() } == .repositoryMismatch)
        #expect(try InstallerFixture.slotHashes(setup.vehicle) == slots)
    }

    @Test func `the clock floor moves by verified repository time, bounded per step`() throws {
        let fixture = try InstallerFixture()
        let clock = Clock()
        let future = Int64(Date().timeIntervalSince1970) + 400 * 86_400
        clock.value = future
        let repository = Repository(directory: fixture.directory + "/repo", now: { clock.value })
        try repository.initialize(
            suite: .intl,
            lifetimes: [
                "timestamp": 800 * 86_400, "snapshot": 800 * 86_400, "targets": 800 * 86_400, "root": 800 * 86_400,
            ])
        let vehicle = try fixture.vehicle()
        let server = try RepositoryServer(
            directory: fixture.directory, repository: repository, clientCA: fixture.keys + "/vehicle/root-ca.crt")
        let agent = try Agent(
            vehicle: try Vehicle(directory: vehicle),
            options: .init(
                repository: server.https,
                transport: TransportOptions(
                    clientCertificate: fixture.keys + "/vehicle/device.crt",
                    clientKey: fixture.keys + "/vehicle/device.key", pinnedCA: server.serverCA),
                initialRoot: repository.metadataDirectory + "/1.root.json"))
        _ = try agent.check()
        let floor = try InstallerFixture.rawState(vehicle).timeFloor
        // One step moves the floor at most 30 days past now, never to the signed time 400 days ahead.
        #expect(floor <= Date().addingTimeInterval(30 * 86_400 + 5))
        #expect(floor > Date().addingTimeInterval(29 * 86_400))
        #expect(
            try InstallerFixture.records(vehicle).contains {
                $0.step == .clockFloor && $0.repository?.floorBounded == true
            })
    }
}

/// Progress updates as they came. `@unchecked Sendable`: guarded by a lock.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var updates: [WorkProgress] = []
    func add(_ update: WorkProgress) { lock.lock(); updates.append(update); lock.unlock() }
    var all: [WorkProgress] { lock.lock(); defer { lock.unlock() }; return updates }
}

final class Clock: @unchecked Sendable {
    // Set by the test before use, read by the repository on the same thread.
    var value: Int64 = 0
}

extension Vehicle {
    /// The simulated reboot `ota vehicle reboot` does.
    func simulateBoot() throws -> BootState { try reboot() }
}

/// Kill and interop tests that need the `ota` executable or python-tuf.
@Suite(.serialized) struct AgentProcessTests {
    @Test
    func `a download killed at random points resumes with the right bytes, at most one chunk fetched twice per kill`()
        throws
    {
        // Uncompressed: a bundle of several 1 MiB chunks (about 12 MiB).
        let setup = try AgentTests.Setup(imageSize: 6 << 20, chunkSize: 1 << 20, compression: "none")
        let arguments = [
            "agent", "download", "--vehicle", setup.vehicle, "--repository", setup.server.https, "--root",
            setup.repository.metadataDirectory + "/1.root.json",
            "--ca", setup.server.serverCA, "--cert", setup.fixture.keys + "/vehicle/device.crt", "--key",
            setup.fixture.keys + "/vehicle/device.key",
            "--limit-rate", "3000000", "--json",
        ]
        let agentDirectory = setup.vehicle + "/private/agent"
        var kills = 0
        var verifiedAtKill: UInt64 = 0
        for _ in 0..<3 {
            let pid = try Spawn.start([CrashInjectionTests.executable] + arguments, output: "/dev/null")
            // Wait for a random amount of progress, then SIGKILL.
            let goal = UInt64.random(in: 100_000...4_000_000)
            let deadline = Date().addingTimeInterval(20)
            var running = true
            while Date() < deadline {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    running = false
                    break
                }
                let part = (try? FileManager.default.contentsOfDirectory(atPath: agentDirectory))?.first {
                    $0.hasSuffix(".part")
                }
                let size =
                    part.flatMap {
                        try? FileManager.default.attributesOfItem(atPath: agentDirectory + "/" + $0)[.size] as? UInt64
                    } ?? 0
                if size >= goal { break }
                usleep(20_000)
            }
            if running {
                kill(pid, SIGKILL)
                _ = Spawn.wait(pid)
                kills += 1
                // The partial file holds only verified chunks: what the next run must not fetch again.
                let part = (try? FileManager.default.contentsOfDirectory(atPath: agentDirectory))?.first {
                    $0.hasSuffix(".part")
                }
                verifiedAtKill =
                    part.flatMap {
                        try? FileManager.default.attributesOfItem(atPath: agentDirectory + "/" + $0)[.size] as? UInt64
                    } ?? 0
            }
        }
        let final = try VehicleCommandTests.ota(arguments)
        #expect(final.status == 0)
        let finished = try FileManager.default.contentsOfDirectory(atPath: agentDirectory).filter {
            $0.hasSuffix(".ota")
        }
        #expect(finished.count == 1)
        let bundleBytes = try FileSystem.read(setup.bundle, limit: 64 << 20)
        #expect(try FileSystem.read(agentDirectory + "/" + finished[0], limit: 64 << 20) == bundleBytes)
        // The finishing run resumed at the verified chunks the last kill left (the chunk being
        // received at the kill is the only one fetched twice) and fetched nothing twice itself.
        let records = try InstallerFixture.records(setup.vehicle).filter { $0.step == .agentDownload }
        #expect(records.count == 1)
        let resumedFrom = try #require(records.first?.repository?.download?.resumedFrom)
        let received = try #require(records.first?.repository?.download?.received)
        #expect(kills > 0)
        #expect(resumedFrom == verifiedAtKill)
        #expect(resumedFrom % (1 << 20) == 0)
        #expect(received == UInt64(bundleBytes.count) - resumedFrom)
    }

    @Test func `python-tuf's ngclient reads ota's repository and downloads its bundle`() throws {
        let setup = try AgentTests.Setup()
        let client = setup.fixture.directory + "/pytuf"
        try FileManager.default.createDirectory(atPath: client + "/targets", withIntermediateDirectories: true)
        let script = """
            import sys
            from tuf.ngclient import Updater
            base = sys.argv[1]
            u = Updater(sys.argv[2], base + "/metadata/", sys.argv[2] + "/targets", base + "/targets/", bootstrap=open(sys.argv[3], "rb").read())
            u.refresh()
            info = u.get_targetinfo("x1/update-1.ota")
            assert info.custom["ota"]["models"] == ["X1"], info.custom
            print(u.download_target(info))
            """
        let output = try RepositoryServer.run([
            "python3", "-c", script, "http://127.0.0.1:\(setup.server.httpPort)", client,
            setup.repository.metadataDirectory + "/1.root.json",
        ])
        let path = output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try FileSystem.read(path, limit: 64 << 20) == (try FileSystem.read(setup.bundle, limit: 64 << 20)))
    }
}
