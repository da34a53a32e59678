import Foundation
import OTACore
import OTARecorder

/// A vehicle's chain evidence in an export (docs/FORMAT.md, Export directory):
/// `evidence/NNNN.log` holds the vehicle's log lines, byte for byte, from the first exported
/// entry up to the first signed checkpoint at or after the last one; `evidence/NNNN.json` names
/// the vehicle (its token, or its VIN when revealed), the log's hash and genesis hash, and the
/// device keys with their certificates. A third party re-checks every line's hash and chain and
/// the checkpoint signatures against device certificates that chain to the `vehicle` role,
/// without trusting the exporter.
public enum ExportEvidence {
    public static let directory = "evidence"

    /// The name of the `number`th vehicle's evidence files, without extension: at least four
    /// digits (`0001`, …, `9999`, `10000`, …).
    static func fileStem(_ number: Int) -> String {
        String(repeating: "0", count: max(0, 4 - String(number).count)) + String(number)
    }

    /// The vehicle number in an evidence file's name (`evidence/0042.json` → 42); nil for any
    /// name the exporter would not write, so each number has one name (`00042` and `0000` are
    /// refused). Verifiers order evidence by this number, not by the name's text (`10000` sorts
    /// as text before `9999`).
    static func number(ofFile name: String) -> Int? {
        guard name.hasPrefix(directory + "/") else { return nil }
        let file = name.dropFirst(directory.count + 1)
        guard let dot = file.lastIndex(of: "."), [".log", ".json"].contains(file[dot...]) else { return nil }
        let digits = file[..<dot]
        guard (4...9).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(digits), number >= 1, fileStem(number) == digits
        else { return nil }
        return number
    }

    /// Writes one vehicle's evidence; returns its two files (to list and commit).
    static func write(
        store: any RecordStore, vin: String, token: String, revealed: Bool, from: UInt64, through: UInt64, number: Int,
        directory: String, hash: HashAlgorithm
    ) throws(OTAError) -> [ExportFile] {
        guard let vehicle = try store.vehicle(vin) else {
            throw OTAError(.recordsStore, "the store holds entries of \(vin) but not its chain head")
        }
        guard let end = try store.checkpoint(of: vin, atOrAfter: through) else {
            throw OTAError(.recordsStore, "no stored checkpoint of \(vin) covers entry \(through)")
        }
        // A revealed export may start at the genesis entry; a tokenised one never shows it.
        let start = !revealed && from == 0 ? 1 : from
        let name = fileStem(number)
        let log = try ExportFile(directory: directory, name: "\(Self.directory)/\(name).log", hash: hash)
        var count = 0
        try store.chain(of: vin, from: start, through: end) { entry throws(OTAError) in
            try log.write(entry.line + "\n")
            count += 1
        }
        var keys: [JSONValue] = []
        for key in vehicle.keys {
            var item = JSONObjectWriter()
            item.set("keyId", key.keyID)
            item.set("publicKey", Hex.encode(key.publicKey))
            item.set("certificate", key.certificate)
            item.set("fromSeq", Int64(clamping: key.fromSeq))
            keys.append(item.value)
        }
        let description: JSONValue = .object([
            "vin": .string(token), "revealed": .bool(revealed), "hash": .string(vehicle.hashAlgorithm.rawValue),
            "genesis": .string(vehicle.genesis), "from": .integer(Int64(clamping: start)),
            "through": .integer(Int64(clamping: end)),
            "entries": .integer(Int64(count)), "keys": .array(keys), "log": .string("\(name).log"),
        ])
        let json = try ExportFile(directory: directory, name: "\(Self.directory)/\(name).json", hash: hash)
        try json.write(bytes: description.bytes + [0x0a])
        return [log, json]
    }

    /// What the evidence of one vehicle proved: every entry it covers, by number, with its
    /// hash and body.
    struct Checked {
        var vin: String
        var hash: HashAlgorithm
        /// Each entry's hash, and whether the export's filter selects it.
        var entries: [UInt64: (hash: String, selected: Bool)]
        var from: UInt64
        var through: UInt64
    }

