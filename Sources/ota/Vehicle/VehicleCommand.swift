import ArgumentParser
import Foundation
import OTACore
import OTAInstaller
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// `ota vehicle ...`: a simulated vehicle for the installer.
struct VehicleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vehicle",
        abstract: "A simulated vehicle: create it, reboot it, confirm or roll back an update, show its status.",
        subcommands: [
            VehicleInitCommand.self, VehicleActivateCommand.self, VehicleRebootCommand.self, VehicleConfirmCommand.self,
            VehicleRollbackCommand.self, VehicleStatusCommand.self, VehicleTrustCommand.self,
            VehicleRotateKeyCommand.self,
        ]
    )
}

/// Options of the vehicle's installer shared by the commands that open it.
enum VehicleSupport {
    /// The vehicle's readings from a `--state` file: strict JSON, no field `VehicleConditions`
    /// does not know (a misspelt reading is refused, not taken as absent). A malformed file is a
    /// usage error (`vehicle-state.malformed`, exit 1) naming the file, not a policy refusal.
    static func conditions(at path: String) throws(OTAError) -> VehicleConditions {
        let bytes = try FileSystem.read(path, limit: 1 << 20)
        do throws(OTAError) {
            return try CanonicalJSON.decodeInput(
                VehicleConditions.self, from: bytes, as: .vehicleStateMalformed, refusingUnknownFields: true)
        } catch {
            throw OTAError(error.code, "\(path): \(error.message)")
        }
    }

    /// Opens a vehicle. In debug builds only (the test rig, never in a release binary),
    /// `OTA_CRASH_AT=step:<name>` or `OTA_CRASH_AT=bytes:<n>` makes the process SIGKILL itself at
    /// that point, for the crash-injection tests.
    static func open(_ directory: String) throws(OTAError) -> Vehicle {
        var options = Vehicle.Options()
        #if OTA_TEST_RIGS
            if let spec = ProcessInfo.processInfo.environment["OTA_CRASH_AT"], !spec.isEmpty {
                options.faultHook = crashHook(spec)
            }
        #endif
        return try Vehicle(directory: directory, options: options)
    }

    #if OTA_TEST_RIGS
        static func crashHook(_ spec: String) -> @Sendable (FaultSite) -> Void {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            let kind = parts.first ?? "", value = parts.count > 1 ? parts[1] : ""
            let threshold = UInt64(value) ?? .max
            return { site in
                switch site {
                case .step(let name) where kind == "step" && name == value: kill(getpid(), SIGKILL)
                case .bytesWritten(let count) where kind == "bytes" && count >= threshold: kill(getpid(), SIGKILL)
                default: break
                }
            }
        }
    #endif

    /// Prints the result notices an attempt ended with (both languages) on standard error.
    static func showResultNotices(_ vehicle: Vehicle) {
        guard !vehicle.lastResultNotices.isEmpty else { return }
        let text = vehicle.lastResultNotices.map(\.text).joined(separator: "\n") + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func slots(_ map: [String: SlotName]) -> String {
        map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: " ")
    }

    static func describe(_ status: VehicleStatus) -> String {
        var text = "vehicle \(status.model) \(status.vin) — boot control: \(status.bootControl)\n"
        text += "  booted: \(slots(status.boot.booted)); next boot: \(slots(status.nextBoot))"
        if let trial = status.boot.trial {
            text += "; on trial: \(slots(trial)) (\(status.boot.triesRemaining) tries left)"
        }
        text += "\n"
        if let fallback = status.lastFallback { text += "  last boot fell back: \(fallback)\n" }
        for (ecu, software) in status.ecus.sorted(by: { $0.key < $1.key }) {
            text += "  \(ecu): \(software.version) (security version \(software.securityVersion))\n"
        }
        for (group, slots) in status.slots.sorted(by: { $0.key < $1.key }) {
            for (name, info) in slots.sorted(by: { $0.key < $1.key }) {
                text += "  slot \(group)/\(name): \(info.status.rawValue)\(info.version.map { " \($0)" } ?? "")\n"
            }
        }
        if let pending = status.pending { text += "  update \(pending.bundleId): \(pending.stage.rawValue)\n" }
        if status.readOnly == true {
            text += "  read-only directory: shown as found (not locked, no interrupted update recovered)\n"
        }
        return text.trimmingCharacters(in: .newlines)
    }
}

