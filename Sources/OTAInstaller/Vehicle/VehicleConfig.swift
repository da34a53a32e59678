public import Foundation
public import OTACore
public import OTARecorder

/// A vehicle as the installer knows it: identity, ECUs (with the ones this vehicle itself treats
/// as automated-driving), slot groups and boot control. `samples/vehicle-x1.yaml` is an example;
/// `ota vehicle init` stores it as `vehicle.json` in the vehicle directory.
public struct VehicleConfig: Codable, Sendable, Equatable {
    public struct ECU: Codable, Sendable, Equatable {
        public var id: String
        public var hardwareId: String
        public var slotGroup: String
        /// The vehicle's own classification: an image for this ECU needs an approval whatever
        /// the manifest's categories say.
        public var automatedDriving: Bool?
        /// Software at delivery.
        public var version: String
        public var securityVersion: UInt64
        /// Software identification numbers at delivery: GB 44496 SWIN and UNECE R156 RXSWIN.
        public var swin: String?
        public var rxswin: String?

        public init(
            id: String, hardwareId: String, slotGroup: String, automatedDriving: Bool? = nil, version: String,
            securityVersion: UInt64,
            swin: String? = nil, rxswin: String? = nil
        ) {
            self.id = id
            self.hardwareId = hardwareId
            self.slotGroup = slotGroup
            self.automatedDriving = automatedDriving
            self.version = version
            self.securityVersion = securityVersion
            self.swin = swin
            self.rxswin = rxswin
        }

        public var isAutomatedDriving: Bool { automatedDriving ?? false }
    }

    public struct SlotGroup: Codable, Sendable, Equatable {
        public var name: String
        /// Bytes per slot (the file size in the simulation).
        public var size: UInt64
        /// Slot devices; default `slots/<name>-a.img` and `-b.img` in the vehicle directory.
        public var slotA: String?
        public var slotB: String?
        /// Initial image for slot A at `ota vehicle init` (relative to the config file).
        public var image: String?

        public init(name: String, size: UInt64, slotA: String? = nil, slotB: String? = nil, image: String? = nil) {
            self.name = name
            self.size = size
            self.slotA = slotA
            self.slotB = slotB
            self.image = image
        }
    }

    public enum BootControlKind: String, Codable, Sendable, CaseIterable { case file, grub, uboot }

    public var model: String
    public var vin: String
    public var suite: Suite?
    /// Distinct release signers required (two-person rule: 2).
    public var releaseThreshold: Int?
    public var bootControl: BootControlKind?
    /// Boots a new slot set gets before the bootloader falls back.
    public var bootTries: Int?
    public var ecus: [ECU]
    public var slotGroups: [SlotGroup]
    /// Vehicle policy: a bundle installs only when the TUF repository lists it (its target
    /// entry matching the bundle: the two key hierarchies agree); `ota install --workshop`
    /// is the recorded exception. Off when absent.
    public var requireRepository: Bool?
    /// The most the clock floor may move forward on one verified repository time, in seconds
    /// (default 30 days).
    public var maximumClockStep: Int64?
    /// `ota vehicle init` only: the trust store and decryption key to copy in.
    public var trust: String?
    public var decryptionKey: String?
    /// The language the head unit shows notices in (`zh-CN`, `en`, ...); default `zh-CN`.
    public var language: String?

    public init(
        model: String, vin: String, suite: Suite? = nil, releaseThreshold: Int? = nil,
        bootControl: BootControlKind? = nil, bootTries: Int? = nil,
        ecus: [ECU], slotGroups: [SlotGroup], trust: String? = nil, decryptionKey: String? = nil,
        language: String? = nil
    ) {
        self.model = model
        self.vin = vin
        self.suite = suite
        self.releaseThreshold = releaseThreshold
        self.bootControl = bootControl
        self.bootTries = bootTries
        self.ecus = ecus
        self.slotGroups = slotGroups
        self.trust = trust
        self.decryptionKey = decryptionKey
        self.language = language
    }

    /// The notice language of this vehicle's head unit.
    public var noticeLanguage: String { language ?? "zh-CN" }

