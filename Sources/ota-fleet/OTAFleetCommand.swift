import ArgumentParser
import OTACommandLine
import OTACore

/// `ota-fleet`: the fleet service (record uploads, compliance queries and exports), apart from
/// `ota` so that the vehicle-side binary carries no server stack. `ota fleet ARGS...` runs
/// `ota-fleet ARGS...`.
@main
struct OTAFleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ota-fleet",
        abstract: "The fleet service: record uploads from vehicles, compliance queries and exports.",
        discussion: """
            Also reached as `ota fleet ...`. Exit codes: 0 success; 1 usage or I/O error;
            2 rejected by verification or policy. Every command takes --json.
            """,
        version: OTAVersion.current,
        subcommands: [FleetServe.self])

    static func main() {
        CommandMain.run(Self.self, arguments: Array(CommandLine.arguments.dropFirst()))
    }
}
