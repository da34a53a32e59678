package import OTACore

/// The JSON of a log entry, typed by its kind and read strictly: unknown members, wrong types
/// and numbers out of range are refused before anything uses them (docs/FORMAT.md, Records).
package enum EntryBody: Sendable, Equatable {
    case genesis(Genesis)
    case record(UpgradeRecord)
    case checkpoint(Checkpoint)
    case tornTail(TornTail)
    case prune(Prune)
    case keyRotation(KeyRotation)
    case unsignedTail(UnsignedTail)

    /// Entry 0: what the log is and whose.
    package struct Genesis: Sendable, Equatable {
        package var format: String
        package var vin: String
        package var hash: HashAlgorithm
        /// Key id of the device key that signs the first checkpoints.
        package var key: String
        /// 16 random bytes (hex): the genesis hash, which every checkpoint signature names,
        /// cannot be guessed from the VIN, so exports may tokenise the VIN and still carry
        /// checkable entries.
        package var nonce: String
        package var time: RecordTime

        package init(format: String, vin: String, hash: HashAlgorithm, key: String, nonce: String, time: RecordTime) {
            self.format = format
            self.vin = vin
            self.hash = hash
            self.key = key
            self.nonce = nonce
            self.time = time
        }
    }

    /// The device key's signature over the chain before it (and, from version 3, its own time).
    package struct Checkpoint: Sendable, Equatable {
        /// Which message the signature covers (`v` in the body; FORMAT.md).
        package enum Version: Int64, Sendable {
            /// `GENESIS SEQ PREV`: checkpoints of older logs (no `v`), still verified; their time
            /// is not signed.
            case v2 = 2
            /// Also the checkpoint's time (`AT SOURCE`): what the recorder writes.
            case v3 = 3
        }

        package var algorithm: SignatureAlgorithm
        package var key: String
        package var signature: [UInt8]
        package var time: RecordTime
        package var version: Version

        package init(
            algorithm: SignatureAlgorithm, key: String, signature: [UInt8], time: RecordTime, version: Version
        ) {
            self.algorithm = algorithm
            self.key = key
            self.signature = signature
            self.time = time
            self.version = version
        }

        /// The bytes the signature covers: the message of the checkpoint's version.
        package func message(genesis: String, seq: UInt64, prev: String) -> [UInt8] {
            switch version {
            case .v2: LogEntry.checkpointMessage(genesis: genesis, seq: seq, prev: prev)
            case .v3: LogEntry.checkpointMessage(genesis: genesis, seq: seq, prev: prev, time: time)
            }
        }
    }

    /// Bytes found torn at the end of the log on open, moved to `quarantine/`.
    package struct TornTail: Sendable, Equatable {
        package var segment: String
        package var offset: Int64
        package var bytes: Int64
        package var digest: String
        package var file: String
        package var time: RecordTime

        package init(segment: String, offset: Int64, bytes: Int64, digest: String, file: String, time: RecordTime) {
            self.segment = segment
            self.offset = offset
            self.bytes = bytes
            self.digest = digest
            self.file = file
            self.time = time
        }
    }

    /// A tombstone: whole segments removed under the retention rules, what range, why, by
    /// whom, and which acknowledgement of the fleet store allowed it. Signed by the checkpoint
    /// that follows it.
    package struct Prune: Sendable, Equatable {
        package struct Acknowledgement: Sendable, Equatable {
            package var through: UInt64
            package var hash: String
            /// Who acknowledged: the fleet store's identity.
            package var by: String

            package init(through: UInt64, hash: String, by: String) {
                self.through = through
                self.hash = hash
                self.by = by
            }
        }

        /// Entries `0 ... through` are gone (with earlier prunes).
        package var through: UInt64
        /// The hash of entry `through`: the next kept segment's checkpoint continues from it.
        package var throughHash: String?
        package var segments: [String]
        package var cutoff: String
        package var months: Int64
        /// Why: `retention` (older than the retention period and acknowledged).
        package var reason: String
        /// Who asked: `vehicle` (the agent's schedule), `operator`, ...
        package var requestedBy: String
        package var acknowledged: Acknowledgement?
        /// Why a prune time the clock checks doubted was taken, and the doubts.
        package var clockOverride: String?
        package var time: RecordTime

        package init(
            through: UInt64, throughHash: String?, segments: [String], cutoff: String, months: Int64, reason: String,
            requestedBy: String, acknowledged: Acknowledgement?, clockOverride: String? = nil, time: RecordTime
        ) {
            self.through = through
            self.throughHash = throughHash
            self.segments = segments
            self.cutoff = cutoff
            self.months = months
            self.reason = reason
            self.requestedBy = requestedBy
            self.acknowledged = acknowledged
            self.clockOverride = clockOverride
            self.time = time
        }
    }

    /// A new device key announced by the current one (the checkpoint after this entry is still
    /// signed by the current key; every later one by the new key).
    package struct KeyRotation: Sendable, Equatable {
        /// The new key's id (hex SHA-256 of its SubjectPublicKeyInfo).
        package var key: String
        /// The new key's SubjectPublicKeyInfo, DER, hex.
        package var publicKey: [UInt8]
        /// The new key's certificate (PEM), when there is one.
        package var certificate: String?
        package var reason: String
        package var time: RecordTime

        package init(key: String, publicKey: [UInt8], certificate: String?, reason: String, time: RecordTime) {
            self.key = key
            self.publicKey = publicKey
            self.certificate = certificate
            self.reason = reason
            self.time = time
        }
    }

    /// Entries `from ... through` found after the last checkpoint when the recorder opened the log
    /// (their chain checked): the recorder states them before its next checkpoint signs them, so
    /// a reader knows the recorder that wrote them never signed them.
    package struct UnsignedTail: Sendable, Equatable {
        package var from: UInt64
        package var through: UInt64
        /// The `HASH` of entry `through`, which through the chain commits to the whole range.
        package var hash: String
        package var time: RecordTime

        package init(from: UInt64, through: UInt64, hash: String, time: RecordTime) {
            self.from = from
            self.through = through
            self.hash = hash
            self.time = time
        }
    }

    /// The highest entry number a log may hold: `Int64.max - 1`, so every number and its
    /// successor fit the stores' signed 64-bit columns.
    package static let maximumSeq = UInt64(Int64.max - 1)

    // MARK: Encoding

    package var json: JSONValue {
        var out = JSONObjectWriter()
        switch self {
        case .genesis(let genesis):
            out.set("format", genesis.format)
            out.set("vin", genesis.vin)
            out.set("hash", genesis.hash.rawValue)
            out.set("key", genesis.key)
            out.set("nonce", genesis.nonce)
            out.set("time", genesis.time)
        case .record(let record):
            return record.json
        case .checkpoint(let checkpoint):
            out.set("alg", checkpoint.algorithm.rawValue)
            out.set("key", checkpoint.key)
            out.set("sig", Hex.encode(checkpoint.signature))
            out.set("time", checkpoint.time)
            if checkpoint.version != .v2 { out.set("v", checkpoint.version.rawValue) }
        case .tornTail(let torn):
            out.set("segment", torn.segment)
            out.set("offset", torn.offset)
            out.set("bytes", torn.bytes)
            out.set("digest", torn.digest)
            out.set("file", torn.file)
            out.set("time", torn.time)
        case .prune(let prune):
            out.set("through", Int64(clamping: prune.through))
            out.set("throughHash", prune.throughHash)
            out.set("segments", array: prune.segments.map { .string($0) })
            out.set("cutoff", prune.cutoff)
            out.set("months", prune.months)
            out.set("reason", prune.reason)
            out.set("requestedBy", prune.requestedBy)
            if let ack = prune.acknowledged {
                out.set(
                    "acknowledged",
                    json: .object([
                        "through": .integer(Int64(clamping: ack.through)), "hash": .string(ack.hash),
                        "by": .string(ack.by),
                    ]))
            }
            out.set("clockOverride", prune.clockOverride)
            out.set("time", prune.time)
        case .keyRotation(let rotation):
            out.set("key", rotation.key)
            out.set("publicKey", Hex.encode(rotation.publicKey))
            out.set("certificate", rotation.certificate)
            out.set("reason", rotation.reason)
            out.set("time", rotation.time)
        case .unsignedTail(let unsigned):
            out.set("from", Int64(clamping: unsigned.from))
            out.set("through", Int64(clamping: unsigned.through))
            out.set("hash", unsigned.hash)
            out.set("time", unsigned.time)
        }
        return out.value
    }

    package var kind: LogEntry.Kind {
        switch self {
        case .genesis: .genesis
        case .record: .record
        case .checkpoint: .checkpoint
        case .tornTail: .tornTail
        case .prune: .prune
        case .keyRotation: .keyRotation
        case .unsignedTail: .unsignedTail
        }
    }

    /// The entry's own time (every kind has one).
    package var time: RecordTime {
        switch self {
        case .genesis(let body): body.time
        case .record(let body): body.time
        case .checkpoint(let body): body.time
        case .tornTail(let body): body.time
        case .prune(let body): body.time
        case .keyRotation(let body): body.time
        case .unsignedTail(let body): body.time
        }
    }

    // MARK: Decoding

    /// Reads the body of an entry of `kind` in the log of `vin` built in memory or parsed from
    /// other text (through its canonical encoding); `seq` bounds the numbers a prune may name.
    package init(kind: LogEntry.Kind, json: JSONValue, vin: String, seq: UInt64) throws(OTAError) {
        try self.init(kind: kind, json: try JSONDocument.reading(json, source: "entry \(seq)").root, vin: vin, seq: seq)
    }

    /// Reads the body of an entry of `kind` in the log of `vin`; `seq` bounds the numbers a
    /// prune may name (never past its own entry).
    package init(kind: LogEntry.Kind, json: JSONNode, vin: String, seq: UInt64) throws(OTAError) {
        let path = "entry \(seq) (\(kind.rawValue))"
        switch kind {
        case .record:
            self = .record(try UpgradeRecord(json: json, vin: vin, source: path))
        case .genesis:
            let object = try JSONObjectReader(
                json, path: path, allowed: ["format", "hash", "key", "nonce", "time", "vin"])
            let hashName = try object.string("hash", maximumBytes: 16)
            guard let hash = HashAlgorithm(rawValue: hashName) else {
                throw OTAError(.recordsFieldType, "\(path).hash: sha256 or sm3")
            }
            let nonce = try object.string("nonce", maximumBytes: 64)
            guard nonce.utf8.count == 32, Hex.decode(nonce) != nil else {
                throw OTAError(.recordsFieldType, "\(path).nonce: 32 hex digits")
            }
            self = .genesis(
                Genesis(
                    format: try object.string("format", maximumBytes: 32),
                    vin: try LogMeta.checkedVIN(try object.string("vin", maximumBytes: 64), path: "\(path).vin"),
                    hash: hash, key: try object.digest("key"), nonce: nonce, time: try object.time("time")))
        case .checkpoint:
            let object = try JSONObjectReader(json, path: path, allowed: ["alg", "key", "sig", "time", "v"])
            let algorithmName = try object.string("alg", maximumBytes: 32)
            guard let algorithm = SignatureAlgorithm(rawValue: algorithmName) else {
                throw OTAError(.recordsFieldType, "\(path).alg: not a signature algorithm (\(algorithmName))")
            }
            let signatureText = try object.string("sig", maximumBytes: 1024)
            guard let signature = Hex.decode(signatureText) else {
                throw OTAError(.recordsFieldType, "\(path).sig: hex")
            }
            let time = try object.time("time")
            // Version 2 has no `v`: one form per version, so `"v":2` is refused.
            let version: Checkpoint.Version = try object.optionalInteger("v", in: 3...3) == nil ? .v2 : .v3
            // Version 3 signs the time as written: one spelling (milliseconds), so the body's
            // bytes are the signed ones (what a third party's script checks).
            if version == .v3,
                try object.optionalObject("time", allowed: ["at", "source"])?.string("at", maximumBytes: 30)
                    != time.text
            {
                throw OTAError(.recordsFieldType, "\(path).time.at: a version 3 checkpoint writes it as \(time.text)")
            }
            self = .checkpoint(
                Checkpoint(
                    algorithm: algorithm, key: try object.digest("key"), signature: signature, time: time,
                    version: version))
        case .tornTail:
            let object = try JSONObjectReader(
                json, path: path, allowed: ["bytes", "digest", "file", "offset", "segment", "time"])
            let segment = try object.string("segment", maximumBytes: 64)
            guard LogLayout.firstSeq(ofSegment: segment) != nil else {
                throw OTAError(.recordsFieldType, "\(path).segment: not a segment name")
            }
            let file = try object.string("file", maximumBytes: 128)
            guard file.hasPrefix("quarantine/torn-"), !file.contains(".."),
                file.utf8.filter({ $0 == UInt8(ascii: "/") }).count == 1
            else {
                throw OTAError(.recordsFieldType, "\(path).file: must name a file in quarantine/")
            }
            self = .tornTail(
                TornTail(
                    segment: segment, offset: try object.integer("offset", in: 0...Int64.max),
                    bytes: try object.integer("bytes", in: 1...(64 << 20)),
                    digest: try object.digest("digest"), file: file, time: try object.time("time")))
        case .prune:
            let object = try JSONObjectReader(
                json, path: path,
                allowed: [
                    "acknowledged", "clockOverride", "cutoff", "months", "reason", "requestedBy", "segments", "through",
                    "throughHash", "time",
                ])
            // A prune removes entries before itself: `through` is at most the entry before it.
            let through = UInt64(try object.integer("through", in: 0...Int64(clamping: seq == 0 ? 0 : seq - 1)))
            guard seq > 0 else { throw OTAError(.recordsFieldRange, "\(path): entry 0 cannot be a prune") }
            var acknowledged: Prune.Acknowledgement? = nil
            if let ack = try object.optionalObject("acknowledged", allowed: ["by", "hash", "through"]) {
                acknowledged = Prune.Acknowledgement(
                    through: UInt64(try ack.integer("through", in: 0...Int64(clamping: seq - 1))),
                    hash: try ack.digest("hash"),
                    by: try ack.string("by", maximumBytes: 256))
            }
            guard let cutoff = try object.optionalInstant("cutoff") else {
                throw OTAError(.recordsFieldMissing, "\(path).cutoff: required")
            }
            self = .prune(
                Prune(
                    through: through, throughHash: try object.optionalDigest("throughHash"),
                    segments: try object.array("segments", maximumCount: 1 << 20) { value, itemPath throws(OTAError) in
                        guard let name = value.stringValue, LogLayout.firstSeq(ofSegment: name) != nil else {
                            throw OTAError(.recordsFieldType, "\(itemPath): not a segment name")
                        }
                        return name
                    },
                    cutoff: cutoff,
                    months: try object.integer(
                        "months", in: Int64(Recorder.minimumRetentionMonths)...Int64(LogMeta.maximumRetentionMonths)),
                    reason: try object.string("reason", maximumBytes: 256),
                    requestedBy: try object.string("requestedBy", maximumBytes: 256),
                    acknowledged: acknowledged,
                    clockOverride: try object.optionalString("clockOverride", maximumBytes: 2048),
                    time: try object.time("time")))
        case .keyRotation:
            let object = try JSONObjectReader(
                json, path: path, allowed: ["certificate", "key", "publicKey", "reason", "time"])
            let keyText = try object.string("publicKey", maximumBytes: 8192)
            guard let publicKey = Hex.decode(keyText) else {
                throw OTAError(.recordsFieldType, "\(path).publicKey: hex DER")
            }
            self = .keyRotation(
                KeyRotation(
                    key: try object.digest("key"), publicKey: publicKey,
                    certificate: try object.optionalString("certificate", maximumBytes: 16384),
                    reason: try object.string("reason", maximumBytes: 256), time: try object.time("time")))
        case .unsignedTail:
            let object = try JSONObjectReader(json, path: path, allowed: ["from", "hash", "through", "time"])
            // The range lies before the statement: `from <= through < seq`.
            guard seq > 0 else { throw OTAError(.recordsFieldRange, "\(path): entry 0 cannot be an unsigned-tail") }
            let from = UInt64(try object.integer("from", in: 0...Int64(clamping: seq - 1)))
            let through = UInt64(try object.integer("through", in: Int64(clamping: from)...Int64(clamping: seq - 1)))
            self = .unsignedTail(
                UnsignedTail(
                    from: from, through: through, hash: try object.digest("hash"), time: try object.time("time")))
        }
    }

    /// Reads an entry's body, also requiring that its bytes are the canonical encoding (checked
    /// while the fields are read, in one pass: `JSONDocument`).
    package init(entry: LogEntry, vin: String) throws(OTAError) {
        let document: JSONDocument
        do { document = try JSONDocument(canonical: entry.body) } catch {
            throw OTAError(.recordsMalformed, "entry \(entry.seq): \(error.message)")
        }
        try self.init(kind: entry.kind, json: document.root, vin: vin, seq: entry.seq)
    }
}
