import OTACommandLine

// The command-line support `ota` shares with `ota-fleet` (OTACommandLine), under the names every
// command here uses.
typealias Output = OTACommandLine.Output
typealias OutputOptions = OTACommandLine.OutputOptions