struct VehicleInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a simulated vehicle from a YAML (or JSON) config.")

    @Argument(help: "Vehicle directory to create.")
    var directory: String

    @Option(help: "Vehicle config (model, VIN, ECUs, slot groups); see samples/vehicle-x1.yaml.")
    var config: String

    @Option(help: "Trust store to copy in (overrides the config's `trust`).")
    var trust: String?

    @Option(
        name: .customLong("decryption-key"),
        help: "The vehicle's decryption key to copy in (overrides the config's `decryptionKey`).")
    var decryptionKey: String?

    @Option(help: "Directory of the initial slot images the config names (default: next to the config).")
    var images: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        // Validated, not repaired: a bad byte in a SWIN would otherwise be recorded as U+FFFD.
        guard let text = String(validating: try FileSystem.read(config, limit: 1 << 20), as: UTF8.self) else {
            throw OTAError(.vehicleConfigInvalid, "\(config): not UTF-8 text")
        }
        if let problem = YAMLInputCheck.problem(in: text) {
            throw OTAError(.vehicleConfigInvalid, "\(config): \(problem)")
        }
        let parsed: VehicleConfig
        do {
            if let node = try Yams.compose(yaml: text), let problem = YAMLIntegerCheck.firstAmbiguous(in: node) {
                throw OTAError(.vehicleConfigInvalid, "\(config): \(problem)")
            }
            parsed = try YAMLDecoder().decode(VehicleConfig.self, from: text)
        } catch let error as OTAError {
            throw error
        } catch {
            throw OTAError(.vehicleConfigInvalid, "\(config): \(error)")
        }
        let base = URL(fileURLWithPath: config).deletingLastPathComponent().path
        let status = try Vehicle.create(
            directory: directory, config: parsed, baseDirectory: base, trust: trust, decryptionKey: decryptionKey,
            imagesDirectory: images)
        Output.succeed(
            status, human: "created vehicle in \(directory)\n" + VehicleSupport.describe(status), json: output.json)
    }
}

/// The arguments every verb on an existing vehicle takes.
struct VehicleVerbArguments: ParsableArguments {
    @Argument(help: "Vehicle directory.")
    var directory: String

    @OptionGroup var output: OutputOptions

    /// Opens the vehicle, runs one verb, and prints `message` and the vehicle's status after it.
    func perform(_ message: String, _ verb: (Vehicle) throws(OTAError) -> Void) throws {
        let vehicle = try VehicleSupport.open(directory)
        defer { VehicleSupport.showResultNotices(vehicle) }
        try verb(vehicle)
        let status = try vehicle.status()
        Output.succeed(status, human: message + "\n" + VehicleSupport.describe(status), json: output.json)
    }
}

struct VehicleRebootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reboot",
        abstract: "Simulated power cycle: the bootloader boots the trial slots (using a try) or falls back.")

    @OptionGroup var arguments: VehicleVerbArguments

    func run() throws { try arguments.perform("rebooted") { vehicle throws(OTAError) in try vehicle.reboot() } }
}

struct VehicleActivateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Switch the boot control to an update installed with --no-activate (on trial until confirmed).")

    @OptionGroup var arguments: VehicleVerbArguments

    func run() throws {
        try arguments.perform(
            "update activated: reboot (ota vehicle reboot) and confirm (ota vehicle confirm) to commit"
        ) {
            vehicle throws(OTAError) in try vehicle.activate()
        }
    }
}

struct VehicleConfirmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confirm", abstract: "Commit the update the vehicle booted into.")

    @OptionGroup var arguments: VehicleVerbArguments

    func run() throws {
        try arguments.perform("update committed") { vehicle throws(OTAError) in try vehicle.confirmBoot() }
    }
}

struct VehicleRollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Abandon the update in progress (before it is confirmed).")

    @OptionGroup var arguments: VehicleVerbArguments

    func run() throws {
        try arguments.perform("update rolled back") { vehicle throws(OTAError) in try vehicle.rollback() }
    }
}

struct VehicleStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show boot slots, installed software and the update in progress.")

    @Argument(help: "Vehicle directory.")
    var directory: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        // Opening recovers an interrupted update, which needs the directory writable; a
        // read-only one is inspected as it is.
        let status =
            Vehicle.isWritable(directory)
            ? try VehicleSupport.open(directory).status() : try Vehicle.inspect(directory: directory)
        Output.succeed(status, human: VehicleSupport.describe(status), json: output.json)
    }
}
