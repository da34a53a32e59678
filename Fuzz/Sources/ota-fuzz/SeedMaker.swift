import Foundation
import OTABuilder
import OTACore
import OTADelta
import OTARecorder

/// Makes the seed corpora (`Fuzz/corpus/NAME/`) and the fixtures (`Fuzz/fixtures/`) from the
/// repository's samples with the real builders: small bundles of both suites (4 KiB chunks,
/// encrypted and not), their head entries, an approval, xz and LZMA2 streams, delta patches
/// against `DeltaTarget.old`, a record log, the sample vehicle configuration and manifests.
/// `ota-fuzz --make-seeds Fuzz [NAME...]` regenerates them (signatures differ each time, so the
/// envelope and recipients seeds go with the fixtures: regenerate those only all together).
struct SeedMaker {
    let directory: String
    /// Harnesses whose seeds are written (all when empty): regenerating one corpus leaves the
    /// others' bytes alone (signatures differ on every run).
    var only: Set<String> = []

    static let vin = "LSVX1A2B3C4D56789"

    /// A record for the sample log; `seq` varies its fields.
    static func record(step: RecordStep, seq: Int) -> UpgradeRecord {
        let time = RecordTime(milliseconds: 1_795_000_000_000 + Int64(seq) * 60_000, source: .test)
        return UpgradeRecord(
            time: time, vin: vin, attempt: "fuzz\(seq / 5)", phase: .install, step: step,
            outcome: seq % 3 == 2 ? .rejected : .success,
            errorCode: seq % 3 == 2 ? "signature.threshold" : nil,
            reasons: seq % 3 == 2 ? [RecordReason(code: "signature.threshold", message: "1 of 2 signers")] : [],
            update: UpdateFacts(
                bundle: "fuzz-bundle-intl", campaign: "CAMP-FUZZ", manifestDigest: String(repeating: "cd", count: 32),
                categories: [.safety],
                references: [.init(kind: .filing, number: "MIIT-OTA-2026-0001", authority: "MIIT")],
                signers: [.init(subject: "CN=Release Signer 1", keyID: String(repeating: "5e", count: 32))]),
            ecus: [
                ECUFacts(
                    ecu: "IVI", hardwarePart: "IVI-HW-3", kind: .full, versionBefore: "2.3.1", versionAfter: "2.4.0",
                    securityVersionBefore: 11, securityVersionAfter: 12, rxswinBefore: "R10-IVI-0023",
                    rxswinAfter: "R10-IVI-0024",
                    swinBefore: "SWIN-IVI-2.3.1", swinAfter: "SWIN-IVI-2.4.0",
                    imageHashBefore: String(repeating: "a1", count: 32),
                    imageHashAfter: String(repeating: "b2", count: 32))
            ],
            preconditions: PreconditionReadings(parked: true, gear: "P", batteryPercent: 78),
            notice: NoticeShown(digest: String(repeating: "ab", count: 32), language: "en"),
            confirmation: Confirmation(party: .owner, channel: "hmi", answer: .accepted, at: time),
            started: time, finished: time, durationMs: Int64(1000 * seq))
    }

    func makeAll() throws(OTAError) {
        if only.isEmpty || only.contains(TUFTarget.name) { try makeTUF() }
        if only.isEmpty || only.contains(TrustUpdateTarget.name) { try makeTrustUpdates() }
        // These seeds need none of the bundles built below.
        if !only.isEmpty, only.isSubset(of: [TUFTarget.name, TrustUpdateTarget.name]) { return }
        let work = try FuzzFixtures.scratch("seeds")
        try makeBundles(work)
        try makeCompression()
        try makeDelta()
        try makeRecords(work)
        try makeSources()
    }

    private func save(_ bytes: [UInt8], _ target: String, _ name: String) throws(OTAError) {
        guard only.isEmpty || only.contains(target) else { return }
        let folder = "\(directory)/corpus/\(target)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try AtomicFileWriter.write(bytes, to: "\(folder)/\(name)")
    }

    // MARK: Bundles and their parts

