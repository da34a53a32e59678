public import OTACore

#if canImport(Glibc)
    import Glibc
#endif

extension Vehicle {
    /// Whether the installer could work in `directory`: its private directory can be written. On
    /// a read-only mount (an image under inspection, a vehicle's root after a fault) it cannot
    /// even take its lock.
    public static func isWritable(_ directory: String) -> Bool {
        access(VehicleLayout(directory: directory).privateDirectory, W_OK) == 0
    }

    /// The status of a vehicle read without changing it, for a directory the installer cannot
    /// write (`isWritable`). The configuration and the state are checked against their seals as
    /// `init` checks them, but no lock is taken and nothing is recovered or recorded: an
    /// interrupted update shows as `pending`, and the boot state is the boot control's as it is.
    public static func inspect(directory: String, options: Options = Options()) throws(OTAError) -> VehicleStatus {
        let layout = VehicleLayout(directory: directory)
        guard FileSystem.exists(layout.config) else {
            throw OTAError(.vehicleNotFound, "\(directory): not a vehicle directory (no vehicle.json)")
        }
        let privateDirectory = try PrivateDirectory(path: layout.privateDirectory, create: false)
        let store = try openProtectedStore(options, layout: layout, privateDirectory: privateDirectory)
        let config = try sealedConfig(layout, store: store)
        guard let state = try StateJournal(store: store).load() else {
            throw OTAError(.vehicleStateMissing, "\(directory): no installer state (run ota vehicle init)")
        }
        let bootControl = layout.bootControl(config.bootControl ?? .file)
        let boot = try bootControl.load()
        var status = VehicleStatus(
            model: config.model, vin: config.vin, bootControl: bootControl.description, boot: boot,
            nextBoot: boot.nextBoot, ecus: state.ecus, slots: state.slots, pending: state.pending,
            lastFallback: boot.lastFallback)
        status.readOnly = true
        return status
    }
}
