import ArgumentParser
import Foundation
import OTACore
import OTARecorder

/// `ota-records-rig`: the records test rig, a separate executable that is never part of the
/// shipped `ota` (`make release` builds `--product ota` alone). The crash tests drive
/// `stress-append`; the benchmarks and the report screenshot script drive `simulate`, and the
/// fleet benchmark `certify`.
@main
struct RecordsRig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ota-records-rig",
        abstract: "Test rig for the record log: crash-test appender and simulated fleets (not shipped).",
        subcommands: [StressAppend.self, Simulate.self, Certify.self]
    )
}

/// Appends generated records one by one, printing `appended SEQ` after each `append` returned.
/// The crash tests SIGKILL it and check that every printed entry survived.
struct StressAppend: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stress-append")

    @Argument(help: "The log directory (created when missing).") var log: String
    @Option(help: "The device key that signs checkpoints.") var key: String
    @Option var vin: String = "LSVAU2180N2000001"
    @Option var count: Int = 1000
    @Option var segmentBytes: Int64 = 4 << 20
    @Option var checkpointInterval: Int = 16

    func run() throws {
        let signer = try PrivateKey(reference: key)
        let clock = SystemClock(source: .rtc)
        let configuration = Recorder.Configuration(
            segmentBytes: segmentBytes, checkpointInterval: checkpointInterval, durability: .fsync)
        let recorder =
            FileSystem.exists(log + "/log.json")
            ? try Recorder.open(at: log, signer: signer, clock: clock, configuration: configuration)
            : try Recorder.create(at: log, vin: vin, signer: signer, clock: clock, configuration: configuration)
        for tail in recorder.tornTails { FileHandle.standardOutput.write(Data("torn \(tail.seq)\n".utf8)) }
        for index in 0..<count {
            let record = Simulation.record(vin: vin, index: index, time: Date())
            let appended = try recorder.append(record)
            // Unbuffered: the line is out before the next append starts.
            FileHandle.standardOutput.write(Data("appended \(appended.seq)\n".utf8))
        }
        try recorder.close()
    }
}

/// Writes logs for many simulated vehicles (bulk durability) for benchmarks and demos.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate")

    @Argument(help: "Directory to hold one log per vehicle.") var directory: String
    @Option(help: "The device key that signs every vehicle's checkpoints.") var key: String
    @Option var vehicles: Int = 10
    @Option(help: "The first vehicle's number (several processes can share a fleet: 0, then --vehicles, ...).")
    var first: Int = 0
    @Option var records: Int = 100
    @Option(help: "none or fsync.") var durability: String = "none"
    @Option var start: String = "2026-01-01T00:00:00Z"

    func run() throws {
        let signer = try PrivateKey(reference: key)
        guard let begin = RecordTime.parse(start) else {
            throw ValidationError("--start: expected RFC 3339 UTC time such as 2026-01-31T00:00:00Z")
        }
        guard durability == "none" || durability == "fsync" else {
            throw ValidationError("--durability: none or fsync")
        }
        guard vehicles >= 0, first >= 0, first <= Simulation.maximumVehicles - vehicles else {
            throw ValidationError(
                "--first and --vehicles: vehicles 0 to \(Simulation.maximumVehicles - 1) (a VIN's serial has seven digits)"
            )
        }
        try FileSystem.createDirectory(directory)
        for vehicle in first..<(first + vehicles) {
            let vin = Simulation.vin(vehicle)
            let clock = ManualClock(begin.addingTimeInterval(Double(vehicle)), source: .gnss)
            let recorder = try Recorder.create(
                at: directory + "/" + vin, vin: vin, signer: signer, clock: clock,
                configuration: .init(durability: durability == "fsync" ? .fsync : .none))
            for index in 0..<records {
                clock.advance(seconds: 3600)
                try recorder.append(Simulation.record(vin: vin, index: index, time: clock.now().date))
            }
            try recorder.close()
        }
        print("simulated \(vehicles) vehicle(s) x \(records) record(s) in \(directory)")
    }
}

/// Issues one vehicle certificate per simulated vehicle, all for one key, each naming its VIN in
/// the signer-id extension: the TLS clients of the fleet load benchmark (bench/fleet.sh), 100,000
/// of them without a process each. Each goes the way `ota keys issue --role vehicle --signer-id
/// VIN` goes (a request signed by the key, then `CertificateIssuer.issue(request:role:...)`), so
/// the same checks apply: a directory name that is not a VIN is refused.
struct Certify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "certify")

    @Argument(help: "Directory of simulated logs: one subdirectory per VIN.") var logs: String
    @Option(help: "The key every certificate certifies.") var key: String
    @Option(name: .customLong("ca-key"), help: "The vehicle CA's key.") var caKey: String
    @Option(name: .customLong("ca-cert"), help: "The vehicle CA's certificate.") var caCertificate: String
    @Option(name: [.customShort("o"), .long], help: "Directory for VIN.crt (PEM).") var output: String
    @Option var days: Int = 30
    @Option(help: "K/N: only every Nth VIN from the Kth (0-based), so N processes can share the work.")
    var shard: String = "0/1"

    func run() throws {
        let parts = shard.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] > 0, (0..<parts[1]).contains(parts[0]) else {
            throw ValidationError("--shard: K/N with 0 <= K < N")
        }
        let deviceKey = try PrivateKey(reference: key)
        let issuer = CertificateIssuer(
            key: try PrivateKey(reference: caKey), certificate: try Certificate.load(contentsOf: caCertificate)[0])
        try FileSystem.createDirectory(output)
        let now = Date()
        let all = try FileManager.default.contentsOfDirectory(atPath: logs).sorted()
        let vins = stride(from: parts[0], to: all.count, by: parts[1]).map { all[$0] }
        for vin in vins {
            try CertificateIssuer.checkVehicleSignerID(vin, what: "\(logs)/\(vin)")
            let request = try CertificateRequest.make(
                subject: .init(
                    commonName: "Vehicle Device \(vin)", organization: "ota sample OEM", organizationalUnit: "vehicle"),
                key: deviceKey)
            let certificate = try issuer.issue(
                request: request, role: .vehicle, signerID: vin, notBefore: now.addingTimeInterval(-3600),
                notAfter: now.addingTimeInterval(Double(days) * 86400))
            // Benchmark input, remade every run: no fsync per file.
            try Data(certificate.pem.utf8).write(to: URL(fileURLWithPath: output + "/" + vin + ".crt"))
        }
        print("issued \(vins.count) vehicle certificate(s) in \(output)")
    }
}
