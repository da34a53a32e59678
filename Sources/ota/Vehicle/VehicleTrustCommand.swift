import ArgumentParser
import OTACore
import OTAInstaller

/// `ota vehicle trust VEHICLE FILE`: the vehicle applies a signed trust update or newer CRLs
/// (journalled in its protected state, recorded in its log).
struct VehicleTrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Apply a signed trust update, or newer CRLs, to a vehicle's trust store (power-loss safe, recorded)."
    )

    @Argument(help: "The vehicle directory.")
    var vehicle: String

    @Argument(help: "A signed trust update (JSON) or CRLs (PEM, with issuing CA certificates, or one DER CRL).")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let target = try VehicleSupport.open(vehicle)
        let change = try namingInput(file, families: trustInputFamilies) { () throws(OTAError) in
            try target.applyTrust(try FileSystem.read(file, limit: TrustUpdate.maximumSize), source: file)
        }
        Output.succeed(change, human: TrustApplyCommand.describe(change, store: "\(vehicle)/trust"), json: output.json)
    }
}
