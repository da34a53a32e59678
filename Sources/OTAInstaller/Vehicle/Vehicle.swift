import Foundation
public import OTACore
public import OTARecorder

#if canImport(Glibc)
    import Glibc
#endif

/// A vehicle's installer: opens the vehicle directory (config, trust store, slots, boot
/// control, recorder, journal), settles any update a power loss interrupted, and offers the
/// agent's verbs: `check`, `install`, `activate`, `confirmBoot`, `rollback`, `status`.
///
/// ```swift
/// let vehicle = try Vehicle(directory: "/var/lib/ota")
/// let decision = try vehicle.check(bundle: path)
/// // show decision.notice["zh-CN"], ask the user ...
/// try vehicle.install(bundle: path, expecting: decision, conditions: sensors, consent: answer)
/// // reboot; after the new software came up healthy:
/// try vehicle.confirmBoot()
/// ```
///
/// One `Vehicle` at a time per directory (an exclusive lock is held while it lives).
public final class Vehicle {
    public struct Options {
        /// The clock's base; the installer never lets it go below the newest signed time seen.
        public var time: any TimeSource
        /// What `time` is, as records name it (`gnss`, `ntp`, `rtc`, ...).
        public var clockSource: ClockSource
        /// Defaults to the tamper-evident log in `records/` (`ChainedInstallRecorder`).
        public var recorder: (any InstallRecorder)?
        /// Also writes every record as a JSON line to `records.jsonl` (a debug sink, not
        /// evidence: it is not chained or signed).
        public var debugRecordLines: Bool
        /// Applies delta images (OTADelta's streaming decoder by default); nil refuses them
        /// (`install.delta-unavailable`).
        public var deltaApplier: (any DeltaApplier)?
        /// Fault injection for crash tests; called after every durable step and slot write.
        package var faultHook: (@Sendable (FaultSite) -> Void)?
        /// Seconds to wait for another installer's lock on the vehicle (0: refuse at once). A
        /// short wait also rides out a lock briefly shared with a child process between its
        /// fork and exec (descriptors are close-on-exec, but not before the exec).
        public var lockTimeout: Double
        /// Where the counters, clock floor and configuration seal live; nil: `MACFileStore` over
        /// `private/` with `keys/seal.key` (a TPM or RPMB backend plugs in here).
        public var protectedStore: (any ProtectedStore)?

        public init(
            time: any TimeSource = SystemTime(), clockSource: ClockSource = .rtc,
            recorder: (any InstallRecorder)? = nil,
            debugRecordLines: Bool = false, deltaApplier: (any DeltaApplier)? = OTADeltaApplier(),
            lockTimeout: Double = 2,
            protectedStore: (any ProtectedStore)? = nil
        ) {
            self.protectedStore = protectedStore
            self.lockTimeout = lockTimeout
            self.time = time
            self.clockSource = clockSource
            self.recorder = recorder
            self.debugRecordLines = debugRecordLines
            self.deltaApplier = deltaApplier
            self.faultHook = nil
        }
    }

    package let layout: VehicleLayout
    public let config: VehicleConfig
    public let bootControl: any BootControl
    /// Replaced only when the device key rotates (`rotateDeviceKey`).
    var recorder: any InstallRecorder
    let options: Options
    let privateDirectory: PrivateDirectory
    let journal: StateJournal
    /// The counters, clock floor and configuration seal (integrity-protected).
    public let protectedStore: any ProtectedStore
    var state: VehicleState
    /// What the TUF repository says about the next bundle checked or installed (set by the
    /// agent after it verified the target entry); see `Vehicle+Repository.swift`.
    public var repositoryEntry: RepositoryEntry?
    /// A workshop install without a repository entry (recorded as such).
    public var workshopInstall = false
    /// The install attempt under way in this process (its facts so far).
    var attempt: UpgradeAttempt?
    /// The result notices of the last attempt this process closed (both languages), for the
    /// head unit or the command line to show.
    public internal(set) var lastResultNotices: [ResultNotice] = []

