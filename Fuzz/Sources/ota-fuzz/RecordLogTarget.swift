import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// A record log directory as `ota records verify`, the fleet ingest and the vehicle's recorder
/// read it.
///
/// Input: a mode byte, then parts split at NUL bytes: `log.json`, `HEAD` and up to eight segment
/// files (an empty `log.json` part means the sample log's, an empty `HEAD` part means none).
/// Mode bits, so that mutated lines still reach the chain logic (the fuzzer cannot forge
/// hashes, an attacker with the file can): 1 recomputes each entry's `HASH`, 2 links each
/// entry's `PREV` to the entry before, 4 fixes `HEAD`'s `HASH` too, 8 also ingests the log into
/// a fresh fleet store (twice: the second finds it stored).
///
/// Then: `LogVerifier.verify` (each intact entry's record decoded, as ingest does),
/// `FleetIngest.ingest`, and `Recorder.open` with the sample device key (torn-tail repair)
/// followed by one append, which must read back, and a second verification.
struct RecordLogTarget: FuzzTarget {
    static let name = "records"
    static let summary = "record log directory: LogVerifier.verify, FleetIngest.ingest, Recorder.open + append"

    let directory: String
    let signer: PrivateKey
    let publicKey: PublicKey
    let meta: [UInt8]

    init() throws(OTAError) {
        directory = try FuzzFixtures.scratch(Self.name)
        signer = try FuzzFixtures.key(.intl, "vehicle/device.key")
        publicKey = try signer.publicKey
        meta = Self.sampleMeta(keyID: try publicKey.keyID(.sha256).hex)
    }

    static func sampleMeta(keyID: String) -> [UInt8] {
        LogMeta(
            vin: SeedMaker.vin, hash: .sha256, keyID: keyID, retentionMonths: 6, created: "2026-11-01T00:00:00.000Z",
            genesis: LogEntry.zeroHash
        ).json.bytes + [0x0a]
    }

    func run(_ input: [UInt8]) {
        let log = directory + "/log"
        try? FileManager.default.removeItem(atPath: log)
        guard (try? FileSystem.createDirectory(log, mode: 0o700)) != nil else {
            FuzzTargets.violated("cannot make \(log)")
        }
        let mode = input.first ?? 0
        let parts = input.dropFirst().split(separator: 0, maxSplits: 9, omittingEmptySubsequences: false).map(
            Array.init)
        FuzzFixtures.write(parts.first.map { $0.isEmpty ? meta : $0 } ?? meta, to: log + "/log.json")
        if parts.count > 1, !parts[1].isEmpty {
            FuzzFixtures.write(
                mode & 4 != 0 ? Self.fixLines(parts[1], hashes: true, links: false) : parts[1], to: log + "/HEAD")
        }
        var previous: String? = nil
        for (index, part) in parts.dropFirst(2).enumerated() {
            let segment = Self.fixLines(part, hashes: mode & 1 != 0, links: mode & 2 != 0, previous: &previous)
            let firstLine = segment.split(separator: 0x0a, maxSplits: 1).first.map { ArraySlice($0) } ?? []
            let firstSeq = LogEntry.parse(firstLine)?.seq ?? UInt64(index)
            FuzzFixtures.write(segment, to: log + "/" + LogLayout.segmentName(firstSeq: firstSeq))
        }
        let verifier = LogVerifier(directory: log, publicKey: publicKey)
        // Every intact entry's body is read with the record schema by the verifier itself.
        _ = try? verifier.verify { verified throws(OTAError) in
            if case .record(let record) = verified.body { _ = record.json.bytes }
        }
        if mode & 8 != 0 { ingest(log) }
        let clock = ManualClock(FuzzFixtures.now)
        let configuration = Recorder.Configuration(segmentBytes: 4096, checkpointInterval: 4, durability: .none)
        guard let recorder = try? Recorder.open(at: log, signer: signer, clock: clock, configuration: configuration)
        else { return }
        // What the recorder writes, its own reader must read back.
        // (An append may be followed by a checkpoint: the entry need not be the last line.)
        if let appended = try? recorder.append(SeedMaker.record(step: .commit, seq: 0)) {
            let bytes = (try? FileSystem.read(recorder.layout.path(appended.segment), limit: 64 << 20)) ?? []
            let found = bytes.split(separator: 0x0a).contains { line in
                LogEntry.parse(line).map { $0.seq == appended.seq && $0.hash == appended.hash } ?? false
            }
            guard bytes.last == 0x0a, found else {
                FuzzTargets.violated(
                    "records: entry \(appended.seq) was appended to \(appended.segment) but does not read back")
            }
        }
        try? recorder.close()
        _ = try? verifier.verify()
    }

    private func ingest(_ log: String) {
        let path = directory + "/fleet.db"
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
        guard let store = try? SQLiteRecordStore(path: path, mode: .create) else {
            FuzzTargets.violated("cannot make the fleet store \(path)")
        }
        for _ in 0..<2 {
            do throws(OTAError) {
                _ = try FleetIngest.ingest(log: log, publicKey: publicKey, into: store)
            } catch {
                FuzzTargets.explain(error)
            }
        }
    }

    static func fixLines(_ bytes: [UInt8], hashes: Bool, links: Bool) -> [UInt8] {
        var previous: String? = nil
        return fixLines(bytes, hashes: hashes, links: links, previous: &previous)
    }

    /// Rewrites the `PREV` (to `previous`, the last entry's hash) and then the `HASH` of every
    /// line that parses as an entry; other lines pass unchanged.
    static func fixLines(_ bytes: [UInt8], hashes: Bool, links: Bool, previous: inout String?) -> [UInt8] {
        guard hashes || links else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        let lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            var fixed = Array(line)
            if let entry = LogEntry.parse(line[...]) {
                if links, let previous {
                    let prevStart = fixed.count - entry.body.count - entry.kind.rawValue.utf8.count - 1 - 65
                    fixed.replaceSubrange(prevStart..<(prevStart + 64), with: Array(previous.utf8))
                }
                if hashes, let hash = try? LogEntry.computeHash(fixed[...], .sha256) {
                    fixed.replaceSubrange(0..<64, with: Array(hash.utf8))
                }
                previous = String(decoding: fixed[0..<64], as: UTF8.self)
            }
            out += fixed
            if index < lines.count - 1 { out.append(0x0a) }
        }
        return out
    }
}