    /// Verifies one vehicle's evidence: the keys' certificates chain to the `vehicle` role of
    /// `trust` (a key without a certificate is refused), the lines verify as a chain whose last
    /// line is a checkpoint signed by those keys.
    static func check(json path: String, directory: String, trust: TrustStore, at time: Date, filter: ExportFilter)
        throws(OTAError) -> Checked
    {
        let bytes = try FileSystem.read(path, limit: 16 << 20)
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw OTAError(.recordsEvidence, "\(path): \(error.message)")
        }
        let object = try JSONObjectReader(
            value, path: path,
            allowed: ["entries", "from", "genesis", "hash", "keys", "log", "revealed", "through", "vin"])
        let vin = try object.string("vin", maximumBytes: 64)
        guard let hash = HashAlgorithm(rawValue: try object.string("hash", maximumBytes: 16)) else {
            throw OTAError(.recordsEvidence, "\(path).hash: sha256 or sm3")
        }
        let genesis = try object.digest("genesis")
        let logName = try object.string("log", maximumBytes: 64)
        guard !logName.contains("/"), !logName.hasPrefix("."), logName.hasSuffix(".log") else {
            throw OTAError(.recordsEvidence, "\(path).log: a file name")
        }
        var keys: [PublicKey] = []
        let items = try object.array("keys", maximumCount: 64) { item, itemPath throws(OTAError) in
            try JSONObjectReader(item, path: itemPath, allowed: ["certificate", "fromSeq", "keyId", "publicKey"])
        }
        for item in items {
            guard let pem = try item.optionalString("certificate", maximumBytes: 65536) else {
                throw OTAError(
                    .recordsEvidence,
                    "\(item.path): device key \(try item.digest("keyId")) has no certificate; it cannot be shown to be a vehicle's key"
                )
            }
            let certificates = try Certificate.load(Array(pem.utf8), source: item.path)
            let verdict = try ChainVerifier(store: trust, time: FixedTime(time)).verify(
                certificates[0], intermediates: Array(certificates.dropFirst()), role: .vehicle)
            if case .untrusted(let error) = verdict {
                throw OTAError(
                    .recordsEvidence,
                    "\(item.path): the device certificate \(certificates[0].subject) does not chain to the vehicle role: \(error.message)"
                )
            }
            let key = try certificates[0].publicKey
            guard try key.keyID(.sha256).hex == item.digest("keyId"),
                Hex.decode(try item.string("publicKey", maximumBytes: 8192)) == (try key.der())
            else {
                throw OTAError(.recordsEvidence, "\(item.path): the key does not match its certificate")
            }
            keys.append(key)
        }
        guard !keys.isEmpty else { throw OTAError(.recordsEvidence, "\(path): no device key") }
        let logPath = directory + "/" + Self.directory + "/" + logName
        // The last line is the checkpoint the run ends with: it plays HEAD's part.
        var lastLine: [UInt8]? = nil
        try SegmentReader.forEachLine(logPath) { line, _, terminated throws(OTAError) in
            if terminated { lastLine = Array(line) }
        }
        let meta = LogMeta(
            vin: vin, hash: hash, keyID: try keys[0].keyID(.sha256).hex,
            retentionMonths: Recorder.minimumRetentionMonths,
            created: "1970-01-01T00:00:00.000Z", genesis: genesis)
        var verifier = try RecordChainVerifier(meta: meta, keys: keys, head: lastLine?[...])
        verifier.checksMetaKey = false
        var checked = Checked(vin: vin, hash: hash, entries: [:], from: 0, through: 0)
        var line = 0
        try SegmentReader.forEachLine(logPath) { bytes, _, terminated throws(OTAError) in
            line += 1
            if let verified = try verifier.consume(
                bytes, terminated: terminated, at: EntryLocation(segment: logName, line: line))
            {
                if checked.entries.isEmpty { checked.from = verified.entry.seq }
                checked.entries[verified.entry.seq] = (
                    verified.entry.hash, filter.selects(kind: verified.entry.kind, body: verified.body, vin: vin)
                )
                checked.through = verified.entry.seq
            }
        }
        let report = verifier.finish()
        // A run need not start at entry 0 or at a checkpoint: the checkpoint it ends with signs
        // the whole run through the chain of hashes.
        let problems = report.issues.filter { issue in
            switch issue.kind {
            case .unanchored: false
            case .deleted: issue.seq != 0
            default: true
            }
        }
        if let first = problems.first {
            throw OTAError(
                .recordsEvidence, "\(logPath): the chain evidence of \(vin) does not verify: \(first)",
                cause: problems.prefix(10).map(\.description).joined(separator: "; "))
        }
        guard let head = report.headSeq, head == report.lastSeq,
            lastLine.flatMap({ LogEntry.parse($0[...]) })?.kind == .checkpoint
        else {
            throw OTAError(
                .recordsEvidence, "\(logPath): the chain evidence of \(vin) does not end with a signed checkpoint")
        }
        return checked
    }
}