    private func manifestText(suite: Suite, images: [(name: String, compression: String)]) -> String {
        var text = """
            schema: ota-manifest/1
            bundle: {id: fuzz-bundle-\(suite.rawValue), campaign: CAMP-FUZZ, created: 2026-11-01T00:00:00Z, expires: 2036-11-01T00:00:00Z, suite: \(suite.rawValue)}
            targets: {models: [X1], vins: [\(Self.vin)]}
            images:

            """
        for (index, image) in images.enumerated() {
            text += """
                  - {name: \(image.name), file: \(image.name).bin, ecu: ECU\(index), hardwareIds: [HW-\(index)], slotGroup: g\(index), version: 1.\(index).0,
                     securityVersion: \(index + 1), compression: \(image.compression), swin: {before: SW-\(index)-A, after: SW-\(index)-B}, categories: [safety]}

                """
        }
        text += """
            regulatory: [{type: filing, number: MIIT-OTA-2026-0001, authority: MIIT}, {type: ad-approval, number: MIIT-AD-2026-0042, authority: MIIT}]
            impact: {affectedSystems: [infotainment], typeApprovedSystems: [], addedFunctions: [], alteredFunctions: []}
            notice:
              zh-CN: {purpose: 更新, content: 修复, expectedDurationMinutes: 5, functionsUnavailable: [], precautions: [], impact: 无}
              en: {purpose: Update, content: Fixes, expectedDurationMinutes: 5, functionsUnavailable: [], precautions: [], impact: none}
            preconditions: {parked: true, gear: P, minimumBatteryPercent: 30, noDrivingDuringInstall: true, skilledPersonRequired: false, doorsUnlockable: true}
            recovery: rollback

            """
        return text
    }

    private static func image(size: Int, seed: UInt32) -> [UInt8] {
        var state = seed | 1
        return (0..<size).map { index in
            if (index / 1024) % 3 == 0 { return 0 }
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return (index / 1024) % 3 == 1 ? UInt8(truncatingIfNeeded: state) : UInt8(truncatingIfNeeded: index / 16)
        }
    }

    private func signer(_ suite: Suite, _ name: String) throws(OTAError) -> SignerIdentity {
        let pki = FuzzFixtures.pki(suite)
        return try SignerIdentity.load(
            key: "\(pki)/release/\(name).key", certificate: "\(pki)/release/\(name).crt",
            chain: "\(pki)/release/chain.pem", passphrase: nil)
    }

    private func build(
        _ work: String, suite: Suite, encrypted: Bool, images: [(name: String, compression: String, size: Int)]
    ) throws(OTAError) -> String {
        let label = "\(suite.rawValue)-\(encrypted ? "encrypted" : "plain")"
        let folder = "\(work)/\(label)"
        try FileSystem.createDirectory(folder)
        for (index, image) in images.enumerated() {
            try AtomicFileWriter.write(
                Self.image(size: image.size, seed: UInt32(index + 7)), to: "\(folder)/\(image.name).bin")
        }
        try AtomicFileWriter.write(
            Array(manifestText(suite: suite, images: images.map { ($0.name, $0.compression) }).utf8),
            to: "\(folder)/manifest.yaml")
        let recipients =
            encrypted
            ? [try Certificate.load(contentsOf: "\(FuzzFixtures.pki(suite))/vehicle/fleet-recipient.crt")[0]] : []
        let output = "\(work)/\(label).ota"
        _ = try BundleBuilder.build(
            BundleBuilder.Request(
                manifestPath: "\(folder)/manifest.yaml", imagesDirectory: folder, signer: try signer(suite, "signer-1"),
                recipients: recipients,
                outputPath: output, chunkSize: 4096, xzPreset: 1, threads: 1,
                now: Date(timeIntervalSince1970: 1_793_491_200)))
        return output
    }

