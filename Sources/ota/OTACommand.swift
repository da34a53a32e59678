import ArgumentParser
import OTACommandLine
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

    /// Parses, runs, and maps every failure to the design's exit codes. `ota fleet ...` becomes
    /// `ota-fleet ...` (exec, same process): the vehicle-side binary carries no server.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        CommandMain.refuseArgumentsNotUTF8(json: arguments.contains("--json"))
        if arguments.first == FleetCommand.configuration.commandName {
            do {
                try SiblingExecutable.fleet.exec(Array(arguments.dropFirst()))
            } catch {
                Output.fail(error, json: arguments.contains("--json"))
                Glibc.exit(Output.exitStatus(for: error.kind))
            }
        }
        // Not before the exec: ota-fleet stops on SIGTERM its own way.
        InterruptCleanup.startCommandProcess()
        CommandMain.run(Self.self, arguments: arguments)
    }
}
