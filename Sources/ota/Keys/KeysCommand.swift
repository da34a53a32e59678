import ArgumentParser

/// `ota keys ...`: key and certificate management.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, inspect, request, issue, renew and revoke keys and certificates.",
        subcommands: [
            KeysInitCommand.self, KeysVerifyCommand.self, KeysCSRCommand.self, KeysIssueCommand.self,
            KeysRenewCommand.self, KeysRevokeCommand.self,
        ]
    )
}
