import OTACore
import OTAInstaller

/// The vehicle configuration, both ways it is read: the YAML that `ota vehicle init --config`
/// decodes (the same `YAMLDecoder` call as the command), and the stored `vehicle.json` that
/// `Vehicle(directory:)` decodes; each then checked with `problems()`. The same bytes also go
/// through the reader of the vehicle readings (`ota install --state`), the one lenient JSON
/// reader (`CanonicalJSON.decodeInput`).
struct VehicleConfigTarget: FuzzTarget {
    static let name = "vehicle-config"
    static let summary =
        "vehicle config: YAML as ota vehicle init reads it; vehicle.json; problems(); --state readings (decodeInput)"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        if let config = try? YAMLDecoderBridge.vehicleConfig(text) { _ = config.problems() }
        if let config = try? CanonicalJSON.decode(VehicleConfig.self, from: input, as: .vehicleConfigMalformed) {
            _ = config.problems()
        }
        // The vehicle readings of `ota install --state`: unsigned JSON, numbers in any form.
        _ = try? CanonicalJSON.decodeInput(VehicleConditions.self, from: input, as: .vehicleStateMalformed)
    }
}
