import ArgumentParser
import OTACore

/// `ota trust ...`: trust stores over a vehicle's lifetime (signed updates, CRL refreshes).
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Make, apply and show trust-store updates (anchors per role, CRLs, version).",
        subcommands: [TrustUpdateCommand.self, TrustApplyCommand.self, TrustShowCommand.self]
    )
}

/// Splits `ROLE=VALUE` option values.
enum RoleValue {
    static func parse(_ text: String, option: String) throws(OTAError) -> (TrustRole, String) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let role = TrustRole(rawValue: parts[0]), !parts[1].isEmpty else {
            throw OTAError(
                .usageRole,
                "\(option): '\(text)' is not ROLE=VALUE with ROLE one of \(TrustRole.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return (role, parts[1])
    }
}
