import Foundation
import OTACore
import OTARecorder
import OTATestSupport
import Testing

/// A deterministic generator, so a failing trial can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A 2,000-record log held in memory as lines, verified with the same `RecordChainVerifier` the
/// `ota records verify` command uses.
final class TamperFixture: Sendable {
    struct Line: Sendable {
        let segment: Int
        let bytes: [UInt8]
    }

    static let shared = try! TamperFixture()

    let meta: LogMeta
    let publicKey: PublicKey
    let segments: [String]
    let lines: [Line]
    let head: [UInt8]
    /// Verifier states after every 100th line of the intact log: a trial that changes nothing
    /// before line k resumes from the state at or before k (the verifier is a value; the prefix
    /// it has seen is byte-identical), then reads the rest of the log to its end.
    let snapshots: [(index: Int, verifier: RecordChainVerifier, segment: Int, number: Int)]

    init() throws {
        let dir = try TemporaryDirectory("tamper")
        let key = try PrivateKey.generate(.p256)
        _ = try Samples.makeLog(at: dir.path, count: 2_000, key: key, segmentBytes: 128 << 10)
        let layout = LogLayout(directory: dir.path)
        meta = try LogMeta.load(layout)
        publicKey = try key.publicKey
        segments = try layout.segments()
        var lines: [Line] = []
        for (index, name) in segments.enumerated() {
            try SegmentReader.forEachLine(layout.path(name)) { line, _, _ in
                lines.append(Line(segment: index, bytes: Array(line)))
            }
        }
        self.lines = lines
        var head = try FileSystem.read(layout.headPath)
        head.removeLast()
        self.head = head
        var snapshots: [(index: Int, verifier: RecordChainVerifier, segment: Int, number: Int)] = []
        var verifier = try RecordChainVerifier(meta: meta, publicKey: publicKey, head: head[...])
        var segment = -1
        var number = 0
        for (index, line) in lines.enumerated() {
            if index % 100 == 0 { snapshots.append((index, verifier, segment, number)) }
            if line.segment != segment { segment = line.segment; number = 0 }
            number += 1
            try verifier.consume(
                line.bytes[...], terminated: true, at: EntryLocation(segment: segments[line.segment], line: number))
        }
        self.snapshots = snapshots
    }

    /// Verifies `lines`, which equal the intact log before index `unchangedBefore`; the last
    /// line may lack its end of line.
    func verify(_ lines: [Line], unchangedBefore: Int = 0, lastTerminated: Bool = true) throws -> VerificationReport {
        let snapshot = snapshots.last { $0.index <= unchangedBefore }!
        var verifier = snapshot.verifier
        var segment = snapshot.segment
        var number = snapshot.number
        for index in snapshot.index..<lines.count {
            let line = lines[index]
            if line.segment != segment { segment = line.segment; number = 0 }
            number += 1
            try verifier.consume(
                line.bytes[...], terminated: lastTerminated || index < lines.count - 1,
                at: EntryLocation(segment: segments[line.segment], line: number))
        }
        return verifier.finish()
    }

    func seq(_ line: Line) -> UInt64 { LogEntry.parse(line.bytes[...])!.seq }

    /// The line with new JSON content and, when `rehash`, its own hash recomputed.
    func rewrite(_ line: Line, rng: inout SplitMix64, rehash: Bool) throws -> Line {
        var bytes = line.bytes
        let bodyStart = bytes.firstIndex(of: UInt8(ascii: "{"))!
        let position = Int.random(in: (bodyStart + 1)..<(bytes.count - 1), using: &rng)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var replacement = alphabet.randomElement(using: &rng)!
        while replacement == bytes[position] { replacement = alphabet.randomElement(using: &rng)! }
        bytes[position] = replacement
        if rehash {
            let hash = try Hasher.hash(meta.hash, Array(bytes[65...])).hex
            bytes.replaceSubrange(0..<64, with: Array(hash.utf8))
        }
        return Line(segment: line.segment, bytes: bytes)
    }
}

/// The kinds of change; each trial of a kind alternates between its two variants.
enum Tamper: String, CaseIterable, Sendable {
    /// A byte of an entry's JSON changed; odd trials also recompute the entry's own hash.
    case changed
    /// One to three consecutive entries removed.
    case deleted
    /// A copy of an entry placed elsewhere; odd trials forge a well-formed entry that claims a place.
    case inserted
    /// Two entries swapped; odd trials move one entry elsewhere.
    case reordered
    /// The log cut after a random entry; odd trials cut inside the next entry (a torn tail).
    case truncated
}

@Suite struct TamperTests {
    /// Trials per kind of change. Every entry body is read with the record schema, which costs
    /// in unoptimised test builds: 2,000 entries and 200 trials keep each kind near a minute.
    static let trials = 200

