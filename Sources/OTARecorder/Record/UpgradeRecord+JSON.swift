public import OTACore

/// The record's canonical JSON (docs/FORMAT.md, Records): absent optionals and empty arrays are
/// left out, never `null`; reading refuses unknown members, wrong types and out-of-range numbers.
extension UpgradeRecord {
    static let members: JSONKeys = [
        "attempt", "boot", "confirmation", "durationMs", "ecus", "errorCode", "finished", "notice", "outcome", "phase",
        "preconditions", "reasons", "repository", "resultNotices", "started", "step", "time", "trust", "update",
    ]
    static let trustMembers: JSONKeys = [
        "anchorsAdded", "anchorsRetired", "changed", "crlsApplied", "crlsNotNewer", "fromVersion", "kind", "recovery",
        "source", "toVersion",
    ]
    static let repositoryMembers: JSONKeys = [
        "clockFloor", "download", "events", "floorBounded", "repository", "required", "rootVersion", "signedAt",
        "snapshotVersion", "target",
        "targetsVersion", "timestampVersion", "workshop",
    ]
    static let downloadMembers: JSONKeys = [
        "bytes", "received", "refetchedChunks", "resumedFrom", "retries", "retryLog",
    ]
    static let updateMembers: JSONKeys = [
        "approval", "bundle", "campaign", "categories", "manifestDigest", "references", "signers",
    ]
    static let ecuMembers: JSONKeys = [
        "ecu", "hardwarePart", "imageHashAfter", "imageHashBefore", "kind", "rxswinAfter", "rxswinBefore",
        "securityVersionAfter", "securityVersionBefore", "swinAfter", "swinBefore", "versionAfter", "versionBefore",
    ]

    /// The longest duration a record may state: 100 years.
    public static let maximumDurationMs: Int64 = 100 * 366 * 86_400_000

    /// The record as canonical JSON (the VIN is the log's and not repeated here).
    package var json: JSONValue {
        var out = JSONObjectWriter()
        out.set("time", time)
        out.set("attempt", attempt)
        out.set("phase", phase)
        out.set("step", step)
        out.set("outcome", outcome)
        out.set("errorCode", errorCode)
        out.set("reasons", array: reasons.map { .object(["code": .string($0.code), "message": .string($0.message)]) })
        if let update { out.set("update", json: Self.json(update)) }
        out.set("ecus", array: ecus.map(Self.json))
        if let preconditions {
            var readings = JSONObjectWriter()
            readings.set("parked", preconditions.parked)
            readings.set("gear", preconditions.gear)
            readings.set("batteryPercent", preconditions.batteryPercent)
            readings.set("driving", preconditions.driving)
            readings.set("doorsUnlockable", preconditions.doorsUnlockable)
            out.set("preconditions", json: readings.value)
        }
        if let boot {
            var reading = JSONObjectWriter()
            reading.set("booted", boot.booted)
            reading.set("triesRemaining", boot.triesRemaining)
            reading.set("count", unsigned: boot.count)
            reading.set("unrecorded", unsigned: boot.unrecorded)
            out.set("boot", json: reading.value)
        }
        if let repository { out.set("repository", json: Self.json(repository)) }
        if let trust {
            var item = JSONObjectWriter()
            item.set("source", trust.source)
            item.set("kind", trust.kind)
            item.set("fromVersion", unsigned: trust.fromVersion)
            item.set("toVersion", unsigned: trust.toVersion)
            item.set("anchorsAdded", array: trust.anchorsAdded.map { .string($0) })
            item.set("anchorsRetired", array: trust.anchorsRetired.map { .string($0) })
            item.set("crlsApplied", array: trust.crlsApplied.map { .string($0) })
            item.set("crlsNotNewer", array: trust.crlsNotNewer.map { .string($0) })
            item.set("changed", trust.changed)
            item.set("recovery", trust.recovery)
            out.set("trust", json: item.value)
        }
        if let notice { out.set("notice", json: Self.json(notice)) }
        if let confirmation {
            var answer = JSONObjectWriter()
            answer.set("party", confirmation.party)
            answer.set("channel", confirmation.channel)
            answer.set("answer", confirmation.answer)
            answer.set("at", confirmation.at)
            out.set("confirmation", json: answer.value)
        }
        out.set("resultNotices", array: resultNotices.map(Self.json))
        out.set("started", started)
        out.set("finished", finished)
        out.set("durationMs", durationMs)
        return out.value
    }

