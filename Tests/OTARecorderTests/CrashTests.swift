import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A child `ota-records-rig stress-append` process is SIGKILLed at random points; then, to model a
/// power cut, whatever the child wrote after its last durable entry is cut at a random byte.
/// Every entry whose `append` returned (the child printed it) must survive, the torn tail must be
/// quarantined and recorded, and the log must verify.
@Suite(.serialized) struct CrashTests {
    /// The records test rig (its own executable; the shipped `ota` has no test commands).
    static var rig: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "ota-records-rig"
        ).path
    }

    @Test func `a killed appender loses no acknowledged record and its torn tail is reported`() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.rig),
            "build the rig first (swift build --product ota-records-rig)")
        let dir = try TemporaryDirectory("crash")
        let key = try PrivateKey.generate(.p256)
        let keyPath = dir.path + "/device.pem"
        try AtomicFileWriter.write(Array(try key.pem().utf8), to: keyPath)
        var rng = SplitMix64(seed: 0xC8A5_4000)
        var acknowledgedTotal = 0
        var tornReported = 0
        var cutsInsideEntries = 0
        let trials = 200
        for trial in 0..<trials {
            // A fresh log every 25 trials; in between, crashes pile up on the same log.
            let log = dir.path + "/log-\(trial / 25)"
            // Started and reaped by pid (ChildProcess), not Foundation's Process: its exit watch
            // rides on a descriptor a server started by another suite at the same moment could
            // inherit, which once left a killed child a zombie and this test hung in
            // waitUntilExit.
            let child = try ChildProcess(
                Self.rig,
                [
                    "stress-append", log, "--key", keyPath, "--count", "100000", "--segment-bytes", "6000",
                    "--checkpoint-interval", "5",
                ])
            // Kill at a random point measured in the child's progress (not wall time, so a busy
            // machine does not shift every kill into start-up): during start-up or log creation,
            // or a few milliseconds after the k-th append returned.
            let target = Int.random(in: 0...24, using: &rng)
            var received: [UInt8] = []
            if target == 0 {
                usleep(UInt32.random(in: 0...30_000, using: &rng))
            } else {
                while received.split(separator: UInt8(ascii: "\n")).count < target {
                    let chunk = try child.read()
                    if chunk.isEmpty { break }
                    received += chunk
                }
                usleep(UInt32.random(in: 0...4_000, using: &rng))
            }
            child.kill(SIGKILL)
            try child.wait()
            received += try child.remainingOutput()
            let output = String(decoding: received, as: UTF8.self)
            let acknowledged = output.split(separator: "\n").compactMap { line -> UInt64? in
                line.hasPrefix("appended ") ? UInt64(line.dropFirst(9)) : nil
            }
            acknowledgedTotal += acknowledged.count
            guard FileSystem.exists(log + "/log.json") else { continue }

            // Power cut: bytes after the last durable entry of the active segment may be lost.
            let layout = LogLayout(directory: log)
            guard let last = try layout.segments().last else { continue }
            var head: UInt64 = 0
            if FileSystem.exists(layout.headPath),
                let entry = LogEntry.parse(try FileSystem.read(layout.headPath).dropLast())
            {
                head = entry.seq
            }
            let durableSeq = max(acknowledged.max() ?? 0, head)
            var durableEnd: Int64 = 0
            var boundaries: Set<Int64> = [0]
            try SegmentReader.forEachLine(layout.path(last)) { line, offset, terminated in
                guard terminated else { return }
                boundaries.insert(offset + Int64(line.count) + 1)
                if let entry = LogEntry.parse(line), entry.seq <= durableSeq {
                    durableEnd = offset + Int64(line.count) + 1
                }
            }
            let size = try InputFile(path: layout.path(last)).size()
            let cut = Int64.random(in: durableEnd...size, using: &rng)
            #expect(truncate(layout.path(last), off_t(cut)) == 0)
            let tornExpected = !boundaries.contains(cut) && cut > 0
            if tornExpected { cutsInsideEntries += 1 }

            let recorder = try Recorder.open(at: log, signer: key, clock: SystemClock())
            if tornExpected {
                #expect(!recorder.tornTails.isEmpty, "trial \(trial): torn tail not reported")
            }
            tornReported += recorder.tornTails.isEmpty ? 0 : 1
            for tail in recorder.tornTails {
                let entry = try #require(try recorder.entry(at: tail.seq))
                #expect(entry.kind == .tornTail)
            }
            try recorder.close()
            let report = try LogVerifier(directory: log, publicKey: try key.publicKey).verify()
            #expect(report.intact, "trial \(trial): \(report.issues.prefix(3))")
            for seq in acknowledged.suffix(3) {
                let entry = try recorder.entry(at: seq)
                #expect(entry?.kind == .record, "trial \(trial): acknowledged entry \(seq) lost")
            }
            #expect(
                (report.lastSeq ?? 0) >= (acknowledged.max() ?? 0),
                "trial \(trial): log ends before acknowledged entries")
        }
        print(
            "crash trials: \(trials), acknowledged appends: \(acknowledgedTotal), cuts inside an entry: \(cutsInsideEntries), torn tails reported: \(tornReported)"
        )
        #expect(acknowledgedTotal > trials, "the child appended too little to test anything")
        #expect(cutsInsideEntries > 20)
        #expect(tornReported >= cutsInsideEntries)
    }
}
