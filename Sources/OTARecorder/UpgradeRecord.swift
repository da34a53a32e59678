public import OTACore

/// One step of an update on one ECU, as the regulator wants it recorded (DESIGN.md, Recorder).
///
/// Holds no location and no real-name data: the record has no field for them, and decoding
/// refuses any key it does not know (`records.field-unknown`), so such data cannot slip in.
public struct UpgradeRecord: Sendable, Equatable {
    /// Who confirmed the update, how, and what they answered.
    public struct Confirmation: Sendable, Equatable {
        public enum Actor: String, Sendable, CaseIterable { case owner, driver, fleet, technician }
        public var actor: Actor
        /// How the question was put: `hmi`, `app`, `fleet-portal`, `workshop-tool`, ...
        public var channel: String
        /// `accepted`, `declined`, `postponed`, ...
        public var answer: String
        /// When the answer was given (RFC 3339 UTC).
        public var at: String

        public init(actor: Actor, channel: String, answer: String, at: String) {
            self.actor = actor
            self.channel = channel
            self.answer = answer
            self.at = at
        }
    }

    /// A filing, change permit, approval or recall filing the change relies on.
    public struct RegulatoryReference: Sendable, Equatable {
        /// `filing`, `change-permit`, `ad-approval`, `recall-filing`, `ta-extension`.
        public var kind: String
        public var number: String
        public var authority: String?

        public init(kind: String, number: String, authority: String? = nil) {
            self.kind = kind
            self.number = number
            self.authority = authority
        }
    }

    /// The user notice that was shown: its digest and language.
    public struct Notice: Sendable, Equatable {
        public var digest: String
        public var language: String

        public init(digest: String, language: String) {
            self.digest = digest
            self.language = language
        }
    }

    /// When the record was made (RFC 3339 UTC, milliseconds) and where that time came from
    /// (`gnss`, `ntp`, `rtc`, `backend`, `test`).
    public var time: String
    public var timeSource: String
    public var vin: String
    public var bundle: String
    public var campaign: String
    public var ecu: String?
    public var hardwarePart: String?
    /// The installer step: `verify`, `policy`, `consent`, `apply`, `switch`, `boot`, `confirm`, `rollback`, ...
    public var step: String
    /// `success`, `failure`, `rejected`, `rolled-back`, `pending`.
    public var result: String
    /// Stable dotted error code when `result` is not success.
    public var errorCode: String?
    public var versionBefore: String?
    public var versionAfter: String?
    public var imageHashBefore: String?
    public var imageHashAfter: String?
    /// RXSWIN (UNECE R156) / SWIN (GB 44496) before and after.
    public var swinBefore: String?
    public var swinAfter: String?
    public var categories: [String]
    public var regulatory: [RegulatoryReference]
    /// Precondition readings: `battery` → `78`, `gear` → `P`, `parked` → `true`, ...
    public var preconditions: [String: String]
    public var notice: Notice?
    public var confirmation: Confirmation?
    public var started: String?
    public var finished: String?
    public var durationMs: Int64?

    public init(
        time: String, timeSource: String, vin: String, bundle: String, campaign: String,
        ecu: String? = nil, hardwarePart: String? = nil, step: String, result: String,
        errorCode: String? = nil, versionBefore: String? = nil, versionAfter: String? = nil,
        imageHashBefore: String? = nil, imageHashAfter: String? = nil,
        swinBefore: String? = nil, swinAfter: String? = nil,
        categories: [String] = [], regulatory: [RegulatoryReference] = [],
        preconditions: [String: String] = [:], notice: Notice? = nil, confirmation: Confirmation? = nil,
        started: String? = nil, finished: String? = nil, durationMs: Int64? = nil
    ) {
        self.time = time
        self.timeSource = timeSource
        self.vin = vin
        self.bundle = bundle
        self.campaign = campaign
        self.ecu = ecu
        self.hardwarePart = hardwarePart
        self.step = step
        self.result = result
        self.errorCode = errorCode
        self.versionBefore = versionBefore
        self.versionAfter = versionAfter
        self.imageHashBefore = imageHashBefore
        self.imageHashAfter = imageHashAfter
        self.swinBefore = swinBefore
        self.swinAfter = swinAfter
        self.categories = categories
        self.regulatory = regulatory
        self.preconditions = preconditions
        self.notice = notice
        self.confirmation = confirmation
        self.started = started
        self.finished = finished
        self.durationMs = durationMs
    }

