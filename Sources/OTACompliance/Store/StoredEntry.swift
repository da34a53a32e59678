public import OTACore
public import OTARecorder

/// An entry as the fleet store keeps it: the chain fields, the columns queries use, and the
/// canonical JSON body exactly as the vehicle wrote it (so the line, and its hash, can be
/// rebuilt byte for byte for an export's chain evidence).
public struct StoredEntry: Sendable, Equatable {
    public var vin: String
    public var seq: UInt64
    public var hash: String
    public var prev: String
    public var kind: LogEntry.Kind
    /// The entry's own time (RFC 3339 UTC), for ordering and period queries.
    public var time: String
    public var body: String

    public init(vin: String, seq: UInt64, hash: String, prev: String, kind: LogEntry.Kind, time: String, body: String) {
        self.vin = vin
        self.seq = seq
        self.hash = hash
        self.prev = prev
        self.kind = kind
        self.time = time
        self.body = body
    }

    /// An entry the verifier passed.
    public init(vin: String, verified: VerifiedEntry) {
        self.init(
            vin: vin, seq: verified.entry.seq, hash: verified.entry.hash, prev: verified.entry.prev,
            kind: verified.entry.kind,
            time: verified.body.time.text, body: String(decoding: verified.entry.body, as: UTF8.self))
    }

    /// The body read with the record schema (the one type from installer to export).
    package func decoded() throws(OTAError) -> EntryBody {
        try EntryBody(kind: kind, json: try document().root, vin: vin, seq: seq)
    }

    /// The body as a document, read with the canonical reader only. The store holds only bodies
    /// of verified logs, whose bytes the verifier required to be canonical (they are what the
    /// entry's hash and the checkpoints cover); a body that is not canonical was changed in the
    /// store since, and is refused with the canonical reader's fault rather than re-encoded
    /// (which would export bytes the vehicle never wrote, beside evidence that no longer
    /// matches them).
    package func document() throws(OTAError) -> JSONDocument {
        do { return try JSONDocument(canonical: body.utf8) } catch {
            throw OTAError(
                .recordsMalformed,
                "stored entry \(seq) of \(vin): not the canonical JSON the vehicle wrote (changed in the store?): \(error.message)"
            )
        }
    }

    /// The log line (without `LF`) the vehicle wrote.
    public var line: String { "\(hash) \(seq) \(prev) \(kind.rawValue) \(body)" }
}

/// What the store knows of one vehicle: the chain it continues and the keys that sign it.
public struct StoredVehicle: Sendable, Equatable, Encodable {
    /// One device key of the vehicle, as first trusted or learned from a key rotation.
    public struct Key: Sendable, Equatable, Encodable {
        public var keyID: String
        /// SubjectPublicKeyInfo, DER.
        public var publicKey: [UInt8]
        /// PEM, when the key came with a certificate.
        public var certificate: String?
        /// The entry from which the key signs.
        public var fromSeq: UInt64

        public init(keyID: String, publicKey: [UInt8], certificate: String?, fromSeq: UInt64) {
            self.keyID = keyID
            self.publicKey = publicKey
            self.certificate = certificate
            self.fromSeq = fromSeq
        }
    }

    public var vin: String
    public var hashAlgorithm: HashAlgorithm
    /// The hash of entry 0, which every checkpoint signature names.
    public var genesis: String
    /// The last checkpoint stored: a new upload must continue from it.
    public var headSeq: UInt64
    public var headHash: String
    /// The key that signs the head.
    public var keyID: String
    public var keys: [Key]

    public init(
        vin: String, hashAlgorithm: HashAlgorithm, genesis: String, headSeq: UInt64, headHash: String, keyID: String,
        keys: [Key]
    ) {
        self.vin = vin
        self.hashAlgorithm = hashAlgorithm
        self.genesis = genesis
        self.headSeq = headSeq
        self.headHash = headHash
        self.keyID = keyID
        self.keys = keys
    }
}

/// One change of one ECU's software, from the register (R156 §7.1.2): delivery, and every
/// committed update.
public struct SoftwareChange: Sendable, Equatable, Encodable {
    public var vin: String
    public var ecu: String
    /// The entry that recorded it and when.
    public var seq: UInt64
    public var time: String
    public var attempt: String?
    public var bundle: String?
    public var campaign: String?
    public var hardwarePart: String?
    public var versionBefore: String?
    public var versionAfter: String?
    public var securityVersionAfter: String?
    public var swinBefore: String?
    public var swinAfter: String?
    public var rxswinBefore: String?
    public var rxswinAfter: String?
    public var imageHashAfter: String?

    public init(
        vin: String, ecu: String, seq: UInt64, time: String, attempt: String? = nil, bundle: String? = nil,
        campaign: String? = nil,
        hardwarePart: String? = nil, versionBefore: String? = nil, versionAfter: String? = nil,
        securityVersionAfter: String? = nil,
        swinBefore: String? = nil, swinAfter: String? = nil, rxswinBefore: String? = nil, rxswinAfter: String? = nil,
        imageHashAfter: String? = nil
    ) {
        self.vin = vin
        self.ecu = ecu
        self.seq = seq
        self.time = time
        self.attempt = attempt
        self.bundle = bundle
        self.campaign = campaign
        self.hardwarePart = hardwarePart
        self.versionBefore = versionBefore
        self.versionAfter = versionAfter
        self.securityVersionAfter = securityVersionAfter
        self.swinBefore = swinBefore
        self.swinAfter = swinAfter
        self.rxswinBefore = rxswinBefore
        self.rxswinAfter = rxswinAfter
        self.imageHashAfter = imageHashAfter
    }

    /// The register changes a record states: every ECU of a successful `result` (a committed
    /// update) or of `vehicle.init` (the software at delivery); none for anything else.
    public static func changes(vin: String, seq: UInt64, record: UpgradeRecord) -> [SoftwareChange] {
        guard record.outcome == .success, record.step == .result || record.step == .vehicleInit else { return [] }
        return record.ecus.map { ecu in
            SoftwareChange(
                vin: vin, ecu: ecu.ecu, seq: seq, time: record.time.text, attempt: record.attempt,
                bundle: record.update?.bundle,
                campaign: record.update?.campaign, hardwarePart: ecu.hardwarePart, versionBefore: ecu.versionBefore,
                versionAfter: ecu.versionAfter, securityVersionAfter: ecu.securityVersionAfter.map(String.init),
                swinBefore: ecu.swinBefore, swinAfter: ecu.swinAfter, rxswinBefore: ecu.rxswinBefore,
                rxswinAfter: ecu.rxswinAfter,
                imageHashAfter: ecu.imageHashAfter)
        }
    }
}