    /// Opens a vehicle directory made by `Vehicle.create` and recovers an interrupted update.
    /// The configuration must match the digest sealed at init, and the state its seal
    /// (`vehicle.config-tampered`, `vehicle.state-tampered`).
    public init(directory: String, options: Options = Options()) throws(OTAError) {
        layout = VehicleLayout(directory: directory)
        guard FileSystem.exists(layout.config) else {
            throw OTAError(.vehicleNotFound, "\(directory): not a vehicle directory (no vehicle.json)")
        }
        self.options = options
        privateDirectory = try PrivateDirectory(path: layout.privateDirectory, create: false)
        try privateDirectory.lock(timeout: options.lockTimeout)
        protectedStore = try Self.openProtectedStore(options, layout: layout, privateDirectory: privateDirectory)
        config = try Self.sealedConfig(layout, store: protectedStore)
        let kind = config.bootControl ?? .file
        bootControl = layout.bootControl(kind)
        // The record log has its own writer lock; take it only once the installer's is held.
        if options.recorder == nil { try Self.settleDeviceKey(layout) }
        if let given = options.recorder {
            recorder = given
        } else {
            recorder = try Self.defaultRecorder(layout: layout, config: config, debugLines: options.debugRecordLines)
        }
        journal = StateJournal(store: protectedStore)
        let loaded: VehicleState?
        do throws(OTAError) {
            loaded = try journal.load()
        } catch {
            // A tampered state is refused, and the refusal recorded (the log is still usable).
            try recorder.record(
                UpgradeRecord(
                    time: RecordTime(options.time.now(), source: options.clockSource), vin: config.vin,
                    step: .stateCheck,
                    outcome: Self.outcome(of: error), errorCode: error.code.rawValue,
                    reasons: UpgradeAttempt.reasons(error)))
            throw error
        }
        guard let loaded else {
            throw OTAError(.vehicleStateMissing, "\(directory): no installer state (run ota vehicle init)")
        }
        state = loaded
        try recoverTrust()
        try recordBoots()
        try recover()
    }

    /// The store of the seals and the state: the one `options` gives, else the MAC-sealed files
    /// of the private directory.
    static func openProtectedStore(
        _ options: Options, layout: VehicleLayout, privateDirectory: PrivateDirectory
    ) throws(OTAError) -> any ProtectedStore {
        if let given = options.protectedStore { return given }
        return MACFileStore(directory: privateDirectory, key: try MACFileStore.Key(contentsOf: layout.sealKey))
    }

    /// The configuration, checked against the digest sealed at init and against today's rules.
    static func sealedConfig(_ layout: VehicleLayout, store: any ProtectedStore) throws(OTAError) -> VehicleConfig {
        let configBytes = try FileSystem.read(layout.config, limit: 1 << 20)
        try checkConfig(configBytes, path: layout.config, store: store)
        let config = try CanonicalJSON.decode(VehicleConfig.self, from: configBytes, as: .vehicleConfigMalformed)
        // A configuration sealed before a rule existed is held to it too (one ECU per slot group).
        let problems = config.problems()
        guard problems.isEmpty else {
            throw OTAError(
                .vehicleConfigInvalid,
                "\(layout.config): \(problems.count) problem(s): \(problems.joined(separator: "; "))")
        }
        return config
    }

    /// The installer's clock: never earlier than the newest signed time seen.
    var time: any TimeSource { MonotonicTime(base: options.time, floor: state.timeFloor) }

