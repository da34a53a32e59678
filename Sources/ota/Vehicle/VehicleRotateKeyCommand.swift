import ArgumentParser
import OTACore
import OTAInstaller

/// `ota vehicle rotate-key VEHICLE --key NEW.key --cert NEW.crt --reason TEXT`: the vehicle
/// takes a new device key certified by the vehicle CA (from `ota keys csr` and `ota keys issue
/// --role vehicle`); its record log announces the new key in an entry signed by the old one and
/// continues under the new key.
struct VehicleRotateKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract:
            "Hand the vehicle over to a new device key (log, mutual TLS, decryption), announced in the log by the old key.",
        discussion: """
            The flow (docs/INSTALLER.md, "Device key rotation"):
              ota keys csr --new-key /tmp/car/keys/device-2.key --type p256 --cn "Vehicle Device VIN" --org OEM -o device-2.csr   (on the vehicle)
              ota keys issue device-2.csr --role vehicle --ca-key CA.key --ca-cert CA.crt -o device-2.crt                      (at the vehicle CA)
              ota vehicle rotate-key /tmp/car --key /tmp/car/keys/device-2.key --cert device-2.crt --reason "scheduled renewal"
            """
    )

    @Argument(help: "The vehicle directory.")
    var vehicle: String

    @Option(help: "The new device key (PEM), made on the vehicle.")
    var key: String

    @Option(help: "Its certificate from the vehicle CA (PEM; further certificates in the file are its chain).")
    var cert: String

    @Option(help: "Why the key changes (recorded in the log).")
    var reason: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let certificates = try Certificate.load(contentsOf: cert)
        let rotation = try VehicleSupport.open(vehicle).rotateDeviceKey(
            to: try PrivateKey(contentsOf: key), certificate: certificates[0], chain: Array(certificates.dropFirst()),
            reason: reason)
        Output.succeed(
            rotation,
            human:
                "device key rotated at log entry \(rotation.entry): \(rotation.oldKey.prefix(16))… → \(rotation.newKey.prefix(16))… (\(rotation.certificate), valid until \(Timestamp.format(rotation.notAfter)))",
            json: output.json)
    }
}
