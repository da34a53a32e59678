import ArgumentParser

/// `ota keys ...`: key and certificate management.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create and inspect keys and certificates.",
        subcommands: [KeysInitCommand.self, KeysVerifyCommand.self]
    )
}