    public var threshold: Int { releaseThreshold ?? 1 }
    public var tries: Int { bootTries ?? 3 }
    public var hashAlgorithm: HashAlgorithm { (suite ?? .intl).hash }

    public func ecu(_ id: String) -> ECU? { ecus.first { $0.id == id } }
    public func group(_ name: String) -> SlotGroup? { slotGroups.first { $0.name == name } }

    /// Every problem with the configuration (empty when usable).
    public func problems() -> [String] {
        var problems: [String] = []
        if model.isEmpty { problems.append("model: empty") }
        if !ManifestRules.isPlausibleVIN(vin) { problems.append("vin: not a 17-character VIN") }
        if ecus.isEmpty { problems.append("ecus: at least one ECU") }
        if slotGroups.isEmpty { problems.append("slotGroups: at least one slot group") }
        if let threshold = releaseThreshold, threshold < 1 { problems.append("releaseThreshold: at least 1") }
        if let tries = bootTries, !(1...16).contains(tries) { problems.append("bootTries: 1...16") }
        var names = Set<String>()
        for (index, group) in slotGroups.enumerated() {
            let valid =
                !group.name.isEmpty
                && group.name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x5f }
            if !valid { problems.append("slotGroups[\(index)].name: 1 or more of a-z 0-9 _ (it names boot variables)") }
            if !names.insert(group.name).inserted {
                problems.append("slotGroups[\(index)].name: duplicate '\(group.name)'")
            }
            if group.size == 0 { problems.append("slotGroups[\(index)].size: must be positive") }
        }
        var ids = Set<String>()
        var owners: [String: String] = [:]
        for (index, ecu) in ecus.enumerated() {
            if ecu.id.isEmpty { problems.append("ecus[\(index)].id: empty") }
            if !ids.insert(ecu.id).inserted { problems.append("ecus[\(index)].id: duplicate '\(ecu.id)'") }
            if group(ecu.slotGroup) == nil {
                problems.append("ecus[\(index)].slotGroup: no slot group '\(ecu.slotGroup)'")
            }
            // The approval rule and the anti-rollback counter belong to what is written: one ECU
            // per slot group, so naming another ECU cannot reach a group under weaker rules.
            if let owner = owners[ecu.slotGroup] {
                problems.append(
                    "ecus[\(index)].slotGroup: '\(ecu.slotGroup)' already belongs to ECU \(owner); each slot group holds one ECU's software"
                )
            } else {
                owners[ecu.slotGroup] = ecu.id
            }
            if SoftwareVersion(ecu.version) == nil {
                problems.append(
                    "ecus[\(index)].version: '\(ecu.version)' is not an orderable version (N.N.N, optionally -prerelease)"
                )
            }
        }
        return problems
    }
}

/// The vehicle's state as read by its sensors when an install is requested (`--state
/// STATE.json`): checked against the manifest's preconditions.
public struct VehicleConditions: Codable, Sendable, Equatable {
    public var parked: Bool
    public var gear: String?
    public var batteryPercent: Int
    public var driving: Bool?
    public var doorsUnlockable: Bool?

    public init(
        parked: Bool, gear: String? = nil, batteryPercent: Int, driving: Bool? = nil, doorsUnlockable: Bool? = nil
    ) {
        self.parked = parked
        self.gear = gear
        self.batteryPercent = batteryPercent
        self.driving = driving
        self.doorsUnlockable = doorsUnlockable
    }
}

/// The user's answer to the notice (GB 44496: explicit confirmation before an OTA).
public struct Consent: Codable, Sendable, Equatable {
    /// The record's answer vocabulary (one set of enums from installer to export).
    public typealias Answer = ConsentAnswer
    /// The record's confirming parties.
    public typealias Party = ConfirmingParty

    public var answer: Answer
    /// The notice language shown (`zh-CN`, `en`).
    public var language: String
    public var by: Party
    public var channel: String
    public var time: Date

    public init(
        answer: Answer, language: String, by: Party = .owner, channel: String = "head-unit", time: Date = Date()
    ) {
        self.answer = answer
        self.language = language
        self.by = by
        self.channel = channel
        self.time = time
    }
}
