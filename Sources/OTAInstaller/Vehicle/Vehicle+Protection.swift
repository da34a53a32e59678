import OTACore

/// The vehicle's own configuration (which ECUs are automated-driving, the release threshold, the
/// model) is bound to what `ota vehicle init` wrote: its digest is sealed in the protected store,
/// and a `vehicle.json` that no longer matches is refused on open (`vehicle.config-tampered`),
/// before it is parsed.
extension Vehicle {
    static let configSealName = "config.seal"

    /// Seals `configBytes` (the exact bytes of `vehicle.json`).
    static func sealConfig(_ configBytes: [UInt8], hash: HashAlgorithm, store: any ProtectedStore) throws(OTAError) {
        let digest = try Hasher.hash(hash, configBytes)
        try store.store(configSealName, Array("\(hash.rawValue) \(digest.hex)\n".utf8))
    }

    /// Checks `configBytes` against the sealed digest.
    static func checkConfig(_ configBytes: [UInt8], path: String, store: any ProtectedStore) throws(OTAError) {
        guard let sealed = try store.load(configSealName) else {
            throw OTAError(
                .vehicleConfigTampered,
                "\(path): no configuration seal in \(store.description); the vehicle was not made by ota vehicle init")
        }
        let parts = String(decoding: sealed, as: UTF8.self).trimmingCharacters(in: .newlines).split(separator: " ")
        guard parts.count == 2, let hash = HashAlgorithm(rawValue: String(parts[0])),
            let expected = Hex.decode(String(parts[1]))
        else {
            throw OTAError(.vehicleConfigTampered, "\(path): the configuration seal is malformed")
        }
        guard ConstantTime.equals(try Hasher.hash(hash, configBytes).bytes, expected) else {
            throw OTAError(
                .vehicleConfigTampered,
                "\(path): the configuration was changed after ota vehicle init (its digest no longer matches the sealed one)"
            )
        }
    }
}
