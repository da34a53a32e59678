public import OTACore

/// Where the installer keeps the few documents whose integrity the vehicle's safety rests on:
/// the state journal (anti-rollback counters, the clock floor, the update in progress), the seal
/// of the vehicle's own configuration (which ECUs are automated-driving) and the trust store's
/// version. A backend hands back exactly what was last stored under a name through it, or
/// refuses (`vehicle.state-tampered`); it never returns something it did not store.
///
/// `MACFileStore` is the file backend (an HMAC under a device-held key); a TPM (a key that never
/// leaves it, an NV counter against replay) or eMMC RPMB (replay-protected blocks) backend
/// implements the same two calls and is given to the installer in `Vehicle.Options`.
public protocol ProtectedStore: AnyObject {
    /// What the backend is, for status output (`file+hmac-sha256 /var/lib/ota/private`).
    var description: String { get }

    /// The bytes last stored under `name`; nil when nothing was ever stored there. Throws
    /// `vehicle.state-tampered` when what is there was not stored through this store.
    func load(_ name: String) throws(OTAError) -> [UInt8]?

    /// Replaces `name` atomically and durably: after a power loss at any instant, `load`
    /// returns the old bytes or the new ones.
    func store(_ name: String, _ bytes: [UInt8]) throws(OTAError)
}
