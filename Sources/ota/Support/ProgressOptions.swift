import ArgumentParser
import OTACore

/// How a long command shows its progress (`--progress`): auto (a bar on standard error when it
/// is a terminal and `--json` is off), bar, json (one object per line, for agents and head units;
/// standard output keeps the command's result), none. Drawn by OTABase's `ProgressDisplay`,
/// which `ota-diff` shares.
typealias ProgressStyle = ProgressDisplay.Style

extension ProgressDisplay.Style: ExpressibleByArgument {}

/// `--progress` for commands that run long (build, deep verify, delta, install, records verify/ingest/export).
struct ProgressOptions: ParsableArguments {
    @Option(
        help:
            "Progress on standard error: auto (a bar on a terminal, unless --json), bar, json (one object per line), none."
    )
    var progress: ProgressStyle = .auto

    func display(json: Bool) -> ProgressDisplay { ProgressDisplay(style: progress, json: json) }
}