    private static func json(_ notice: NoticeShown) -> JSONValue {
        .object(["digest": .string(notice.digest), "language": .string(notice.language)])
    }

    private static func json(_ facts: RepositoryFacts) -> JSONValue {
        var out = JSONObjectWriter()
        out.set("repository", facts.repository)
        out.set("target", facts.target)
        out.set("required", facts.required)
        out.set("workshop", facts.workshop)
        out.set("rootVersion", facts.rootVersion)
        out.set("timestampVersion", facts.timestampVersion)
        out.set("snapshotVersion", facts.snapshotVersion)
        out.set("targetsVersion", facts.targetsVersion)
        out.set("events", array: facts.events.map { .string($0) })
        out.set("signedAt", facts.signedAt)
        out.set("clockFloor", facts.clockFloor)
        out.set("floorBounded", facts.floorBounded)
        if let download = facts.download {
            var reading = JSONObjectWriter()
            reading.set("bytes", unsigned: download.bytes)
            reading.set("resumedFrom", unsigned: download.resumedFrom)
            reading.set("received", unsigned: download.received)
            reading.set("refetchedChunks", unsigned: download.refetchedChunks)
            reading.set("retries", unsigned: download.retries)
            reading.set("retryLog", download.retryLog)
            out.set("download", json: reading.value)
        }
        return out.value
    }

    private static func repository(_ item: JSONObjectReader) throws(OTAError) -> RepositoryFacts {
        let versions: ClosedRange<Int64> = 0...Int64.max
        var facts = RepositoryFacts(
            repository: try item.optionalString("repository", maximumBytes: 2048),
            target: try item.optionalString("target", maximumBytes: 1024),
            required: try item.optionalBool("required"), workshop: try item.optionalBool("workshop"),
            rootVersion: try item.optionalInteger("rootVersion", in: versions),
            timestampVersion: try item.optionalInteger("timestampVersion", in: versions),
            snapshotVersion: try item.optionalInteger("snapshotVersion", in: versions),
            targetsVersion: try item.optionalInteger("targetsVersion", in: versions),
            signedAt: try item.optionalInstant("signedAt"), clockFloor: try item.optionalInstant("clockFloor"),
            floorBounded: try item.optionalBool("floorBounded"))
        facts.events = try item.array("events", maximumCount: 64) { value, path throws(OTAError) in
            guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 1024 else {
                throw OTAError(.recordsFieldType, "\(path): must be a non-empty string of at most 1024 bytes")
            }
            return text
        }
        if let download = try item.optionalObject("download", allowed: Self.downloadMembers) {
            facts.download = DownloadReading(
                bytes: try download.optionalUnsigned("bytes"),
                resumedFrom: try download.optionalUnsigned("resumedFrom"),
                received: try download.optionalUnsigned("received"),
                refetchedChunks: try download.optionalUnsigned("refetchedChunks"),
                retries: try download.optionalUnsigned("retries"),
                retryLog: try download.optionalString("retryLog", maximumBytes: 4096))
        }
        return facts
    }

