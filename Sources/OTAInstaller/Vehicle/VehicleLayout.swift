/// Where a vehicle directory keeps things (the simulation; on a vehicle the slot paths point at
/// partitions and the boot control at the bootloader's storage).
///
/// ```
/// DIR/vehicle.json            the configuration
/// DIR/trust/<role>/anchors    trust store (release, approval, ... roles)
/// DIR/keys/device.key         the vehicle's device key: decryption, record log, TLS (0600, in a 0700 directory)
/// DIR/keys/device.crt         its certificate (vehicle role), when there is one
/// DIR/keys/seal.key           the key sealing the protected state (MACFileStore)
/// DIR/slots/<group>-a.img     slot devices
/// DIR/boot/bootstate.json     boot control (or boot/grubenv, boot/uboot.env)
/// DIR/private/state.json      the installer's journal and counters, sealed (0700, never followed)
/// DIR/private/config.seal     the digest of vehicle.json, sealed at init
/// DIR/records/                the tamper-evident record log (OTARecorder), signed with the device key
/// DIR/records.jsonl           the same records as JSON lines, only with `debugRecordLines` (not evidence)
/// ```
package struct VehicleLayout: Sendable {
    package let directory: String

    package init(directory: String) { self.directory = directory }

    package var config: String { "\(directory)/vehicle.json" }
    package var trust: String { "\(directory)/trust" }
    package var keys: String { "\(directory)/keys" }
    package var decryptionKey: String { "\(keys)/device.key" }
    /// The device key's certificate (`vehicle` role), when the vehicle has one: the agent's
    /// default mutual-TLS identity.
    package var deviceCertificate: String { "\(keys)/device.crt" }
    package var sealKey: String { "\(keys)/seal.key" }
    package var slots: String { "\(directory)/slots" }
    package var boot: String { "\(directory)/boot" }
    package var privateDirectory: String { "\(directory)/private" }
    package var records: String { "\(directory)/records.jsonl" }
    package var recordLog: String { "\(directory)/records" }

    package func bootControlPath(_ kind: VehicleConfig.BootControlKind) -> String {
        switch kind {
        case .file: "\(boot)/bootstate.json"
        case .grub: "\(boot)/grubenv"
        case .uboot: "\(boot)/uboot.env"
        }
    }

    /// The boot-control backend a config names.
    package func bootControl(_ kind: VehicleConfig.BootControlKind) -> any BootControl {
        switch kind {
        case .file: FileBootControl(path: bootControlPath(kind))
        case .grub: GrubEnvironmentBootControl(path: bootControlPath(kind))
        case .uboot: UBootEnvironmentBootControl(path: bootControlPath(kind))
        }
    }

    package func slot(_ group: VehicleConfig.SlotGroup, _ name: SlotName) -> String {
        let configured = name == .a ? group.slotA : group.slotB
        if let configured { return configured.hasPrefix("/") ? configured : "\(directory)/\(configured)" }
        return "\(slots)/\(group.name)-\(name.rawValue).img"
    }
}
