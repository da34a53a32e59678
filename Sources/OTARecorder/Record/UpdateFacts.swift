public import OTACore

/// What an install attempt is about: the bundle, its signed manifest and who vouched for it.
public struct UpdateFacts: Sendable, Equatable {
    /// A release signer: certificate subject and key id (hex SHA-256 of the public key).
    public struct Signer: Sendable, Equatable {
        public var subject: String
        public var keyID: String

        public init(subject: String, keyID: String) {
            self.subject = subject
            self.keyID = keyID
        }
    }

    /// The automated-driving approval the installer checked.
    public struct Approval: Sendable, Equatable {
        public var number: String
        public var authority: String
        /// RFC 3339 UTC, as signed.
        public var validUntil: String?

        public init(number: String, authority: String, validUntil: String? = nil) {
            self.number = number
            self.authority = authority
            self.validUntil = validUntil
        }
    }

    /// A filing, change permit, approval or recall filing the manifest names.
    public struct Reference: Sendable, Equatable {
        public var kind: RegulatoryReference.Kind
        public var number: String
        public var authority: String

        public init(kind: RegulatoryReference.Kind, number: String, authority: String) {
            self.kind = kind
            self.number = number
            self.authority = authority
        }
    }

    public var bundle: String
    public var campaign: String
    /// Suite hash of the signed manifest bytes (hex).
    public var manifestDigest: String?
    public var categories: [ChangeCategory]
    public var references: [Reference]
    public var signers: [Signer]
    public var approval: Approval?

    public init(
        bundle: String, campaign: String, manifestDigest: String? = nil, categories: [ChangeCategory] = [],
        references: [Reference] = [], signers: [Signer] = [], approval: Approval? = nil
    ) {
        self.bundle = bundle
        self.campaign = campaign
        self.manifestDigest = manifestDigest
        self.categories = categories
        self.references = references
        self.signers = signers
        self.approval = approval
    }

    /// The references of one kind (`filing`, `change-permit`, `recall-filing`, ...).
    public func references(_ kind: RegulatoryReference.Kind) -> [Reference] { references.filter { $0.kind == kind } }
}

/// One ECU's software before and after (UNECE R156 §7.1.2: versions, integrity data and the
/// software identification numbers before and after every update).
public struct ECUFacts: Sendable, Equatable {
    public var ecu: String
    public var hardwarePart: String?
    public var kind: Manifest.ImageKind?
    public var versionBefore: String?
    public var versionAfter: String?
    public var securityVersionBefore: UInt64?
    public var securityVersionAfter: UInt64?
    /// UNECE R156 RX software identification number.
    public var rxswinBefore: String?
    public var rxswinAfter: String?
    /// GB 44496 software identification number (软件识别码).
    public var swinBefore: String?
    public var swinAfter: String?
    public var imageHashBefore: String?
    public var imageHashAfter: String?

    public init(
        ecu: String, hardwarePart: String? = nil, kind: Manifest.ImageKind? = nil,
        versionBefore: String? = nil, versionAfter: String? = nil,
        securityVersionBefore: UInt64? = nil, securityVersionAfter: UInt64? = nil,
        rxswinBefore: String? = nil, rxswinAfter: String? = nil, swinBefore: String? = nil, swinAfter: String? = nil,
        imageHashBefore: String? = nil, imageHashAfter: String? = nil
    ) {
        self.ecu = ecu
        self.hardwarePart = hardwarePart
        self.kind = kind
        self.versionBefore = versionBefore
        self.versionAfter = versionAfter
        self.securityVersionBefore = securityVersionBefore
        self.securityVersionAfter = securityVersionAfter
        self.rxswinBefore = rxswinBefore
        self.rxswinAfter = rxswinAfter
        self.swinBefore = swinBefore
        self.swinAfter = swinAfter
        self.imageHashBefore = imageHashBefore
        self.imageHashAfter = imageHashAfter
    }

    /// `self` with every field `other` sets taken from `other`.
    public func merged(with other: ECUFacts) -> ECUFacts {
        var out = self
        out.hardwarePart = other.hardwarePart ?? hardwarePart
        out.kind = other.kind ?? kind
        out.versionBefore = other.versionBefore ?? versionBefore
        out.versionAfter = other.versionAfter ?? versionAfter
        out.securityVersionBefore = other.securityVersionBefore ?? securityVersionBefore
        out.securityVersionAfter = other.securityVersionAfter ?? securityVersionAfter
        out.rxswinBefore = other.rxswinBefore ?? rxswinBefore
        out.rxswinAfter = other.rxswinAfter ?? rxswinAfter
        out.swinBefore = other.swinBefore ?? swinBefore
        out.swinAfter = other.swinAfter ?? swinAfter
        out.imageHashBefore = other.imageHashBefore ?? imageHashBefore
        out.imageHashAfter = other.imageHashAfter ?? imageHashAfter
        return out
    }
}

/// The vehicle's state readings when the preconditions were checked (No.103 §3, R156 §7.2.2).
public struct PreconditionReadings: Sendable, Equatable {
    public var parked: Bool?
    public var gear: String?
    /// 0...100.
    public var batteryPercent: Int64?
    public var driving: Bool?
    public var doorsUnlockable: Bool?

    public init(
        parked: Bool? = nil, gear: String? = nil, batteryPercent: Int64? = nil, driving: Bool? = nil,
        doorsUnlockable: Bool? = nil
    ) {
        self.parked = parked
        self.gear = gear
        self.batteryPercent = batteryPercent
        self.driving = driving
        self.doorsUnlockable = doorsUnlockable
    }
}

/// What the boot control said at a boot: the slots started, the tries left on a trial, the
/// bootloader's boot count and how many boots this record covers (more than one when a power cut
/// came before a boot was recorded).
public struct BootReading: Sendable, Equatable {
    /// `group=slot` pairs, comma-separated, in group order.
    public var booted: String?
    public var triesRemaining: Int64?
    public var count: UInt64?
    public var unrecorded: UInt64?

    public init(booted: String? = nil, triesRemaining: Int64? = nil, count: UInt64? = nil, unrecorded: UInt64? = nil) {
        self.booted = booted
        self.triesRemaining = triesRemaining
        self.count = count
        self.unrecorded = unrecorded
    }
}

/// A notice the user was shown: the digest of its canonical JSON and its language.
public struct NoticeShown: Sendable, Equatable {
    public var digest: String
    public var language: String

    public init(digest: String, language: String) {
        self.digest = digest
        self.language = language
    }
}

/// Who answered the notice, how, what, and when.
public struct Confirmation: Sendable, Equatable {
    public var party: ConfirmingParty
    /// How the question was put: `head-unit`, `app`, `cli`, `workshop-tool`, `fleet-portal`, ...
    public var channel: String
    public var answer: ConsentAnswer
    public var at: RecordTime

    public init(party: ConfirmingParty, channel: String, answer: ConsentAnswer, at: RecordTime) {
        self.party = party
        self.channel = channel
        self.answer = answer
        self.at = at
    }
}

/// A reason a step did not succeed: its stable code and message (verdicts keep every reason).
public struct RecordReason: Sendable, Equatable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