    private static func trust(_ item: JSONObjectReader) throws(OTAError) -> TrustFacts {
        func texts(_ key: String) throws(OTAError) -> [String] {
            try item.array(key, maximumCount: 64) { value, path throws(OTAError) in
                guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 1024 else {
                    throw OTAError(.recordsFieldType, "\(path): must be a non-empty string of at most 1024 bytes")
                }
                return text
            }
        }
        return TrustFacts(
            source: try item.optionalString("source", maximumBytes: 1024),
            kind: try item.optionalString("kind", maximumBytes: 32),
            fromVersion: try item.optionalUnsigned("fromVersion"), toVersion: try item.optionalUnsigned("toVersion"),
            anchorsAdded: try texts("anchorsAdded"), anchorsRetired: try texts("anchorsRetired"),
            crlsApplied: try texts("crlsApplied"),
            crlsNotNewer: try texts("crlsNotNewer"), changed: try item.optionalBool("changed"),
            recovery: try item.optionalEnumeration("recovery", TrustFacts.Recovery.self))
    }

    private static func json(_ update: UpdateFacts) -> JSONValue {
        var out = JSONObjectWriter()
        out.set("bundle", update.bundle)
        out.set("campaign", update.campaign)
        out.set("manifestDigest", update.manifestDigest)
        out.set("categories", array: update.categories.map { .string($0.rawValue) })
        out.set(
            "references",
            array: update.references.map {
                .object([
                    "kind": .string($0.kind.rawValue), "number": .string($0.number), "authority": .string($0.authority),
                ])
            })
        out.set(
            "signers",
            array: update.signers.map { .object(["subject": .string($0.subject), "keyId": .string($0.keyID)]) })
        if let approval = update.approval {
            var item = JSONObjectWriter()
            item.set("number", approval.number)
            item.set("authority", approval.authority)
            item.set("validUntil", approval.validUntil)
            out.set("approval", json: item.value)
        }
        return out.value
    }

    private static func json(_ ecu: ECUFacts) -> JSONValue {
        var out = JSONObjectWriter()
        out.set("ecu", ecu.ecu)
        out.set("hardwarePart", ecu.hardwarePart)
        out.set("kind", ecu.kind)
        out.set("versionBefore", ecu.versionBefore)
        out.set("versionAfter", ecu.versionAfter)
        out.set("securityVersionBefore", unsigned: ecu.securityVersionBefore)
        out.set("securityVersionAfter", unsigned: ecu.securityVersionAfter)
        out.set("rxswinBefore", ecu.rxswinBefore)
        out.set("rxswinAfter", ecu.rxswinAfter)
        out.set("swinBefore", ecu.swinBefore)
        out.set("swinAfter", ecu.swinAfter)
        out.set("imageHashBefore", ecu.imageHashBefore)
        out.set("imageHashAfter", ecu.imageHashAfter)
        return out.value
    }

    /// Reads a record body of the log of `vin` built in memory or parsed from other text (through
    /// its canonical encoding); `source` names the input in errors.
    package init(json: JSONValue, vin: String, source: String = "record") throws(OTAError) {
        try self.init(json: try JSONDocument.reading(json, source: source).root, vin: vin, source: source)
    }

