import Foundation
import OTACore
import OTAInstaller
import OTARecorder
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Power-loss safety: the real `ota` process is SIGKILLed (by itself, at `OTA_CRASH_AT`) at every
/// journal and boot-control step and at byte offsets spread over the slot writes; after each
/// kill the vehicle must boot the old software or the complete new one in every group, never a
/// mix, and no security-version counter may be ahead of what would boot. Then a restarted
/// installer settles the update and the vehicle reaches the new software.
@Suite("Crash injection")
struct CrashInjectionTests {
    static var executable: String {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products, products.deletingLastPathComponent()]
        where FileManager.default.isExecutableFile(atPath: candidate.path + "/ota") {
            return candidate.path + "/ota"
        }
        return products.path + "/ota"
    }

    /// Runs `ota` with `OTA_CRASH_AT` (posix_spawn and waitpid directly: Foundation's Process
    /// is not reliable when several threads spawn at once); returns whether it died of SIGKILL.
    static func runKilled(_ arguments: [String], crashAt: String) throws -> Bool {
        var environment = ProcessInfo.processInfo.environment
        environment["OTA_CRASH_AT"] = crashAt
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return signaled && (status & 0x7f) == SIGKILL
    }

    /// Starts `ota` and SIGKILLs it from outside after `delay` seconds; returns whether the
    /// kill landed before it finished.
    static func runKilledFromOutside(_ arguments: [String], after delay: Double) throws -> Bool {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp =
            ProcessInfo.processInfo.environment.filter { $0.key != "OTA_CRASH_AT" }.map {
                strdup("\($0.key)=\($0.value)")
            } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        usleep(useconds_t(delay * 1_000_000))
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == SIGKILL
    }

    struct World {
        let fixture: InstallerFixture
        let bundle: String
        let stateFile: String
        let old: [String]
        let new: [String]

        init(compression: String, delta: Bool = false) throws {
            fixture = try InstallerFixture(imageSize: 512 * 1024)
            let specs = (0..<2).map {
                InstallerFixture.ImageSpec(group: $0, compression: compression, delta: delta && $0 == 0)
            }
            bundle = try fixture.bundle(try fixture.manifest(images: specs), encrypted: true, chunkSize: 4096)
            stateFile = fixture.directory + "/state.json"
            try Data(
                #"{"parked": true, "gear": "P", "batteryPercent": 90, "driving": false, "doorsUnlockable": true}"#.utf8
            ).write(
                to: URL(fileURLWithPath: stateFile))
            let made = fixture
            old = try (0..<2).map { try made.imageHash("old-\($0).img") }
            new = try (0..<2).map { try made.imageHash("new-\($0).img") }
        }

        /// A fresh copy of a template vehicle (made once per boot control: creating one copies the
        /// trust store with an fsync per file, which would dominate the test's time).
        func vehicle(_ boot: VehicleConfig.BootControlKind, tries: Int = 2) throws -> String {
            let template = "\(fixture.directory)/template-\(boot.rawValue)-\(tries)"
            if !FileManager.default.fileExists(atPath: template) {
                let made = try fixture.vehicle(
                    fixture.config(bootControl: boot, tries: tries), name: "staging-\(boot.rawValue)-\(tries)")
                try FileManager.default.moveItem(atPath: made, toPath: template)
            }
            let path = "\(fixture.directory)/vehicle-\(UUID().uuidString)"
            try FileManager.default.copyItem(atPath: template, toPath: path)
            return path
        }

        var installArguments: (String) -> [String] {
            { vehicle in ["install", bundle, "--vehicle", vehicle, "--state", stateFile, "--consent", "yes"] }
        }

        /// The invariant, read from disk as the crash left it (no recovery): every group boots
        /// old or every group boots new, and the counters are not ahead of what boots.
        func checkInvariant(_ vehicle: String, _ label: String) throws {
            let boot = try InstallerFixture.rawBoot(vehicle)
            for (what, slots) in [("next boot", boot.nextBoot), ("running", boot.booted)] {
                let hashes = try (0..<2).map {
                    try fixture.slotContentHash(vehicle, group: $0, slot: slots["group\($0)"] ?? .a)
                }
                #expect(hashes == old || hashes == new, "\(label): \(what) is a mix of old and new software")
                if what == "next boot" {
                    let ceiling: UInt64 = hashes == new ? 6 : 5
                    let state = try InstallerFixture.rawState(vehicle)
                    for ecu in ["ECU0", "ECU1"] {
                        #expect(
                            (state.ecus[ecu]?.securityVersion ?? 0) <= ceiling,
                            "\(label): \(ecu)'s counter is ahead of what boots")
                    }
                }
            }
        }

        /// Opens a vehicle in this process, waiting out a lock briefly held by a sibling
        /// worker's child between its fork and exec (it inherits our descriptors until exec).
        func open(_ vehicle: String) throws -> Vehicle {
            try Vehicle(directory: vehicle, options: .init(lockTimeout: 10))
        }

        /// Restarts the installer (recovery), checks again, and carries the update to the end.
        func finish(_ vehicle: String, _ label: String) throws {
            var status = try open(vehicle).status()
            try checkInvariant(vehicle, label + " after recovery")
            if status.pending == nil && status.ecus["ECU0"]?.securityVersion == 5 {
                let report = try open(vehicle).install(
                    bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
                #expect(
                    report.bytesWritten == UInt64(2 * fixture.imageSize),
                    "\(label): the retry did not rewrite the slots in full")
            } else if status.pending?.stage == .installed {
                try open(vehicle).activate()
            }
            status = try open(vehicle).status()
            if status.pending?.stage == .activated {
                if !status.boot.isBootedOnTrial { try open(vehicle).reboot() }
                try open(vehicle).confirmBoot()
            }
            status = try open(vehicle).status()
            #expect(
                status.pending == nil && status.ecus["ECU0"]?.securityVersion == 6
                    && status.ecus["ECU1"]?.version == "2.0.0", "\(label): not finished")
            let hashes = try (0..<2).map {
                try fixture.slotContentHash(vehicle, group: $0, slot: status.nextBoot["group\($0)"] ?? .a)
            }
            #expect(hashes == new, "\(label): does not boot the new software at the end")
        }
    }

    static let installSteps = [
        "journal.writing", "journal.installed", "journal.activating", "boot.trial-set", "journal.activated",
    ]
    static let confirmSteps = ["journal.committing", "boot.committed", "journal.committed"]
    static let rollbackSteps = ["journal.rolling-back", "boot.rolled-back", "journal.abandoned"]

    @Test
    func
        `killed at every journal step and at 212 byte offsets of full and delta installs, the vehicle boots old or new, never a mix`()
        throws
    {
        var kills = 0
        let started = Date()
        let xz = try World(compression: "xz")
        for boot in VehicleConfig.BootControlKind.allCases {
            // Every journal and boot-control step of install, confirm and rollback.
            for step in Self.installSteps {
                let vehicle = try xz.vehicle(boot)
                let killed = try Self.runKilled(xz.installArguments(vehicle), crashAt: "step:\(step)")
                #expect(killed, "install did not reach \(step)")
                kills += killed ? 1 : 0
                try xz.checkInvariant(vehicle, "install \(step) (\(boot))")
                try xz.finish(vehicle, "install \(step) (\(boot))")
            }
            for step in Self.confirmSteps + Self.rollbackSteps {
                let vehicle = try xz.vehicle(boot)
                try Vehicle(directory: vehicle).install(
                    bundle: xz.bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
                try Vehicle(directory: vehicle).reboot()
                let confirming = Self.confirmSteps.contains(step)
                let killed = try Self.runKilled(
                    ["vehicle", confirming ? "confirm" : "rollback", vehicle], crashAt: "step:\(step)")
                #expect(killed, "\(confirming ? "confirm" : "rollback") did not reach \(step)")
                kills += killed ? 1 : 0
                try xz.checkInvariant(vehicle, "\(step) (\(boot))")
                let status = try Vehicle(directory: vehicle).status()
                try xz.checkInvariant(vehicle, "\(step) (\(boot)) after recovery")
                if confirming {
                    #expect(
                        status.pending == nil || status.pending?.stage == .activated,
                        "\(step): unexpected \(String(describing: status.pending?.stage))")
                } else {
                    #expect(
                        status.pending == nil && status.nextBoot == ["group0": .a, "group1": .a],
                        "\(step): rollback not completed on restart")
                    #expect(status.ecus["ECU0"]?.securityVersion == 5)
                }
                try xz.finish(vehicle, "\(step) (\(boot))")
            }
            // The bootloader's fallback, killed as the installer records and settles it.
            let vehicle = try xz.vehicle(boot, tries: 1)
            try Vehicle(directory: vehicle).install(
                bundle: xz.bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
            try Vehicle(directory: vehicle).reboot()
            let killed = try Self.runKilled(["vehicle", "reboot", vehicle], crashAt: "step:journal.abandoned")
            kills += killed ? 1 : 0
            try xz.checkInvariant(vehicle, "fallback (\(boot))")
            #expect(try Vehicle(directory: vehicle).status().pending == nil)
            #expect(
                try InstallerFixture.records(vehicle).contains { $0.errorCode == "boot.fallback" },
                "the fallback was not recorded")
        }

        // A delta (group0, OTADelta) and a full image (group1) in one bundle: every install step,
        // and byte offsets in the delta's output and across the full image.
        let delta = try World(compression: "xz", delta: true)
        for boot in [VehicleConfig.BootControlKind.file, .grub] {
            for step in Self.installSteps {
                let vehicle = try delta.vehicle(boot)
                let killed = try Self.runKilled(delta.installArguments(vehicle), crashAt: "step:\(step)")
                #expect(killed, "delta install did not reach \(step)")
                kills += killed ? 1 : 0
                try delta.checkInvariant(vehicle, "delta install \(step) (\(boot))")
                try delta.finish(vehicle, "delta install \(step) (\(boot))")
            }
        }
        let size = UInt64(delta.fixture.imageSize)
        var deltaOffsets: [UInt64] = []
        for offset in [1, size / 2, size, size + 1, size + 200_000, size + 300_000, 2 * size - 1] {
            let vehicle = try delta.vehicle(deltaOffsets.count % 2 == 0 ? .file : .grub)
            let killed = try Self.runKilled(delta.installArguments(vehicle), crashAt: "bytes:\(offset)")
            #expect(killed, "delta install was not killed at byte \(offset)")
            kills += killed ? 1 : 0
            deltaOffsets.append(offset)
            try delta.checkInvariant(vehicle, "delta byte \(offset)")
            try delta.finish(vehicle, "delta byte \(offset)")
        }
        let stepKills = kills

        // Byte offsets spread over both slot writes (1 MiB in 4 KiB pieces): each lands in a different piece.
        let plain = try World(compression: "none")
        let total = UInt64(2 * plain.fixture.imageSize)
        let step = total / 210
        // Templates, made before the workers start.
        for boot in VehicleConfig.BootControlKind.allCases { _ = try plain.vehicle(boot) }
        let workers = 4
        let counts = Mutex([Int](repeating: 0, count: workers))
        let group = DispatchGroup()
        for worker in 0..<workers {
            DispatchQueue.global().async(group: group) {
                for index in stride(from: 1 + worker, through: 205, by: workers) {
                    let offset = UInt64(index) * step - UInt64(index * 37 % 1000)
                    let boot = VehicleConfig.BootControlKind.allCases[index % 3]
                    do {
                        let vehicle = try plain.vehicle(boot)
                        let killed = try Self.runKilled(plain.installArguments(vehicle), crashAt: "bytes:\(offset)")
                        #expect(killed, "install was not killed at byte \(offset)")
                        if killed { counts.withLock { $0[worker] += 1 } }
                        try plain.checkInvariant(vehicle, "byte \(offset)")
                        #expect(try InstallerFixture.rawState(vehicle).pending?.stage == .writing)
                        try plain.finish(vehicle, "byte \(offset)")
                        #expect(
                            try InstallerFixture.records(vehicle).contains { $0.errorCode == "install.interrupted" })
                        try? FileManager.default.removeItem(atPath: vehicle)
                    } catch {
                        Issue.record("byte \(offset): \(error)")
                    }
                }
            }
        }
        group.wait()
        kills += counts.withLock { $0.reduce(0, +) }
        print(
            "crash injection: \(kills) SIGKILLs (\(stepKills) on full and delta installs at journal/boot steps and delta byte offsets, \(kills - stepKills) at full-image byte offsets) in \(Int(Date().timeIntervalSince(started))) s"
        )
        #expect(kills >= 200)
    }

    @Test func `killed from outside at random instants, the vehicle boots old or new, never a mix`() throws {
        let world = try World(compression: "xz", delta: true)
        // Time undisturbed installs (the fastest of three) and spread the kills over the first 80 %.
        var durations: [Double] = []
        for _ in 0..<3 {
            let timing = try world.vehicle(.file)
            let started = Date()
            #expect(try !Self.runKilled(world.installArguments(timing), crashAt: ""))
            durations.append(Date().timeIntervalSince(started))
        }
        let duration = max(0.02, 0.8 * (durations.min() ?? 0.1))
        var random: UInt64 = 0x5eed_07a
        var landed = 0
        for index in 0..<24 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let delay = duration * Double(random >> 11) / Double(1 << 53)
            let vehicle = try world.vehicle(index % 2 == 0 ? .file : .grub)
            let killed = try Self.runKilledFromOutside(world.installArguments(vehicle), after: delay)
            landed += killed ? 1 : 0
            try world.checkInvariant(vehicle, String(format: "outside kill at %.3f s", delay))
            try world.finish(vehicle, String(format: "outside kill at %.3f s", delay))
        }
        print(
            "crash injection from outside: \(landed) of 24 kills landed, at random instants in the first \(String(format: "%.2f", duration)) s of an install"
        )
        #expect(landed >= 12)
    }
}
