internal import OTABase

/// Vehicle state required before and during the install.
public struct Preconditions: Codable, Sendable, Equatable {
    public var parked: Bool
    /// Required gear, e.g. `P`; nil for no requirement.
    public var gear: String?
    /// Battery charge (%) that covers the install and a recovery.
    public var minimumBatteryPercent: Int
    public var noDrivingDuringInstall: Bool
    public var skilledPersonRequired: Bool
    public var doorsUnlockable: Bool

    public init(
        parked: Bool, gear: String?, minimumBatteryPercent: Int, noDrivingDuringInstall: Bool,
        skilledPersonRequired: Bool, doorsUnlockable: Bool
    ) {
        self.parked = parked
        self.gear = gear
        self.minimumBatteryPercent = minimumBatteryPercent
        self.noDrivingDuringInstall = noDrivingDuringInstall
        self.skilledPersonRequired = skilledPersonRequired
        self.doorsUnlockable = doorsUnlockable
    }
}
