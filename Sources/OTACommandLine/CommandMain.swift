package import ArgumentParser
import OTACore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a root command the way every `ota` executable does: parses, runs, and maps every failure
/// to the design's exit codes (ArgumentParser's own default for usage errors is 64; ours is 1).
package enum CommandMain {
    package static func run<Root: ParsableCommand>(_ root: Root.Type, arguments: [String]) -> Never {
        let json = arguments.contains("--json")
        refuseArgumentsNotUTF8(json: json)
        do {
            var command = try root.parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch let error as OTAError {
            Output.fail(error, json: json)
            Glibc.exit(Output.exitStatus(for: error.kind))
        } catch {
            if root.exitCode(for: error) == .success {
                print(root.fullMessage(for: error))
                Glibc.exit(0)
            }
            Output.fail(OTAError(.usageInvalid, usageMessage(root.fullMessage(for: error))), json: json)
            Glibc.exit(1)
        }
    }

    /// Exits 1 with `usage.invalid` when an argument is not UTF-8 (`ArgumentEncoding`): before
    /// parsing, and before `ota` hands its arguments, repaired, to a sibling executable.
    package static func refuseArgumentsNotUTF8(json: Bool) {
        guard let invalid = ArgumentEncoding.firstInvalid() else { return }
        Output.fail(invalid, json: json)
        Glibc.exit(Output.exitStatus(for: invalid.kind))
    }

    /// ArgumentParser's message without its own `Error: ` prefix (ours is `ota: error:`).
    static func usageMessage(_ message: String) -> String {
        message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
    }
}
