import ArgumentParser

/// `ota fleet ...`: the fleet service lives in its own executable, `ota-fleet`, so the vehicle-side
/// `ota` links no server stack (Hummingbird, SwiftNIO, postgres-nio, swift-crypto). `OTACommand.main`
/// hands every `ota fleet` command line to `SiblingExecutable.fleet` before parsing; this entry only lists
/// the command in `ota --help`.
struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "The fleet service: record uploads from vehicles, compliance queries and exports (runs ota-fleet).",
        discussion: """
            `ota fleet ARGS...` runs `ota-fleet ARGS...` in place of this process (exec: same
            process, exit status and signals), found beside this `ota` or on PATH.
            See `ota fleet --help` and `ota fleet serve --help`.
            """)

    func run() throws {
        try SiblingExecutable.fleet.exec([])
    }
}