    private func makeBundles(_ work: String) throws(OTAError) {
        try FileSystem.createDirectory("\(directory)/fixtures")
        let specs: [(Suite, Bool, [(name: String, compression: String, size: Int)])] = [
            (.intl, true, [("app", "xz", 9000), ("cfg", "none", 9000)]),
            (.gm, true, [("bcm", "xz", 6000)]),
            (.intl, false, [("tbox", "xz", 5000)]),
        ]
        for (suite, encrypted, images) in specs {
            let path = try build(work, suite: suite, encrypted: encrypted, images: images)
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let bytes = try FileSystem.read(path)
            try save(bytes, BundleTarget.name, "\(name).ota")
            try save(bytes, TarFramingTarget.name, "\(name).tar")
            let head = try BundleReader(path: path).readHead()
            try save(head.manifestBytes, ManifestTarget.name, "\(name).json")
            try save(try head.envelope.encoded(), EnvelopeTarget.name, "\(name).json")
            if encrypted {
                try save(try head.recipients.encoded(), RecipientsTarget.name, "\(name).json")
                if only.isEmpty {
                    try AtomicFileWriter.write(
                        head.manifestBytes, to: "\(directory)/fixtures/manifest-\(suite.rawValue).json")
                }
                // Co-signed by a second signer: two signatures for the threshold.
                _ = try BundleRewriter.cosign(path: path, signer: try signer(suite, "signer-2"))
                let cosigned = try BundleReader(path: path).readHead()
                try save(try cosigned.envelope.encoded(), EnvelopeTarget.name, "\(name)-cosigned.json")
                let approvalSigner = try SignerIdentity.load(
                    key: "\(FuzzFixtures.pki(suite))/approval/approval-signer.key",
                    certificate: "\(FuzzFixtures.pki(suite))/approval/approval-signer.crt",
                    chain: nil, passphrase: nil)
                let approval = "\(work)/\(name).approval"
                _ = try ApprovalIssuer.approve(
                    bundlePath: path, signer: approvalSigner, approvalID: "MIIT-AD-2026-0042", models: ["X1"],
                    validFrom: Date(timeIntervalSince1970: 1_793_491_200),
                    validUntil: Date(timeIntervalSince1970: 1_956_528_000),
                    outputPath: approval, now: Date(timeIntervalSince1970: 1_793_491_200))
                let approvalBytes = try FileSystem.read(approval)
                try save(approvalBytes, ApprovalTarget.name, "\(name).approval")
                let signed = try SignedApproval.decode(approvalBytes)
                try save(
                    Array(Data(base64Encoded: signed.payload) ?? Data()), ApprovalTarget.name, "\(name)-payload.json")
            }
        }
        // The smallest framing cases: an empty archive and one tiny entry.
        try save([UInt8](repeating: 0, count: 1024), TarFramingTarget.name, "empty.tar")
        try save(Self.tinyTar(), TarFramingTarget.name, "one-entry.tar")
    }