    @Test func `an intact 2,000-record log verifies`() throws {
        let fixture = TamperFixture.shared
        let report = try fixture.verify(fixture.lines)
        #expect(report.intact, "\(report.issues)")
        #expect(report.records == 2_000)
        #expect(fixture.segments.count > 5)
    }

    @Test(arguments: Tamper.allCases)
    func `every change at a random position is detected and located`(kind: Tamper) throws {
        let fixture = TamperFixture.shared
        var rng = SplitMix64(seed: 0x5EED_0000 + UInt64(Tamper.allCases.firstIndex(of: kind)!))
        let count = fixture.lines.count
        for trial in 0..<Self.trials {
            var lines = fixture.lines
            var lastTerminated = true
            // The entries the change touched; some issue must name one of them.
            var touched: [UInt64] = []
            var kinds: Set<VerificationIssue.Kind> = []
            var unchangedBefore = 0
            let variant = trial % 2 == 1
            switch kind {
            case .changed:
                let index = Int.random(in: 0..<count, using: &rng)
                unchangedBefore = index
                lines[index] = try fixture.rewrite(lines[index], rng: &rng, rehash: variant)
                touched = [fixture.seq(fixture.lines[index])]
                kinds = [.changed, .checkpointSignature, .malformed]
            case .deleted:
                let index = Int.random(in: 0..<count, using: &rng)
                let length = min(Int.random(in: 1...3, using: &rng), count - index)
                unchangedBefore = index
                touched = (index..<index + length).map { fixture.seq(fixture.lines[$0]) }
                lines.removeSubrange(index..<index + length)
                kinds = [.deleted, .truncated]
            case .inserted where !variant:
                let source = Int.random(in: 0..<count, using: &rng)
                let position = Int.random(in: 0...count, using: &rng)
                unchangedBefore = position
                lines.insert(fixture.lines[source], at: position)
                touched = [fixture.seq(fixture.lines[source])]
                kinds = [.inserted]
            case .inserted:
                // A well-formed entry that claims a place in the chain: right seq, right PREV,
                // its own hash correct. Only an entry the chain does not continue from.
                let position = Int.random(in: 1..<count, using: &rng)
                unchangedBefore = position
                let previous = LogEntry.parse(fixture.lines[position - 1].bytes[...])!
                var forged = Samples.record(vin: fixture.meta.vin, index: trial, time: Samples.start)
                forged.outcome = .success
                forged.step = .commit
                let (line, _) = try LogEntry.encode(
                    seq: previous.seq + 1, prev: previous.hash, kind: .record,
                    body: forged.json, hash: fixture.meta.hash)
                lines.insert(
                    .init(segment: fixture.lines[position].segment, bytes: Array(line.dropLast())), at: position)
                touched = [previous.seq + 1]
                kinds = [.inserted]
            case .reordered where !variant:
                let first = Int.random(in: 0..<(count - 1), using: &rng)
                let second = Int.random(in: (first + 1)..<count, using: &rng)
                unchangedBefore = first
                let a = lines[first], b = lines[second]
                lines[first] = .init(segment: a.segment, bytes: b.bytes)
                lines[second] = .init(segment: b.segment, bytes: a.bytes)
                touched = [fixture.seq(a), fixture.seq(b)]
                kinds = [.reordered, .unanchored]
            case .reordered:
                let from = Int.random(in: 0..<count, using: &rng)
                var to = Int.random(in: 0..<(count - 1), using: &rng)
                if to >= from { to += 1 }
                unchangedBefore = min(from, to)
                let line = lines.remove(at: from)
                lines.insert(.init(segment: lines[min(to, lines.count - 1)].segment, bytes: line.bytes), at: to)
                touched = [fixture.seq(line)] + (min(from, to)...max(from, to)).map { fixture.seq(fixture.lines[$0]) }
                kinds = [.reordered, .unanchored]
            case .truncated:
                let keep = Int.random(in: 1..<count, using: &rng)
                lines.removeSubrange(keep...)
                unchangedBefore = keep
                touched = [fixture.seq(fixture.lines[keep])]
                if variant {
                    // Cut inside an entry: the torn bytes are reported too.
                    let cut = fixture.lines[keep]
                    lines.append(
                        .init(
                            segment: cut.segment,
                            bytes: Array(cut.bytes.prefix(Int.random(in: 1..<cut.bytes.count, using: &rng)))))
                    lastTerminated = false
                }
                kinds = [.truncated]
            }
            let report = try fixture.verify(lines, unchangedBefore: unchangedBefore, lastTerminated: lastTerminated)
            #expect(!report.intact, "trial \(trial): \(kind) went undetected")
            let located = report.issues.contains { issue in
                kinds.contains(issue.kind) && touched.contains(where: issue.concerns)
            }
            #expect(located, "trial \(trial): \(kind) of \(touched) not located: \(report.issues.prefix(5))")
            if !located { return }
        }
    }
}
