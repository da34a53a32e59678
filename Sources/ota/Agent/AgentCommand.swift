import ArgumentParser
import Foundation
import OTAAgent
import OTACore
import OTAInstaller
import OTATransport

/// `ota agent`: the vehicle agent (TUF refresh, target choice, resumable download over mutual
/// TLS, install through the vehicle's policy, confirm after the reboot).
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Pull updates from a TUF repository over mutually authenticated HTTPS and install them.",
        discussion: "Every step is recorded in the vehicle's record log. Safe to kill at any instant and run again.",
        subcommands: [AgentCheckCommand.self, AgentDownloadCommand.self, AgentRunCommand.self, AgentUploadCommand.self]
    )
}

/// Options all agent commands share.
struct AgentOptions: ParsableArguments {
    @Option(help: "Vehicle directory.") var vehicle: String
    @Option(help: "Repository base URL (metadata at URL/metadata, targets at URL/targets).") var repository: String
    @Option(help: "First trusted root.json (only when the vehicle has none yet).") var root: String?
    @Option(help: "The only CA the server certificate may chain to (PEM).") var ca: String?
    @Option(help: "The vehicle's TLS certificate (PEM; default DIR/keys/device.crt when present).") var cert: String?
    @Option(help: "Its private key (PEM; default DIR/keys/device.key).") var key: String?
    @Flag(name: .customLong("allow-http"), help: "Allow plain http:// (test benches only).") var allowHTTP = false
    @Option(name: .customLong("limit-rate"), help: "Bandwidth cap in bytes per second (0: none).") var limitRate:
        Int64 = 0
    @Option(help: "Retries per request for drops, stalls and server errors.") var retries = 5
    @Option(name: .customLong("stall-seconds"), help: "Seconds without progress before a transfer counts as stalled.")
    var stallSeconds = 30
    @OptionGroup var progressOptions: ProgressOptions

    /// The download's progress on standard error, as `--progress` asks (the install's own
    /// progress is the installer's).
    func progressReporter(json: Bool) -> (@Sendable (WorkProgress) -> Void)? {
        let display = progressOptions.display(json: json)
        guard !display.isSilent else { return nil }
        return { @Sendable progress in display.update(progress) }
    }

    func transport() -> TransportOptions {
        let certificate =
            cert
            ?? (FileManager.default.fileExists(atPath: vehicle + "/keys/device.crt")
                ? vehicle + "/keys/device.crt" : nil)
        let privateKey = key ?? (certificate != nil ? vehicle + "/keys/device.key" : nil)
        return TransportOptions(
            clientCertificate: certificate, clientKey: privateKey, pinnedCA: ca, allowPlainHTTP: allowHTTP,
            retries: retries, backoff: 0.2,
            stallSeconds: stallSeconds, bandwidthLimit: limitRate)
    }
}

extension Agent.Outcome {
    var human: String {
        var text = "\(state.rawValue)"
        if let target { text += ": \(target)" }
        if let bundleId { text += " (bundle \(bundleId))" }
        if let download {
            text +=
                "; downloaded \(download.bytesReceived) bytes, resumed from \(download.resumedFrom), \(download.retries) retries, \(download.refetchedChunks) chunks fetched again"
        }
        return text
    }
}

struct AgentCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Refresh the metadata and say what the repository offers this vehicle.")
    @OptionGroup var agent: AgentOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let vehicle = try Vehicle(directory: agent.vehicle)
        let outcome = try Agent(
            vehicle: vehicle,
            options: .init(repository: agent.repository, transport: agent.transport(), initialRoot: agent.root)
        ).check()
        Output.succeed(outcome, human: outcome.human, json: output.json)
    }
}

struct AgentDownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download", abstract: "Refresh, pick and download (with resume) the next bundle; no install.")
    @OptionGroup var agent: AgentOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let vehicle = try Vehicle(directory: agent.vehicle)
        let outcome = try Agent(
            vehicle: vehicle,
            options: .init(
                repository: agent.repository, transport: agent.transport(), initialRoot: agent.root,
                progress: agent.progressReporter(json: output.json))
        ).downloadOnly()
        Output.succeed(outcome, human: outcome.human, json: output.json)
    }
}