    /// A ustar archive of one 5-byte file, by hand.
    static func tinyTar() -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (index, byte) in text.utf8.enumerated() { header[offset + index] = byte }
        }
        put("hello.txt", at: 0)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put("00000000005", at: 124)
        put("00000000000", at: 136)
        put("        ", at: 148)
        put("0", at: 156)
        put("ustar", at: 257)
        put("00", at: 263)
        let sum = header.reduce(0) { $0 + Int($1) }
        let octal = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - octal.count) + octal, at: 148)
        header[154] = 0
        var data = Array("hello".utf8)
        data += [UInt8](repeating: 0, count: 512 - data.count)
        return header + data + [UInt8](repeating: 0, count: 1024)
    }

    // MARK: Compression

    private func makeCompression() throws(OTAError) {
        let text = Array(
            String(repeating: "ota fuzz seed: the quick brown fox jumps over the lazy dog\n", count: 40).utf8)
        let binary = Self.image(size: 6000, seed: 3)
        try save(try XZEncoder.compress(text, preset: 0), XZTarget.name, "text-preset0.xz")
        try save(try XZEncoder.compress(binary, preset: 6), XZTarget.name, "binary-preset6.xz")
        try save(try XZEncoder.compress([], preset: 1), XZTarget.name, "empty.xz")
        // Two concatenated streams (the decoder takes one stream: the second is trailing data).
        try save(
            try XZEncoder.compress(Array(text.prefix(100))) + XZEncoder.compress(Array(text.prefix(50))), XZTarget.name,
            "two-streams.xz")

        // LZMA2 pieces: exponent byte (0 -> 4 KiB), then per piece count/4 (u16), length (u16), bytes.
        func piece(_ chunk: [UInt8], _ encoder: LZMA2StreamEncoder) throws(OTAError) -> [UInt8] {
            var piece: [UInt8] = []
            let outcome: Result<Void, OTAError> = chunk.withUnsafeBytes { raw in
                do throws(OTAError) {
                    try encoder.update(raw) { piece += $0 }
                    try encoder.flush { piece += $0 }
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try outcome.get()
            let quarter = UInt16(chunk.count / 4)
            let length = UInt16(piece.count)
            return [UInt8(quarter & 0xff), UInt8(quarter >> 8), UInt8(length & 0xff), UInt8(length >> 8)] + piece
        }
        let settings = LZMA2Settings(preset: 1, dictionarySize: 4096)
        let encoder = try LZMA2StreamEncoder(settings)
        var seed: [UInt8] = [0]
        for chunk in [Array(text.prefix(800)), Array(binary.prefix(1200)), Array(text.suffix(400))] {
            seed += try piece(chunk, encoder)
        }
        try save(seed, LZMA2Target.name, "three-pieces")
        // One stream from three encoders, as `ota delta create --parallel-inserts` writes the
        // inserts: the second starts with the first's last bytes as its preset dictionary (a
        // chunk resetting the state only), the third with none (a dictionary reset).
        let first = Array(text.prefix(800)) + Array(binary.prefix(1200))
        seed = [0] + (try piece(first, try LZMA2StreamEncoder(settings)))
        let history = Array(first.suffix(1024))
        let second: Result<LZMA2StreamEncoder, OTAError> = history.withUnsafeBytes { bytes in
            do throws(OTAError) {
                return .success(try LZMA2StreamEncoder(settings, presetDictionary: bytes))
            } catch {
                return .failure(error)
            }
        }
        seed += try piece(Array(binary.prefix(1200).suffix(600)) + Array(text.prefix(200)), try second.get())
        seed += try piece(Array(text.suffix(400)), try LZMA2StreamEncoder(settings))
        try save(seed, LZMA2Target.name, "second-encoders")
    }

    // MARK: Delta

    private func makeDelta() throws(OTAError) {
        var new = DeltaTarget.old
        for index in stride(from: 3000, to: 3400, by: 1) { new[index] &+= 3 }
        new.replaceSubrange(9000..<9100, with: Array(repeating: 0x5a, count: 300))
        new += Array("appended tail".utf8)
        let patch = try Delta.diff(old: DeltaTarget.old, new: new)
        try save([0] + patch, DeltaTarget.name, "mode0-patch")
        // Mode 0 with a recompressed-streams block (body compression bit 0x80): a zlib stream of
        // one fixed-Huffman block of literals inserted into the new image (the old image's own
        // stream is unchanged, so the block names no old stream) ...
        let text = Array(String(repeating: "the slot holds the update image; ", count: 60).utf8)
        var withStream = new
        withStream.insert(contentsOf: DeltaTarget.literalZlibStream(text), at: 10_000)
        try save([0] + Delta.diff(old: DeltaTarget.old, new: withStream), DeltaTarget.name, "mode0-patch-recompressed")
        // ... and the old image's stream changed: the block names it, and the decoder puffs it.
        let oldStream = DeltaTarget.literalZlibStream(DeltaTarget.oldStreamText)
        let streamStart = DeltaTarget.old.count - oldStream.count
        var changedText = DeltaTarget.oldStreamText
        changedText.replaceSubrange(400..<420, with: Array("the new slot's image".utf8))
        var changedStream = DeltaTarget.old
        changedStream.replaceSubrange(
            streamStart..<DeltaTarget.old.count, with: DeltaTarget.literalZlibStream(changedText))
        changedStream += Array("appended tail".utf8)
        let oldStreamPatch = try Delta.diff(old: DeltaTarget.old, new: changedStream)
        // The block right after the header: version 1, the dictionary exponent, then 1 old stream.
        guard try DeltaPatchHeader.decode(oldStreamPatch).recompressed,
            oldStreamPatch[DeltaPatchHeader.byteCount + 2] == 1
        else { throw OTAError(.usageInvalid, "the old-stream seed's patch names no old stream") }
        try save([0] + oldStreamPatch, DeltaTarget.name, "mode0-patch-recompressed-old-stream")
        // Mode 1: the patch's own header fields (dictionary exponents given, flag 8) and body.
        let header = try DeltaPatchHeader.decode(Array(patch.prefix(DeltaPatchHeader.byteCount)))
        var mode1: [UInt8] = [1, 8, 0]
        mode1 += header.dictionarySizes.map { UInt8($0.trailingZeroBitCount) }
        mode1 += [UInt8(header.newSize & 0xff), UInt8(header.newSize >> 8)]
        for index in 0..<4 { mode1.append(UInt8(truncatingIfNeeded: header.bodySize >> (8 * UInt64(index)))) }
        mode1 += header.newHash.bytes
        let fields = mode1.count
        mode1 += patch.dropFirst(DeltaPatchHeader.byteCount)
        try save(mode1, DeltaTarget.name, "mode1-body")
        // Mode 1, primed (body compression 0x12, flag 4): a one-byte prime block before the same
        // frames, whose inserts stream starts by resetting the dictionary, so it still applies.
        var primed: [UInt8] = [1, 8 | 4, 0, 0x12] + mode1[3..<fields] + [0, 1]
        primed += patch.dropFirst(DeltaPatchHeader.byteCount)
        try save(primed, DeltaTarget.name, "mode1-body-primed")
        // The same with a split prime (0x55): the prime is split before the frames are read.
        primed[3] = 0x55
        try save(primed, DeltaTarget.name, "mode1-body-primed-split")
        // Mode 2: one frame of hand-written ops: COPY 1000, INSERT "hello", ADD 100 (96 same, 4 changed).
        let control: [UInt8] = [1, 0, 0xe8, 0x07, 3, 5, 2, 0, 100]
        let runs: [UInt8] = [0x84, 0x06]  // 96 << 3 | 4 = 772
        let differences: [UInt8] = [1, 2, 3, 4]
        let inserts = Array("hello".utf8)
        try save(
            Self.mode2(options: 0, newSize: 1105, transform: [], streams: [control, runs, differences, inserts]),
            DeltaTarget.name, "mode2-ops")
        // Format 3: a reference transform (one x86-64 region per image, one map entry) and an
        // ADDP of 2000 bytes after the same ops.
        func transformBlock(architecture: UInt8) -> [UInt8] {
            var transform: [UInt8] = [1]
            for length: UInt64 in [16384, 3000] {
                transform.append(1)
                for value: UInt64 in [0, length, 0x40_0000, 0] { DeltaTarget.appendVarint(value, to: &transform) }
                transform.append(architecture)
            }
            transform.append(1)
            for value: UInt64 in [0x40_0000, 0x1_0000, 0x200] { DeltaTarget.appendVarint(value, to: &transform) }
            return transform
        }
        let transform = transformBlock(architecture: 1)
        var predicted = control + [4, 0]
        DeltaTarget.appendVarint(2000, to: &predicted)
        var predictedRuns = runs
        DeltaTarget.appendVarint(2000 << 3, to: &predictedRuns)
        try save(
            Self.mode2(
                options: 1, newSize: 3105, transform: transform,
                streams: [predicted, predictedRuns, differences, inserts]),
            DeltaTarget.name, "mode2-transform")
        // Format 4: the same ops over AArch64 regions, so ADRP pairs among the old image's
        // pseudo-random words are found and predicted.
        try save(
            Self.mode2(
                options: 3, newSize: 3105, transform: transformBlock(architecture: 2),
                streams: [predicted, predictedRuns, differences, inserts]),
            DeltaTarget.name, "mode2-transform-pairs")
        // Body compression 3 and 4: the same ops inserting a BL and an ADRP word (AArch64), a
        // call and a RIP-relative load (x86-64), made absolute by the inserts filter.
        let code: [UInt8] = [0x10, 0, 0, 0x94, 0x01, 0, 0, 0x90, 0xE8, 0x10, 0, 0, 0, 0x48, 0x8B, 0x05, 0, 1, 0, 0]
        var codeControl = control
        codeControl[5] = UInt8(code.count)
        for (options, name) in [(UInt8(4), "mode2-inserts-aarch64"), (12, "mode2-inserts-x86")] {
            try save(
                Self.mode2(
                    options: options, newSize: UInt16(1100 + code.count), transform: [],
                    streams: [codeControl, runs, differences, code]),
                DeltaTarget.name, name)
        }
        // Body compression 5: the same code as one INSERT at output offset 1000, its call and
        // RIP-relative operands (absolute: + the new offset of each operand's end) in the fifth
        // stream, one call and no jump, then the data reference, most significant byte first.
        let main = Array(code[0..<9] + code[13..<16])
        let operands: [UInt8] = [1, 0, 0, 0, 0x04, 0x05, 0, 0, 0x04, 0xFC]
        try save(
            Self.mode2(
                options: 4 | 8 | 16, newSize: UInt16(1100 + code.count), transform: [],
                streams: [codeControl, runs, differences, main, operands]),
            DeltaTarget.name, "mode2-inserts-x86-split")
        // The same primed with 2,000 old bytes from offset 2,048, split (body compression 0x55).
        try save(
            Self.mode2(
                options: 4 | 8 | 16 | 64, newSize: UInt16(1100 + code.count), transform: [],
                streams: [codeControl, runs, differences, main, operands], prime: [0x00, 0x08, 0xCF, 0x07]),
            DeltaTarget.name, "mode2-inserts-x86-split-primed")
        // Aligned inserts (body compression 0x23): COPY 1001, so the INSERT at offset 1001 is
        // preceded by one zero byte (1001 ≡ 1 modulo 4, the stream at 0).
        var alignedControl = codeControl
        alignedControl[2] = 0xE9
        try save(
            Self.mode2(
                options: 4 | 32, newSize: UInt16(1101 + code.count), transform: [],
                streams: [alignedControl, runs, differences, [0] + code]),
            DeltaTarget.name, "mode2-inserts-aarch64-aligned")
    }

    /// A mode-2 delta seed: options, one frame, the header input (flags 0, SHA-256, `newSize`),
    /// the transform's raw bytes when options bit 0 is set, then the raw streams (four, or five
    /// with body compression 5).
    private static func mode2(
        options: UInt8, newSize: UInt16, transform: [UInt8], streams: [[UInt8]], prime: [UInt8] = []
    ) -> [UInt8] {
        var headerInput: [UInt8] = [0, 0, UInt8(newSize & 0xff), UInt8(newSize >> 8)]
        headerInput += [UInt8](repeating: 0, count: 48 - headerInput.count)
        var seed: [UInt8] = [2, options, 0] + headerInput
        if options & 1 != 0 { seed += [UInt8(transform.count & 0xff), UInt8(transform.count >> 8)] + transform }
        seed += prime
        for stream in streams { seed += [UInt8(stream.count), 1] + stream }
        return seed
    }

    // MARK: Records

    private func makeRecords(_ work: String) throws(OTAError) {
        let signer = try FuzzFixtures.key(.intl, "vehicle/device.key")
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let configuration = Recorder.Configuration(segmentBytes: 2500, checkpointInterval: 3, durability: .none)
        let log = "\(work)/log"
        let recorder = try Recorder.create(
            at: log, vin: Self.vin, signer: signer, clock: clock, configuration: configuration)
        for seq in 0..<5 {
            clock.advance(seconds: 60)
            _ = try recorder.append(
                Self.record(step: [RecordStep.verify, .consent, .applyImage, .boot, .result][seq], seq: seq))
        }
        try recorder.close()
        let (input, segments) = try Self.pack(log)
        try save([0] + input, RecordLogTarget.name, "log-\(segments.count)-segments")
        // The same, hashes and links fixed up (no-ops here) and ingested into a fleet store.
        try save([15] + input, RecordLogTarget.name, "log-ingested")
        // The same log with a torn tail: the last line cut short.
        try save([0] + input.dropLast(7), RecordLogTarget.name, "log-torn-tail")
        // Only the first segment, the sample log.json (empty part) and no HEAD.
        try save([0, 0, 0] + segments[0], RecordLogTarget.name, "log-no-head")

        // A log whose first segments were pruned after the fleet store acknowledged them: it
        // starts at a checkpoint, and a prune entry says what went.
        let pruned = "\(work)/pruned"
        let writer = try Recorder.create(
            at: pruned, vin: Self.vin, signer: signer, clock: clock, configuration: configuration)
        var last: Recorder.Appended? = nil
        for seq in 0..<8 {
            clock.advance(seconds: 86_400)
            last = try writer.append(Self.record(step: .applyImage, seq: seq))
        }
        try writer.acknowledge(through: last!.seq, hash: last!.hash)
        // Pruned 400 days on, by the recorder's own clock (a prune's time must be within a day of it).
        clock.advance(seconds: 400 * 86_400)
        _ = try writer.prune()
        try writer.close()
        try save([15] + (try Self.pack(pruned)).input, RecordLogTarget.name, "log-pruned")
    }

    /// A log folder as the records harness reads it: `log.json` NUL `HEAD` (NUL segment)*.
    private static func pack(_ directory: String) throws(OTAError) -> (input: [UInt8], segments: [[UInt8]]) {
        let layout = LogLayout(directory: directory)
        var input = try FileSystem.read(layout.metaPath) + [0] + FileSystem.read(layout.headPath)
        var segments: [[UInt8]] = []
        for name in try layout.segments() {
            segments.append(try FileSystem.read(layout.path(name)))
            input += [0] + segments.last!
        }
        return (input, segments)
    }

    // MARK: Sources

    private func makeSources() throws(OTAError) {
        let root = FuzzFixtures.root
        let vehicle = try FileSystem.read("\(root)/samples/vehicle-x1.yaml")
        try save(vehicle, VehicleConfigTarget.name, "vehicle-x1.yaml")
        if let text = String(validating: vehicle, as: UTF8.self),
            let config = try? YAMLDecoderBridge.vehicleConfig(text)
        {
            try save(try CanonicalJSON.encode(config), VehicleConfigTarget.name, "vehicle.json")
        }
        let json: [(String, String)] = [
            ("numbers.json", #"[0, -1, 9223372036854775807, 18446744073709551615, 1.5, -2e-3, 1E+2]"#),
            ("strings.json", #"{"a": "\u00e9\ud83d\ude00\n\t\"\\\/", "é": "", "\u0000": "\u001f"}"#),
            ("nested.json", #"{"a": [{"b": [[{"c": null}]], "d": true, "e": false}]}"#),
        ]
        for (name, text) in json { try save(Array(text.utf8), StrictJSONTarget.name, name) }
        try save(
            Array(
                #"{"batteryPercent": 80, "doorsUnlockable": true, "driving": false, "gear": "P", "parked": true}"#.utf8),
            VehicleConfigTarget.name, "state.json")
        for name in try FileSystem.list("\(root)/manifests") where name.hasSuffix(".yaml") {
            try save(try FileSystem.read("\(root)/manifests/\(name)"), ManifestSourceTarget.name, name)
        }
        try save(
            Array(manifestText(suite: .gm, images: [("a", "xz"), ("b", "none")]).utf8), ManifestSourceTarget.name,
            "flow-style.yaml")
    }

    // MARK: TUF metadata

    /// Each file the harness repository serves, in fetch order (the mode byte picks its slot),
    /// once as served and once to be signed again; and the python-tuf fixture repository's
    /// metadata, to be signed again with the harness keys (python-tuf's keys would be refused).
    private func makeTUF() throws(OTAError) {
        let fixture = "\(directory)/fixtures/tuf-repository"
        try TUFTarget.makeRepository(fixture)
        let target = try TUFTarget(fixture: fixture)
        for (index, url) in target.fetchOrder.enumerated() {
            guard let bytes = target.served[url] else { continue }
            let name = String(url.split(separator: "/").last ?? "")
            try save([UInt8(index)] + bytes, TUFTarget.name, "\(index)-\(name)")
            try save([0x80 | UInt8(index)] + bytes, TUFTarget.name, "\(index)-\(name)-resigned")
        }
        let fixtures = "\(FuzzFixtures.root)/Tests/OTATUFTests/Fixtures/python-tuf/metadata"
        for name in try FileSystem.list(fixtures) where name.hasSuffix(".json") {
            // The slot of the file of its kind (1: a third root version).
            let slot: UInt8 =
                name.contains("root")
                ? 1
                : name.contains("timestamp")
                    ? 2
                    : name.contains("snapshot")
                        ? 3
                        : name.contains("targets") ? 4 : name.contains("apps") ? 5 : 6
            try save([0x80 | slot] + (try FileSystem.read("\(fixtures)/\(name)")), TUFTarget.name, "python-tuf-\(name)")
        }
    }

    // MARK: Trust updates

    /// Per suite: an update of the release role (its signing CA's CRL, threshold 1) as a signed
    /// file and as a payload for the harness to sign; a root rotation (a new self-signed root
    /// added, the old one retired, both signing); the sample CRL files, PEM with their issuing
    /// CA and DER.
    private func makeTrustUpdates() throws(OTAError) {
        let target = try TrustUpdateTarget()
        let now = FuzzFixtures.now
        for test in target.cases {
            let suite = test.suite.rawValue
            let release = "\(FuzzFixtures.pki(test.suite))/release"
            guard let signingCRL = try CertificateRevocationList.load(contentsOf: "\(release)/signing-ca.crl").first,
                let oldRoot = try Certificate.load(contentsOf: "\(release)/root-ca.crt").first
            else { continue }
            let change = TrustUpdate.RoleChange(crls: [Data(signingCRL.der).base64EncodedString()], threshold: 1)
            let payload = try CanonicalJSON.encode(
                TrustUpdate(
                    version: 1, issued: now.addingTimeInterval(-86_400), expires: now.addingTimeInterval(30 * 86_400),
                    roles: [.release: change]))
            try save([0x80] + payload, TrustUpdateTarget.name, "release-crl-\(suite).payload.json")
            try save(
                [0] + (try TrustUpdateTarget.sign(payload, roots: test.roots)), TrustUpdateTarget.name,
                "release-crl-\(suite).json")

            let key = try PrivateKey.generate(test.suite == .gm ? .sm2 : .p256)
            let newRoot = try CertificateIssuer.selfSignedRoot(
                key: key,
                profile: CertificateProfile(
                    commonName: "Fuzz Release Root 2", organization: "ota fuzz",
                    usage: .certificateAuthority(pathLength: 1),
                    notBefore: now.addingTimeInterval(-86_400), notAfter: now.addingTimeInterval(3650 * 86_400)))
            let rotation = TrustUpdate.RoleChange(
                addAnchors: [Data(newRoot.der).base64EncodedString()], retireAnchors: [oldRoot.fingerprint])
            let rotationPayload = try CanonicalJSON.encode(
                TrustUpdate(
                    version: 2, issued: now.addingTimeInterval(-86_400), expires: now.addingTimeInterval(30 * 86_400),
                    roles: [.release: rotation]))
            try save(
                [0] + (try TrustUpdateTarget.sign(rotationPayload, roots: test.roots + [(key, newRoot)])),
                TrustUpdateTarget.name, "release-rotation-\(suite).json")

            let pem =
                try FileSystem.read("\(release)/signing-ca.crl") + (try FileSystem.read("\(release)/signing-ca.crt"))
            try save([0] + pem, TrustUpdateTarget.name, "signing-ca-crl-with-issuer-\(suite).pem")
            try save(
                [0] + (try FileSystem.read("\(release)/root-ca.crl")), TrustUpdateTarget.name,
                "root-ca-crl-\(suite).pem")
            try save([0] + signingCRL.der, TrustUpdateTarget.name, "signing-ca-crl-\(suite).der")
        }
    }
}