    /// Every key a record may carry; anything else is refused.
    public static let allowedKeys: Set<String> = [
        "time", "timeSource", "vin", "bundle", "campaign", "ecu", "hardwarePart", "step", "result",
        "errorCode", "versionBefore", "versionAfter", "imageHashBefore", "imageHashAfter",
        "swinBefore", "swinAfter", "categories", "regulatory", "preconditions", "notice",
        "confirmation", "started", "finished", "durationMs",
    ]

    /// The record as canonical JSON (absent optionals are left out, never `null`).
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "time": .string(time), "timeSource": .string(timeSource), "vin": .string(vin),
            "bundle": .string(bundle), "campaign": .string(campaign), "step": .string(step),
            "result": .string(result),
        ]
        func put(_ key: String, _ value: String?) { if let value { members[key] = .string(value) } }
        put("ecu", ecu)
        put("hardwarePart", hardwarePart)
        put("errorCode", errorCode)
        put("versionBefore", versionBefore)
        put("versionAfter", versionAfter)
        put("imageHashBefore", imageHashBefore)
        put("imageHashAfter", imageHashAfter)
        put("swinBefore", swinBefore)
        put("swinAfter", swinAfter)
        put("started", started)
        put("finished", finished)
        if let durationMs { members["durationMs"] = .integer(durationMs) }
        if !categories.isEmpty { members["categories"] = .array(categories.map { .string($0) }) }
        if !regulatory.isEmpty {
            members["regulatory"] = .array(regulatory.map { reference in
                var item: [String: JSONValue] = ["kind": .string(reference.kind), "number": .string(reference.number)]
                if let authority = reference.authority { item["authority"] = .string(authority) }
                return .object(item)
            })
        }
        if !preconditions.isEmpty { members["preconditions"] = .object(preconditions.mapValues { .string($0) }) }
        if let notice {
            members["notice"] = .object(["digest": .string(notice.digest), "language": .string(notice.language)])
        }
        if let confirmation {
            members["confirmation"] = .object([
                "actor": .string(confirmation.actor.rawValue), "channel": .string(confirmation.channel),
                "answer": .string(confirmation.answer), "at": .string(confirmation.at),
            ])
        }
        return .object(members)
    }

    /// Decodes a record, refusing unknown keys and wrong types; `source` names the input in errors.
    public init(json: JSONValue, source: String = "record") throws(OTAError) {
        guard let members = json.objectValue else { throw OTAError(.recordsInputInvalid, "\(source): a record is a JSON object") }
        for key in members.keys where !Self.allowedKeys.contains(key) {
            throw OTAError(.recordsFieldUnknown, "\(source): field '\(key)' is not a record field (records hold no location or real-name data)")
        }
        func required(_ key: String) throws(OTAError) -> String {
            guard let value = members[key]?.stringValue, !value.isEmpty else {
                throw OTAError(.recordsFieldMissing, "\(source): field '\(key)' must be a non-empty string")
            }
            return value
        }
        func optional(_ key: String) throws(OTAError) -> String? {
            guard let value = members[key] else { return nil }
            guard let text = value.stringValue else { throw OTAError(.recordsFieldType, "\(source): field '\(key)' must be a string") }
            return text
        }
        func strings(_ value: JSONValue?, _ key: String) throws(OTAError) -> [String] {
            guard let value else { return [] }
            guard let items = value.arrayValue else { throw OTAError(.recordsFieldType, "\(source): field '\(key)' must be an array of strings") }
            var out: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw OTAError(.recordsFieldType, "\(source): field '\(key)' must be an array of strings") }
                out.append(text)
            }
            return out
        }
        time = try required("time")
        guard RecordTime.parse(time) != nil else { throw OTAError(.recordsFieldType, "\(source): field 'time' must be RFC 3339 UTC, e.g. 2026-01-31T08:00:00.000Z") }
        timeSource = try required("timeSource")
        vin = try required("vin")
        bundle = try required("bundle")
        campaign = try required("campaign")
        step = try required("step")
        result = try required("result")
        ecu = try optional("ecu")
        hardwarePart = try optional("hardwarePart")
        errorCode = try optional("errorCode")
        versionBefore = try optional("versionBefore")
        versionAfter = try optional("versionAfter")
        imageHashBefore = try optional("imageHashBefore")
        imageHashAfter = try optional("imageHashAfter")
        swinBefore = try optional("swinBefore")
        swinAfter = try optional("swinAfter")
        started = try optional("started")
        finished = try optional("finished")
        if let duration = members["durationMs"] {
            guard let value = duration.integerValue else { throw OTAError(.recordsFieldType, "\(source): field 'durationMs' must be an integer") }
            durationMs = value
        } else {
            durationMs = nil
        }
        categories = try strings(members["categories"], "categories")
        var references: [RegulatoryReference] = []
        if let value = members["regulatory"] {
            guard let items = value.arrayValue else { throw OTAError(.recordsFieldType, "\(source): field 'regulatory' must be an array") }
            for item in items {
                guard let kind = item["kind"]?.stringValue, let number = item["number"]?.stringValue,
                      Set(item.objectValue?.keys.map { $0 } ?? []).isSubset(of: ["kind", "number", "authority"])
                else { throw OTAError(.recordsFieldType, "\(source): each 'regulatory' entry has kind, number and optional authority") }
                references.append(RegulatoryReference(kind: kind, number: number, authority: item["authority"]?.stringValue))
            }
        }
        regulatory = references
        var readings: [String: String] = [:]
        if let value = members["preconditions"] {
            guard let object = value.objectValue else { throw OTAError(.recordsFieldType, "\(source): field 'preconditions' must be an object of strings") }
            for (key, reading) in object {
                guard let text = reading.stringValue else { throw OTAError(.recordsFieldType, "\(source): preconditions.\(key) must be a string") }
                readings[key] = text
            }
        }
        preconditions = readings
        if let value = members["notice"] {
            guard let digest = value["digest"]?.stringValue, let language = value["language"]?.stringValue, value.objectValue?.count == 2 else {
                throw OTAError(.recordsFieldType, "\(source): field 'notice' has exactly digest and language")
            }
            notice = Notice(digest: digest, language: language)
        } else {
            notice = nil
        }
        if let value = members["confirmation"] {
            guard let actorName = value["actor"]?.stringValue, let actor = Confirmation.Actor(rawValue: actorName),
                  let channel = value["channel"]?.stringValue, let answer = value["answer"]?.stringValue,
                  let at = value["at"]?.stringValue, value.objectValue?.count == 4
            else {
                throw OTAError(.recordsFieldType, "\(source): field 'confirmation' has actor (owner, driver, fleet, technician), channel, answer and at")
            }
            confirmation = Confirmation(actor: actor, channel: channel, answer: answer, at: at)
        } else {
            confirmation = nil
        }
    }

    /// Parses a record from JSON text.
    public init(jsonText: some Collection<UInt8>, source: String = "record") throws(OTAError) {
        let value: JSONValue
        do { value = try JSONValue.parse(jsonText) } catch { throw OTAError(.recordsInputInvalid, "\(source): \(error.message)") }
        try self.init(json: value, source: source)
    }
}
