import ArgumentParser

/// `ota bundle ...`: the release engineer's commands.
struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Build, co-sign, re-wrap, verify and inspect update bundles.",
        subcommands: [
            BundleBuildCommand.self, BundleSignCommand.self, BundleRewrapCommand.self, BundleVerifyCommand.self,
            BundleInspectCommand.self,
        ]
    )
}