    /// Reads a record body of the log of `vin`; `source` names the input in errors.
    package init(json: JSONNode, vin: String, source: String = "record") throws(OTAError) {
        let object = try JSONObjectReader(json, path: source, allowed: Self.members)
        time = try object.time("time")
        self.vin = vin
        attempt = try object.optionalString("attempt", maximumBytes: 64)
        phase = try object.optionalEnumeration("phase", RecordPhase.self)
        step = try object.enumeration("step", RecordStep.self)
        outcome = try object.enumeration("outcome", RecordOutcome.self)
        errorCode = try object.optionalString("errorCode", maximumBytes: 128)
        reasons = try object.array("reasons", maximumCount: 64) { value, path throws(OTAError) in
            let item = try JSONObjectReader(value, path: path, allowed: ["code", "message"])
            return RecordReason(
                code: try item.string("code", maximumBytes: 128),
                message: try item.string("message", maximumBytes: 8192))
        }
        if let item = try object.optionalObject("update", allowed: Self.updateMembers) {
            update = try Self.update(item)
        } else {
            update = nil
        }
        ecus = try object.array("ecus") { value, path throws(OTAError) in
            try Self.ecu(JSONObjectReader(value, path: path, allowed: Self.ecuMembers))
        }
        if let item = try object.optionalObject(
            "preconditions", allowed: ["batteryPercent", "doorsUnlockable", "driving", "gear", "parked"])
        {
            preconditions = PreconditionReadings(
                parked: try item.optionalBool("parked"), gear: try item.optionalString("gear", maximumBytes: 16),
                batteryPercent: try item.optionalInteger("batteryPercent", in: 0...100),
                driving: try item.optionalBool("driving"),
                doorsUnlockable: try item.optionalBool("doorsUnlockable"))
        } else {
            preconditions = nil
        }
        if let item = try object.optionalObject("boot", allowed: ["booted", "count", "triesRemaining", "unrecorded"]) {
            boot = BootReading(
                booted: try item.optionalString("booted", maximumBytes: 1024),
                triesRemaining: try item.optionalInteger("triesRemaining", in: 0...1000),
                count: try item.optionalUnsigned("count"), unrecorded: try item.optionalUnsigned("unrecorded"))
        } else {
            boot = nil
        }
        if let item = try object.optionalObject("repository", allowed: Self.repositoryMembers) {
            repository = try Self.repository(item)
        } else {
            repository = nil
        }
        if let item = try object.optionalObject("trust", allowed: Self.trustMembers) {
            trust = try Self.trust(item)
        } else {
            trust = nil
        }
        if let item = try object.optionalObject("notice", allowed: ["digest", "language"]) {
            notice = try Self.notice(item)
        } else {
            notice = nil
        }
        if let item = try object.optionalObject("confirmation", allowed: ["answer", "at", "channel", "party"]) {
            confirmation = Confirmation(
                party: try item.enumeration("party", ConfirmingParty.self),
                channel: try item.string("channel", maximumBytes: 64),
                answer: try item.enumeration("answer", ConsentAnswer.self), at: try item.time("at"))
        } else {
            confirmation = nil
        }
        resultNotices = try object.array("resultNotices", maximumCount: 16) { value, path throws(OTAError) in
            try Self.notice(JSONObjectReader(value, path: path, allowed: ["digest", "language"]))
        }
        started = try object.optionalTime("started")
        finished = try object.optionalTime("finished")
        durationMs = try object.optionalInteger("durationMs", in: 0...Self.maximumDurationMs)
    }

    private static func notice(_ item: JSONObjectReader) throws(OTAError) -> NoticeShown {
        NoticeShown(digest: try item.digest("digest"), language: try item.string("language", maximumBytes: 35))
    }

