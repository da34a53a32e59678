import OTACore
import OTAInstaller
import Yams

/// The vehicle configuration YAML read exactly as `ota vehicle init --config` reads it (the
/// command holds this code, so the harness repeats it: the nesting and alias check, then Yams).
enum YAMLDecoderBridge {
    struct Refused: Error {}

    static func vehicleConfig(_ text: String) throws -> VehicleConfig {
        if YAMLInputCheck.problem(in: text) != nil { throw Refused() }
        return try YAMLDecoder().decode(VehicleConfig.self, from: text)
    }
}
