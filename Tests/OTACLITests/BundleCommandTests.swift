import Foundation
import OTACore
import OTADelta
import OTATestSupport
import Testing

@Suite("ota bundle and ota approve")
struct BundleCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    let keys = repository + "/keys-sample/intl"

    /// A fresh temporary directory with the sample images in `images/`; the test removes it.
    func makeImages() throws -> String {
        let directory = try CLIRunner.temporaryDirectory()
        do {
            try SampleImages.make(in: directory + "/images")
        } catch {
            CLIRunner.removeTemporaryDirectory(directory)
            throw error
        }
        return directory
    }

    /// The sample automated-driving bundle, built from `directory`'s images into it.
    func adasBundle(in directory: String) throws -> String {
        let bundle = directory + "/adas.ota"
        let build = try CLIRunner.run(
            [
                "bundle", "build", Self.repository + "/manifests/adas-automated-driving.yaml", "--images",
                directory + "/images",
            ] + signer + ["-o", bundle])
        #expect(build.status == 0, "\(build.stderr)")
        return bundle
    }

    var signer: [String] {
        [
            "--key", "\(keys)/release/signer-1.key", "--cert", "\(keys)/release/signer-1.crt", "--chain",
            "\(keys)/release/chain.pem",
        ]
    }

    @Test func `build, verify and inspect with --json and the design's exit codes`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let bundle = directory + "/ivi.ota"
        let build = try CLIRunner.run(
            [
                "bundle", "build", Self.repository + "/manifests/infotainment-full.yaml", "--images",
                directory + "/images",
            ] + signer + ["-o", bundle, "--json"])
        #expect(build.status == 0, "\(build.stderr)")
        #expect((build.json["result"] as? [String: Any])?["bundleId"] as? String == "ivi-2026.12.0")

        let verify = try CLIRunner.run(["bundle", "verify", bundle, "--trust", "\(keys)/trust", "--json"])
        #expect(verify.status == 0)
        #expect((verify.json["result"] as? [String: Any])?["contentChecked"] as? Bool == false)
        let inspect = try CLIRunner.run(["bundle", "inspect", bundle, "--json"])
        #expect(inspect.status == 0)
        #expect((inspect.json["result"] as? [String: Any])?["verified"] as? Bool == false)

        // Flip one payload byte: exit 2 with the chunk's code.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: bundle))
        bytes[bytes.count - 5000] ^= 0x55
        try bytes.write(to: URL(fileURLWithPath: bundle))
        let tampered = try CLIRunner.run(["bundle", "verify", bundle, "--trust", "\(keys)/trust", "--json"])
        #expect(tampered.status == 2)
        #expect(tampered.errorCode == "payload.chunk-hash")
    }

    /// `bytes` with an ELF file header for `machine` (62 x86-64, 183 AArch64) over its first 20
    /// bytes: what the delta encoder looks at to choose its filters.
    static func elf(_ bytes: [UInt8], machine: UInt8) -> [UInt8] {
        [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, machine, 0] + bytes.dropFirst(20)
    }

    /// An x86-64 ELF pair whose new version inserts code of calls, jumps and RIP-relative loads
    /// to a few targets: its delta patch gets body coding 5 unless told otherwise.
    static func x86Pair() -> (old: [UInt8], new: [UInt8]) {
        var generator = SeededGenerator(seed: 71)
        let old = elf((0..<(64 << 10)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, machine: 62)
        var code: [UInt8] = []
        while code.count < 60_000 {
            let forms: [[UInt8]] = [[0xE8], [0x0F, 0x84], [0x48, 0x8B, 0x05], [0x48, 0x89, 0xC7, 0x90]]
            let form = forms[Int(generator.next() % 4)]
            code += form
            if form.count < 4 {
                let target = Int32(generator.next() % 16) * 4096 + 0x40_0000
                withUnsafeBytes(of: (target - Int32(code.count + 4)).littleEndian) { code += $0 }
            }
        }
        return (old, elf(Array(old.prefix(32 << 10)) + code + old.suffix(16 << 10), machine: 62))
    }

    /// Builds a bundle whose infotainment image is a delta from the images in `directory` with
    /// `bundle build` and `flags`; the header of its patch.
    func deltaHeader(_ directory: String, flags: [String]) throws -> DeltaPatchHeader {
        try DeltaPatchHeader.decode(try deltaPatch(directory, flags: flags, whole: false))
    }

    /// As `deltaHeader`: the patch, whole or (not `whole`) at least its header.
    func deltaPatch(_ directory: String, flags: [String], whole: Bool = true) throws -> [UInt8] {
        let manifestPath = directory + "/delta.yaml"
        let text = try String(
            contentsOfFile: Self.repository + "/manifests/infotainment-full.yaml", encoding: .utf8
        ).replacingOccurrences(
            of: "    file: ivi-rootfs-2.4.0.img\n",
            with:
                "    file: ivi-rootfs-2.4.0.img\n    kind: delta\n    source: {file: ivi-rootfs-2.3.1.img, version: 2.3.1}\n"
        )
        try text.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let bundle = directory + "/delta.ota"
        let build = try CLIRunner.run(
            ["bundle", "build", manifestPath, "--images", directory + "/images"] + signer + ["-o", bundle]
                + flags)
        #expect(build.status == 0, "\(build.stderr)")
        let reader = try BundleReader(path: bundle)
        let manifest = try CanonicalJSON.decode(
            Manifest.self, from: try reader.readHead().manifestBytes, as: .manifestMalformed)
        try reader.streamPayloadsUnverifiedHead(manifest: manifest)
        var patch: [UInt8] = []
        while let stream = try reader.nextPayload() {
            guard stream.image.kind == .delta else { continue }
            let decoder = try PayloadDecoder(manifest: manifest, image: stream.image, contentKey: nil)
            while whole || patch.count < DeltaPatchHeader.byteCount {
                let more = try stream.withNextChunk { (chunk, isLast) throws(OTAError) in
                    try decoder.decode(try decoder.open(chunk, isLast: isLast), isLast: isLast) { patch += $0 }
                }
                if !more { break }
            }
            break
        }
        return patch
    }

    /// An AArch64 ELF pair whose new version inserts five bytes, copies, then inserts BL and
    /// ADRP words at a word-aligned offset: they reach the inserts stream misaligned.
    static func aarch64Pair() -> (old: [UInt8], new: [UInt8]) {
        var generator = SeededGenerator(seed: 72)
        let old = elf((0..<(64 << 10)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, machine: 183)
        var code: [UInt8] = []
        for k in 0..<20_000 {
            let target = UInt32(generator.next() % 16) * 4096 + 0x40_0000
            let pc = UInt32(k * 4)
            let word: UInt32 =
                switch generator.next() % 3 {
                case 0: 0x9400_0000 | ((target &- pc) >> 2) & 0x03FF_FFFF
                case 1: 0xF940_0000 | UInt32(generator.next() % 4096) << 10
                default: 0xD503_201F
                }
            withUnsafeBytes(of: word.littleEndian) { code += $0 }
        }
        return (
            old,
            elf(Array(old.prefix(32 << 10)) + [1, 2, 3, 4, 5] + old[(32 << 10)..<(48 << 10) - 1] + code, machine: 183)
        )
    }

    /// `--no-align-delta-inserts` reaches an AArch64 delta image's patch: the 0x20 bit by default,
    /// not with the flag.
    @Test(arguments: [[], ["--no-align-delta-inserts"]])
    func `bundle build --no-align-delta-inserts leaves the delta image's inserts unpadded`(flags: [String]) throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let (old, new) = Self.aarch64Pair()
        try Data(old).write(to: URL(fileURLWithPath: directory + "/images/ivi-rootfs-2.3.1.img"))
        try Data(new).write(to: URL(fileURLWithPath: directory + "/images/ivi-rootfs-2.4.0.img"))
        let header = try deltaHeader(directory, flags: flags)
        #expect(header.insertsAligned == flags.isEmpty, "body coding \(header.insertsFilter.map { "\($0)" } ?? "2")")
    }

    /// `--prime-delta-inserts` and `--no-split-delta-operands` reach the delta image's patch (an
    /// x86-64 program): its header has the primed bit (body coding 0x10) with the first flag and
    /// not without it, and body coding 5 unless the second says 4; `--parallel-delta-inserts`
    /// or not (a program this small is not split in halves).
    @Test(arguments: [
        [], ["--prime-delta-inserts"], ["--parallel-delta-inserts"], ["--no-split-delta-operands"],
        ["--split-delta-operands"],
        [
            "--prime-delta-inserts", "--parallel-delta-inserts", "--no-split-delta-operands",
        ],
    ])
    func `bundle build hands its delta flags to the delta image's patch`(flags: [String]) throws {
        let primed = flags.contains("--prime-delta-inserts")
        let split = !flags.contains("--no-split-delta-operands")
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let (old, new) = Self.x86Pair()
        try Data(old).write(to: URL(fileURLWithPath: directory + "/images/ivi-rootfs-2.3.1.img"))
        try Data(new).write(to: URL(fileURLWithPath: directory + "/images/ivi-rootfs-2.4.0.img"))
        let header = try deltaHeader(directory, flags: flags)
        #expect(header.insertsPrimed == primed)
        #expect(header.operandsSplit == split && header.insertsFilter == .x86_64, "\(header)")
    }

    /// `--parallel-delta-inserts` reaches the encoder: a program that inserts 2 MiB or more gets
    /// its inserts compressed in two halves (a different patch), which rebuilds the new image.
    /// Such a program is primed by default, not with `--no-prime-delta-inserts`.
    @Test func `bundle build hands --parallel-delta-inserts to the delta image's encoder`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        // Two halves from 2 MiB of inserted bytes (`PatchFrameWriter.splitInsertsMinimum`).
        let (old, new) = LoadableProgram.pair(inserting: (2 << 20) + 4096, seed: 98)
        try Data(old).write(to: URL(fileURLWithPath: directory + "/images/ivi-rootfs-2.3.1.img"))
        try Data(new).write(to: URL(fileURLWithPath: directory + "/images/ivi-rootfs-2.4.0.img"))
        // Not primed: primed inserts keep one encoder (and a program this new is primed by default).
        let one = try deltaPatch(directory, flags: ["--no-prime-delta-inserts"])
        let two = try deltaPatch(directory, flags: ["--no-prime-delta-inserts", "--parallel-delta-inserts"])
        #expect(try DeltaPatchHeader.decode(one).insertsPrimed == false)
        #expect(try DeltaPatchHeader.decode(try deltaPatch(directory, flags: [], whole: false)).insertsPrimed)
        // Compared as Bools: a failing comparison of megabytes prints them whole.
        #expect(one != two ? true : false)
        #expect(try Delta.apply(old: old, patch: two) == new ? true : false)
    }

    @Test func `a failed build leaves no output and no scratch files behind`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        try FileManager.default.removeItem(atPath: directory + "/images/ivi-rootfs-2.4.0.img")
        let result = try CLIRunner.run(
            [
                "bundle", "build", Self.repository + "/manifests/infotainment-full.yaml", "--images",
                directory + "/images",
            ] + signer + ["-o", directory + "/out.ota", "--json"])
        #expect(result.status == 1)
        #expect(result.errorCode == "io.not-found")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["images"])
    }

    @Test func `a bad manifest exits 1 and lists its problems; a wrong key exits 1`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let manifest = directory + "/bad.yaml"
        try "bundle: {id: x}\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let bad = try CLIRunner.run(
            ["bundle", "build", manifest, "--images", directory + "/images"] + signer + ["-o", directory + "/x.ota"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("bundle.campaign: missing"))
        #expect(bad.stderr.contains("targets: missing"))
        let mismatched = try CLIRunner.run([
            "bundle", "build", Self.repository + "/manifests/infotainment-full.yaml", "--images", directory + "/images",
            "--key", "\(keys)/release/signer-2.key", "--cert", "\(keys)/release/signer-1.crt", "-o",
            directory + "/y.ota", "--json",
        ])
        #expect(mismatched.status == 1)
        #expect(mismatched.errorCode == "key.certificate-mismatch")
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.ota"))
    }

    @Test func `an encrypted key takes its passphrase from a file or the environment`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let base = [
            "bundle", "build", Self.repository + "/manifests/infotainment-full.yaml", "--images", directory + "/images",
            "--key", "\(keys)/release/signer-1.encrypted.key", "--cert", "\(keys)/release/signer-1.crt", "--chain",
            "\(keys)/release/chain.pem",
        ]
        let missing = try CLIRunner.run(base + ["-o", directory + "/a.ota", "--json"])
        #expect(missing.errorCode == "key.passphrase-required")
        #expect(
            try CLIRunner.run(
                base + ["--passphrase-file", "\(keys)/release/signer-1.passphrase", "-o", directory + "/b.ota"]
            ).status == 0)
        let fromEnvironment = try CLIRunner.run(
            base + ["--passphrase-env", "OTA_KEY_PASS", "-o", directory + "/c.ota"],
            environment: ["OTA_KEY_PASS": "ota-sample-passphrase"])
        #expect(fromEnvironment.status == 0)
    }

    @Test func `approve and check an approval; a release signer's approval is refused`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let bundle = try adasBundle(in: directory)
        let approve = try CLIRunner.run([
            "approve", bundle, "--key", "\(keys)/approval/approval-signer.key", "--cert",
            "\(keys)/approval/approval-signer.crt",
            "--approval-id", "MIIT-AD-2026-0042", "--models", "X1", "-o", directory + "/ok.approval",
        ])
        #expect(approve.status == 0, "\(approve.stderr)")
        let okRun = try CLIRunner.run([
            "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--approval", directory + "/ok.approval", "--model",
            "X1",
        ])
        #expect(okRun.status == 0, "\(okRun.stderr)")
        let otherModel = try CLIRunner.run([
            "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--approval", directory + "/ok.approval", "--model",
            "X9", "--json",
        ])
        #expect(otherModel.status == 2)
        #expect(otherModel.errorCode == "approval.model-mismatch")
        #expect(
            try CLIRunner.run(
                ["approve", bundle] + signer + [
                    "--approval-id", "MIIT-AD-2026-0042", "--models", "X1", "-o", directory + "/self.approval",
                ]
            ).status == 0)
        let selfApproved = try CLIRunner.run([
            "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--approval", directory + "/self.approval",
            "--model", "X1", "--json",
        ])
        #expect(selfApproved.status == 2)
        #expect(selfApproved.errorCode == "approval.untrusted")
        let expired = try CLIRunner.run([
            "approve", bundle, "--key", "\(keys)/approval/approval-signer.key", "--cert",
            "\(keys)/approval/approval-signer.crt",
            "--approval-id", "MIIT-AD-2026-0042", "--models", "X1", "--valid-until", "2020-01-01T00:00:00Z", "-o",
            directory + "/old.approval", "--json",
        ])
        #expect(expired.status == 1)
        #expect(expired.errorCode == "usage.valid-until")
        let notTargeted = try CLIRunner.run([
            "approve", bundle, "--key", "\(keys)/approval/approval-signer.key", "--cert",
            "\(keys)/approval/approval-signer.crt",
            "--approval-id", "MIIT-AD-2026-0042", "--models", "X7", "-o", directory + "/x.approval", "--json",
        ])
        #expect(notTargeted.errorCode == "usage.models")
        // An approval number the manifest does not name is refused before anything is signed.
        let unnamed = try CLIRunner.run([
            "approve", bundle, "--key", "\(keys)/approval/approval-signer.key", "--cert",
            "\(keys)/approval/approval-signer.crt",
            "--approval-id", "MIIT-AD-1", "--models", "X1", "-o", directory + "/unnamed.approval", "--json",
        ])
        #expect(unnamed.status == 1 && unnamed.errorCode == "usage.approval-id")
        #expect(!FileManager.default.fileExists(atPath: directory + "/unnamed.approval"))
    }

    @Test func `a refused approval, CRL or trust update names its file`() throws {
        let directory = try makeImages()
        defer { CLIRunner.removeTemporaryDirectory(directory) }
        let bundle = try adasBundle(in: directory)
        let garbage = directory + "/garbage.input"
        try Data("not what it claims to be\n".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(
            try CLIRunner.run(
                ["approve", bundle] + signer + [
                    "--approval-id", "MIIT-AD-2026-0042", "--models", "X1", "-o", directory + "/self.approval",
                ]
            ).status == 0)
        let malformed = try CLIRunner.run([
            "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--approval", garbage, "--model", "X1",
        ])
        #expect(malformed.status == 2 && malformed.stderr.contains(garbage), "\(malformed.stderr)")
        let untrusted = try CLIRunner.run([
            "bundle", "verify", bundle, "--trust", "\(keys)/trust", "--approval", directory + "/self.approval",
            "--model", "X1",
        ])
        #expect(
            untrusted.status == 2 && untrusted.stderr.contains(directory + "/self.approval"), "\(untrusted.stderr)")
        #expect(
            try CLIRunner.run([
                "vehicle", "init", directory + "/car", "--config", "\(Self.repository)/samples/vehicle-x1.yaml",
                "--images", directory + "/images",
            ]).status == 0)
        try Data(
            #"{"parked": true, "gear": "P", "batteryPercent": 80, "driving": false, "doorsUnlockable": true}"#.utf8
        ).write(to: URL(fileURLWithPath: directory + "/state.json"))
        let install = try CLIRunner.run([
            "install", "--workshop", bundle, "--vehicle", directory + "/car", "--state", directory + "/state.json",
            "--consent", "yes", "--approval", garbage,
        ])
        #expect(install.status == 2 && install.stderr.contains(garbage), "\(install.stderr)")
        try FileManager.default.copyItem(atPath: "\(keys)/trust", toPath: directory + "/trust")
        let crl = try CLIRunner.run(["trust", "apply", garbage, "--trust", directory + "/trust"])
        #expect(crl.status != 0 && crl.stderr.contains(garbage), "\(crl.stderr)")
        let update = directory + "/update.json"
        try Data(
            #"{"payloadType": "application/vnd.ota.trust-update.v1+json", "payload": "!", "signatures": []}"#.utf8
        ).write(to: URL(fileURLWithPath: update))
        let badUpdate = try CLIRunner.run(["trust", "apply", update, "--trust", directory + "/trust"])
        #expect(badUpdate.status == 2 && badUpdate.stderr.contains(update), "\(badUpdate.stderr)")
        let vehicleCRL = try CLIRunner.run(["vehicle", "trust", directory + "/car", garbage])
        #expect(vehicleCRL.status != 0 && vehicleCRL.stderr.contains(garbage), "\(vehicleCRL.stderr)")
    }
}