    private static func update(_ item: JSONObjectReader) throws(OTAError) -> UpdateFacts {
        var facts = UpdateFacts(
            bundle: try item.string("bundle", maximumBytes: 256),
            campaign: try item.string("campaign", maximumBytes: 256))
        facts.manifestDigest = try item.optionalDigest("manifestDigest")
        facts.categories = try item.array("categories", maximumCount: 32) { value, path throws(OTAError) in
            guard let text = value.stringValue,
                let category = ChangeCategory.allCases.first(where: { $0.rawValue.utf8.elementsEqual(text.utf8) })
            else {
                throw OTAError(
                    .recordsFieldType,
                    "\(path): must be one of " + ChangeCategory.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return category
        }
        facts.references = try item.array("references", maximumCount: 64) { value, path throws(OTAError) in
            let reference = try JSONObjectReader(value, path: path, allowed: ["authority", "kind", "number"])
            return UpdateFacts.Reference(
                kind: try reference.enumeration("kind", RegulatoryReference.Kind.self),
                number: try reference.string("number", maximumBytes: 256),
                authority: try reference.string("authority", maximumBytes: 256))
        }
        facts.signers = try item.array("signers", maximumCount: 16) { value, path throws(OTAError) in
            let signer = try JSONObjectReader(value, path: path, allowed: ["keyId", "subject"])
            return UpdateFacts.Signer(
                subject: try signer.string("subject", maximumBytes: 1024), keyID: try signer.digest("keyId"))
        }
        if let approval = try item.optionalObject("approval", allowed: ["authority", "number", "validUntil"]) {
            facts.approval = UpdateFacts.Approval(
                number: try approval.string("number", maximumBytes: 256),
                authority: try approval.string("authority", maximumBytes: 1024),
                validUntil: try approval.optionalInstant("validUntil"))
        }
        return facts
    }

    private static func ecu(_ item: JSONObjectReader) throws(OTAError) -> ECUFacts {
        ECUFacts(
            ecu: try item.string("ecu", maximumBytes: 128),
            hardwarePart: try item.optionalString("hardwarePart", maximumBytes: 128),
            kind: try item.optionalEnumeration("kind", Manifest.ImageKind.self),
            versionBefore: try item.optionalString("versionBefore", maximumBytes: 128),
            versionAfter: try item.optionalString("versionAfter", maximumBytes: 128),
            securityVersionBefore: try item.optionalUnsigned("securityVersionBefore"),
            securityVersionAfter: try item.optionalUnsigned("securityVersionAfter"),
            rxswinBefore: try item.optionalString("rxswinBefore", maximumBytes: 256),
            rxswinAfter: try item.optionalString("rxswinAfter", maximumBytes: 256),
            swinBefore: try item.optionalString("swinBefore", maximumBytes: 256),
            swinAfter: try item.optionalString("swinAfter", maximumBytes: 256),
            imageHashBefore: try item.optionalDigest("imageHashBefore"),
            imageHashAfter: try item.optionalDigest("imageHashAfter"))
    }

    /// Parses a record from JSON text for the log of `vin`.
    public init(jsonText: some Collection<UInt8>, vin: String, source: String = "record") throws(OTAError) {
        let value: JSONValue
        do { value = try JSONValue.parse(jsonText) } catch {
            throw OTAError(.recordsInputInvalid, "\(source): \(error.message)")
        }
        try self.init(json: value, vin: vin, source: source)
    }
}

extension UpgradeRecord {
    /// The record cut to what the schema accepts, so a value from outside (a long sensor
    /// string, an empty field in a manifest) can never make the log unreadable: strings longer
    /// than their field allows are shortened (on a character boundary, marked with `…`), empty
    /// optional strings are left out, readings outside their range are left out.
    public func fitted() -> UpgradeRecord {
        func clip(_ text: String, _ limit: Int) -> String {
            guard text.utf8.count > limit else { return text.isEmpty ? "-" : text }
            var out = ""
            for character in text {
                if out.utf8.count + character.utf8.count > limit - 3 { break }
                out.append(character)
            }
            return out + "…"
        }
        func clipOptional(_ text: String?, _ limit: Int) -> String? {
            guard let text, !text.isEmpty else { return nil }
            return clip(text, limit)
        }
        func digest(_ text: String?) -> String? { text.flatMap { JSONObjectReader.isDigest($0) ? $0 : nil } }
        var out = self
        out.attempt = clipOptional(attempt, 64)
        out.errorCode = clipOptional(errorCode, 128)
        out.reasons = reasons.prefix(64).map { RecordReason(code: clip($0.code, 128), message: clip($0.message, 8192)) }
        if var update = out.update {
            update.bundle = clip(update.bundle, 256)
            update.campaign = clip(update.campaign, 256)
            update.manifestDigest = digest(update.manifestDigest)
            update.categories = Array(update.categories.prefix(32))
            update.references = update.references.prefix(64).map {
                UpdateFacts.Reference(kind: $0.kind, number: clip($0.number, 256), authority: clip($0.authority, 256))
            }
            update.signers = update.signers.prefix(16).compactMap { signer in
                JSONObjectReader.isDigest(signer.keyID)
                    ? UpdateFacts.Signer(subject: clip(signer.subject, 1024), keyID: signer.keyID) : nil
            }
            if let approval = update.approval {
                update.approval = UpdateFacts.Approval(
                    number: clip(approval.number, 256), authority: clip(approval.authority, 1024),
                    validUntil: approval.validUntil.flatMap { RecordTime.parseMilliseconds($0) != nil ? $0 : nil })
            }
            out.update = update
        }
        out.ecus = ecus.prefix(256).map { ecu in
            var fitted = ecu
            fitted.ecu = clip(ecu.ecu, 128)
            fitted.hardwarePart = clipOptional(ecu.hardwarePart, 128)
            fitted.versionBefore = clipOptional(ecu.versionBefore, 128)
            fitted.versionAfter = clipOptional(ecu.versionAfter, 128)
            fitted.rxswinBefore = clipOptional(ecu.rxswinBefore, 256)
            fitted.rxswinAfter = clipOptional(ecu.rxswinAfter, 256)
            fitted.swinBefore = clipOptional(ecu.swinBefore, 256)
            fitted.swinAfter = clipOptional(ecu.swinAfter, 256)
            fitted.imageHashBefore = digest(ecu.imageHashBefore)
            fitted.imageHashAfter = digest(ecu.imageHashAfter)
            return fitted
        }
        if var readings = out.preconditions {
            readings.gear = clipOptional(readings.gear, 16)
            if let battery = readings.batteryPercent, !(0...100).contains(battery) { readings.batteryPercent = nil }
            out.preconditions = readings
        }
        if var reading = out.boot {
            reading.booted = clipOptional(reading.booted, 1024)
            if let tries = reading.triesRemaining, !(0...1000).contains(tries) { reading.triesRemaining = nil }
            out.boot = reading
        }
        if var facts = out.repository {
            facts.repository = clipOptional(facts.repository, 2048)
            facts.target = clipOptional(facts.target, 1024)
            facts.events = facts.events.prefix(64).map { clip($0, 1024) }
            facts.signedAt = facts.signedAt.flatMap { RecordTime.parseMilliseconds($0) != nil ? $0 : nil }
            facts.clockFloor = facts.clockFloor.flatMap { RecordTime.parseMilliseconds($0) != nil ? $0 : nil }
            for version in [\RepositoryFacts.rootVersion, \.timestampVersion, \.snapshotVersion, \.targetsVersion] {
                if let value = facts[keyPath: version], value < 0 { facts[keyPath: version] = nil }
            }
            if var download = facts.download {
                download.retryLog = clipOptional(download.retryLog, 4096)
                facts.download = download
            }
            out.repository = facts
        }
        if var facts = out.trust {
            facts.source = clipOptional(facts.source, 1024)
            facts.kind = clipOptional(facts.kind, 32)
            facts.anchorsAdded = facts.anchorsAdded.prefix(64).map { clip($0, 1024) }
            facts.anchorsRetired = facts.anchorsRetired.prefix(64).map { clip($0, 1024) }
            facts.crlsApplied = facts.crlsApplied.prefix(64).map { clip($0, 1024) }
            facts.crlsNotNewer = facts.crlsNotNewer.prefix(64).map { clip($0, 1024) }
            out.trust = facts
        }
        if let notice {
            out.notice =
                JSONObjectReader.isDigest(notice.digest)
                ? NoticeShown(digest: notice.digest, language: clip(notice.language, 35)) : nil
        }
        if var confirmation = out.confirmation {
            confirmation.channel = clip(confirmation.channel, 64)
            out.confirmation = confirmation
        }
        out.resultNotices = resultNotices.prefix(16).filter { JSONObjectReader.isDigest($0.digest) }
            .map { NoticeShown(digest: $0.digest, language: clip($0.language, 35)) }
        if let duration = durationMs { out.durationMs = min(max(duration, 0), Self.maximumDurationMs) }
        return out
    }
}