struct AgentRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Continue an update (confirm after the reboot) or pull and install the next one.")
    @OptionGroup var agent: AgentOptions
    @Option(help: "Vehicle state JSON: {\"parked\": true, \"gear\": \"P\", \"batteryPercent\": 80}.") var state: String?
    @Option(help: "The user's answer to the notice: yes or no.") var consent: String?
    @Option(help: "Language of the notice the user read.") var language = "en"
    @Option(help: "Approval file (for automated-driving changes).") var approval: String?
    @Option(help: "Fleet service URL: the record log is uploaded there after the install attempt.") var fleet: String?
    @Option(name: .customLong("fleet-ca"), help: "The only CA the fleet service's certificate may chain to (PEM).")
    var fleetCA: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let conditions = try state.map(VehicleSupport.conditions(at:))
        let answer = consent.map {
            Consent(answer: $0 == "yes" ? .accepted : .refused, language: language, by: .owner, channel: "agent")
        }
        let approvalBytes = try approval.map { path throws(OTAError) in try FileSystem.read(path, limit: 1 << 20) }
        let vehicle = try Vehicle(directory: agent.vehicle)
        let options = Agent.Options(
            repository: agent.repository, transport: agent.transport(), initialRoot: agent.root,
            conditions: conditions, consent: answer,
            approval: approvalBytes, progress: agent.progressReporter(json: output.json), fleet: fleet,
            fleetTransport: fleetCA.map { ca in
                var options = agent.transport()
                options.pinnedCA = ca
                return options
            })
        let outcome = try namingInput(approval, families: approvalInputFamilies, except: [.approvalMissing]) {
            () throws(OTAError) in try Agent(vehicle: vehicle, options: options).run()
        }
        Output.succeed(outcome, human: outcome.human, json: output.json)
    }
}

/// `ota agent upload`: the record log to the fleet service, its acknowledgement kept, then the
/// prune that acknowledgement allows (run it from a timer, or with --every).
struct AgentUploadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract:
            "Upload the record log's new entries to the fleet service, keep its signed acknowledgement, prune what it allows."
    )
    @Option(help: "Vehicle directory.") var vehicle: String
    @Option(help: "Fleet service URL.") var fleet: String
    @Option(help: "The only CA the fleet service's certificate may chain to (PEM).") var ca: String?
    @Option(help: "The vehicle's TLS certificate (PEM; default DIR/keys/device.crt).") var cert: String?
    @Option(help: "Its private key (PEM; default DIR/keys/device.key).") var key: String?
    @Option(
        name: .customLong("log-cert"),
        help:
            "The certificate of the key that signs the record log, when --cert is another (gm: the SM2 device certificate; default DIR/keys/device.crt when it exists)."
    ) var logCertificate: String?
    @Option(help: "Retries per request for drops, stalls and server errors.") var retries = 5
    @Option(help: "Entries per request at most.") var batch = 4096
    @Option(help: "Upload again every this many seconds (a schedule); 0: once.") var every = 0
    @OptionGroup var output: OutputOptions

    func run() throws {
        let certificate = cert ?? vehicle + "/keys/device.crt"
        let transport = TransportOptions(
            clientCertificate: certificate, clientKey: key ?? vehicle + "/keys/device.key", pinnedCA: ca,
            retries: retries, backoff: 0.2)
        while true {
            let uploader = FleetUploader(
                vehicle: try Vehicle(directory: vehicle), fleet: fleet, transport: transport, maximumEntries: batch,
                signerCertificate: logCertificate)
            let report = try uploader.upload()
            Output.succeed(
                report,
                human:
                    "acknowledged through entry \(report.through.map(String.init) ?? "none") by \(report.store ?? "the fleet service"); \(report.entriesSent) entries sent in \(report.requests) request(s), \(report.added) new; \(report.prunedSegments) segment(s) pruned",
                json: output.json)
            guard every > 0 else { return }
            sleep(UInt32(every))
        }
    }
}