    /// Creates a simulated vehicle: trust store and key copied in, A/B slots per group (slot A
    /// holding the initial image when the config names one), boot control on A, state, records.
    @discardableResult
    /// Relative paths in the config are resolved against `baseDirectory` (the config file's
    /// folder); initial slot images against `imagesDirectory` when given. The protected state
    /// goes to `protectedStore`, or to a `MACFileStore` with a new seal key in `keys/seal.key`.
    public static func create(
        directory: String, config: VehicleConfig, baseDirectory: String, trust: String? = nil,
        decryptionKey: String? = nil, imagesDirectory: String? = nil, protectedStore: (any ProtectedStore)? = nil
    ) throws(OTAError) -> VehicleStatus {
        let problems = config.problems()
        guard problems.isEmpty else {
            throw OTAError(.vehicleConfigInvalid, "vehicle config: " + problems.joined(separator: "; "))
        }
        let layout = VehicleLayout(directory: directory)
        if FileSystem.exists(layout.config) {
            throw OTAError(.vehicleExists, "\(directory): already a vehicle directory")
        }
        // A failed init leaves nothing behind: what this call made is removed, the topmost
        // directory it had to create (parents too), or inside a directory that was there, the
        // entries that were not (a half-made vehicle could neither be opened nor made again).
        var made = directory
        while case let parent = PathComponents(made).parent, !parent.isEmpty, parent != made,
            !FileSystem.exists(parent)
        {
            made = parent
        }
        let existing = FileSystem.exists(directory) ? try FileSystem.listing(directory) : nil
        do throws(OTAError) {
            return try populate(
                layout: layout, config: config, baseDirectory: baseDirectory, trust: trust,
                decryptionKey: decryptionKey,
                imagesDirectory: imagesDirectory, protectedStore: protectedStore)
        } catch {
            if let existing {
                let kept = Set(existing.names)
                for name in (try? FileSystem.listing(directory).names) ?? [] where !kept.contains(name) {
                    try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
                }
            } else {
                try? FileManager.default.removeItem(atPath: made)
            }
            throw error
        }
    }

    private static func populate(
        layout: VehicleLayout, config: VehicleConfig, baseDirectory: String, trust: String?, decryptionKey: String?,
        imagesDirectory: String?, protectedStore: (any ProtectedStore)?
    ) throws(OTAError) -> VehicleStatus {
        let directory = layout.directory
        func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : "\(baseDirectory)/\(path)" }
        try FileSystem.createDirectory(directory)
        for folder in [layout.slots, layout.boot] { try FileSystem.createDirectory(folder) }
        try FileSystem.createDirectory(layout.keys, mode: 0o700)

        if let source = trust ?? config.trust.map(resolve) {
            try copyTree(from: source, to: layout.trust)
        } else {
            try FileSystem.createDirectory(layout.trust)
        }
        if let key = decryptionKey ?? config.decryptionKey.map(resolve) {
            // Checked as the file given, before it is copied (an error named the copy).
            let bytes = try FileSystem.read(key, limit: 1 << 20)
            _ = try PrivateKey(encoded: bytes, source: key)
            try AtomicFileWriter.write(bytes, to: layout.decryptionKey, mode: 0o600)
        }

