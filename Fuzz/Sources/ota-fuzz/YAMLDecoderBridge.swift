import OTAInstaller
import Yams

/// The vehicle configuration YAML decoded exactly as `ota vehicle init --config` does.
enum YAMLDecoderBridge {
    static func vehicleConfig(_ text: String) throws -> VehicleConfig {
        try YAMLDecoder().decode(VehicleConfig.self, from: text)
    }
}
