import ArgumentParser
import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// `ota`: build, sign, verify and install secure over-the-air update bundles, and keep the
/// records regulators ask for.
@main
struct OTACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ota",
        abstract: "Secure over-the-air updates for vehicles: bundles, deltas, installs and records.",
        discussion: """
            Exit codes: 0 success; 1 usage or I/O error; 2 rejected by verification or policy.
            Every command takes --json for machine-readable output.
            """,
        version: OTAVersion.current,
        subcommands: [
            KeysCommand.self, TrustCommand.self, BundleCommand.self, ApproveCommand.self, DeltaCommand.self,
            VehicleCommand.self, InstallCommand.self, RepoCommand.self, AgentCommand.self, RecordsCommand.self,
            FleetCommand.self, ErrorsCommand.self,
        ]
    )

    /// Parses, runs, and maps every failure to the design's exit codes (ArgumentParser's own
    /// default for usage errors is 64; ours is 1).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = arguments.contains("--json")
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch let error as OTAError {
            Output.fail(error, json: json)
            Glibc.exit(Output.exitStatus(for: error.kind))
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            Output.fail(OTAError(.usageInvalid, Self.usageMessage(for: error)), json: json)
            Glibc.exit(1)
        }
    }

    /// ArgumentParser's message without its own `Error: ` prefix (ours is `ota: error:`).
    static func usageMessage(for error: any Error) -> String {
        let message = fullMessage(for: error)
        return message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
    }
}
