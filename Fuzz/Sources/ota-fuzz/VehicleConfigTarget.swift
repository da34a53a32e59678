import OTACore
import OTAInstaller

/// The vehicle configuration, both ways it is read: the YAML that `ota vehicle init --config`
/// decodes (the same `YAMLDecoder` call as the command), and the stored `vehicle.json` that
/// `Vehicle(directory:)` decodes; each then checked with `problems()`.
struct VehicleConfigTarget: FuzzTarget {
    static let name = "vehicle-config"
    static let summary = "vehicle config: YAMLDecoder().decode(VehicleConfig) as ota vehicle init; CanonicalJSON vehicle.json; problems()"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        if let config = try? YAMLDecoderBridge.vehicleConfig(text) { _ = config.problems() }
        if let config = try? CanonicalJSON.decode(VehicleConfig.self, from: input, as: .vehicleConfigMalformed) { _ = config.problems() }
    }
}