        var slots: [String: [String: SlotInfo]] = [:]
        var active: [String: SlotName] = [:]
        for group in config.slotGroups {
            for name in SlotName.allCases where !FileSystem.exists(layout.slot(group, name)) {
                try SlotDevice.createFile(path: layout.slot(group, name), capacity: group.size)
            }
            var infoA = SlotInfo.empty
            if let image = group.image {
                let input = try InputFile(
                    path: image.hasPrefix("/") ? image : imagesDirectory.map { "\($0)/\(image)" } ?? resolve(image))
                let size = UInt64(try input.size())
                guard size <= group.size else {
                    throw OTAError(
                        .vehicleConfigInvalid, "\(image): larger than slot group \(group.name)'s \(group.size) bytes")
                }
                let device = try SlotDevice(path: layout.slot(group, .a), writable: true)
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                var offset: UInt64 = 0
                while true {
                    let count = try input.read(into: &buffer)
                    if count == 0 { break }
                    try device.write(buffer[0..<count], at: offset)
                    offset += UInt64(count)
                }
                try device.sync()
                let ecu = config.ecus.first { $0.slotGroup == group.name }
                infoA = SlotInfo(
                    status: .valid, version: ecu?.version, securityVersion: ecu?.securityVersion,
                    hash: try device.hash(config.hashAlgorithm, size: size).hex, hashAlgorithm: config.hashAlgorithm,
                    size: size)
            }
            slots[group.name] = ["a": infoA, "b": .empty]
            active[group.name] = .a
        }
        var stored = config
        stored.trust = nil
        stored.decryptionKey = nil
        let configBytes = try CanonicalJSON.encode(stored)
        try AtomicFileWriter.write(configBytes, to: layout.config, mode: 0o644)
        let kind = config.bootControl ?? .file
        let boot = layout.bootControl(kind)
        try boot.store(BootState(active: active))
        let directoryHandle = try PrivateDirectory(path: layout.privateDirectory, create: true)
        let store: any ProtectedStore
        if let protectedStore {
            store = protectedStore
        } else {
            let key = try MACFileStore.Key.generate(config.hashAlgorithm)
            try key.write(to: layout.sealKey)
            store = MACFileStore(directory: directoryHandle, key: key)
        }
        try sealConfig(configBytes, hash: config.hashAlgorithm, store: store)
        try sealTrust(layout: layout, store: store)
        let ecus = Dictionary(
            uniqueKeysWithValues: config.ecus.map {
                ($0.id, InstalledSoftware(version: $0.version, securityVersion: $0.securityVersion, bundle: nil))
            })
        try StateJournal(store: store).save(
            VehicleState(sequence: 0, ecus: ecus, slots: slots, pending: nil, timeFloor: Date(timeIntervalSince1970: 0))
        )
        // The software at delivery: the first entries of the register (R156 §7.1.2).
        try defaultRecorder(layout: layout, config: config, debugLines: false).record(
            UpgradeRecord(
                time: RecordTime(Date(), source: .rtc), vin: config.vin, step: .vehicleInit, outcome: .success,
                ecus: config.ecus.map { ecu in
                    ECUFacts(
                        ecu: ecu.id, hardwarePart: ecu.hardwareId, versionAfter: ecu.version,
                        securityVersionAfter: ecu.securityVersion,
                        rxswinAfter: ecu.rxswin, swinAfter: ecu.swin)
                }
            ).fitted())
        return try Vehicle(directory: directory, options: Options(protectedStore: protectedStore)).status()
    }

    /// The tamper-evident log in `records/` (hash-chained, checkpoints signed by the device
    /// key); with `debugLines`, also `records.jsonl` (a debug sink, not evidence). A vehicle
    /// whose device key cannot sign (an X25519 key-agreement key) has no tamper-evident log:
    /// it refuses to record, and so to install (`records.key`).
    static func defaultRecorder(layout: VehicleLayout, config: VehicleConfig, debugLines: Bool) throws(OTAError)
        -> any InstallRecorder
    {
        guard FileSystem.exists(layout.decryptionKey) else {
            throw OTAError(.recordsKey, "\(layout.directory): no device key (keys/device.key) to sign the record log")
        }
        let key = try PrivateKey(contentsOf: layout.decryptionKey)
        let chained = try ChainedInstallRecorder(
            directory: layout.recordLog, vin: config.vin, signer: key, hash: (config.suite ?? .intl).hash)
        return debugLines ? RecorderChain([chained, JSONLinesRecorder(path: layout.records)]) : chained
    }

    private static func copyTree(from source: String, to destination: String) throws(OTAError) {
        guard FileSystem.isDirectory(source) else {
            throw OTAError(.ioNotFound, "\(source): trust store directory not found")
        }
        try FileSystem.createDirectory(destination)
        for name in try FileSystem.list(source) {
            let from = "\(source)/\(name)", to = "\(destination)/\(name)"
            if FileSystem.isDirectory(from) {
                try copyTree(from: from, to: to)
            } else {
                try AtomicFileWriter.write(try FileSystem.read(from, limit: 16 << 20), to: to)
            }
        }
    }

    /// Configuration, boot control, committed software, slots and the update in progress.
    public func status() throws(OTAError) -> VehicleStatus {
        let boot = try bootControl.load()
        return VehicleStatus(
            model: config.model, vin: config.vin, bootControl: bootControl.description, boot: boot,
            nextBoot: boot.nextBoot,
            ecus: state.ecus, slots: state.slots, pending: state.pending, lastFallback: boot.lastFallback)
    }

    // MARK: - Journal, records, faults

    func save(_ next: VehicleState, step: String) throws(OTAError) {
        try journal.save(next)
        state = next
        state.sequence += 1
        options.faultHook?(.step(step))
    }

    func fault(_ site: FaultSite) { options.faultHook?(site) }

    func slotDevice(_ group: String, _ name: SlotName, writable: Bool) throws(OTAError) -> SlotDevice {
        guard let configured = config.group(group) else {
            throw OTAError(.targetSlotGroup, "no slot group '\(group)' on this vehicle")
        }
        return try SlotDevice(path: layout.slot(configured, name), writable: writable)
    }
}
