package import Foundation
internal import OTABase

/// A problem found in a manifest, with the path of the field (`images[1].source.hash`).
package struct ManifestProblem: Sendable, Codable, Equatable, CustomStringConvertible {
    package let path: String
    package let message: String

    package init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    package var description: String { "\(path): \(message)" }
}

/// The rules a signed manifest must satisfy, checked by the builder before signing and by every
/// reader after the signature: consistent sizes and chunking, names, suite, notice languages.
package enum ManifestRules {
    /// Languages every user notice must be given in.
    package static let requiredNoticeLanguages = ["zh-CN", "en"]

    /// Every problem, or an empty list.
    package static func problems(in manifest: Manifest) -> [ManifestProblem] {
        var problems: [ManifestProblem] = []
        func add(_ path: String, _ message: String) { problems.append(ManifestProblem(path, message)) }

        if manifest.schema != Manifest.schemaIdentifier {
            add("schema", "expected \(Manifest.schemaIdentifier), got \(manifest.schema)")
        }
        if manifest.bundle.id.isEmpty { add("bundle.id", "empty") }
        if manifest.bundle.campaign.isEmpty { add("bundle.campaign", "empty") }
        if manifest.bundle.expires <= manifest.bundle.created { add("bundle.expires", "must be after bundle.created") }
        if manifest.targets.models.isEmpty { add("targets.models", "at least one vehicle model") }
        if let vins = manifest.targets.vins {
            for (index, vin) in vins.enumerated() where !isPlausibleVIN(vin) {
                add("targets.vins[\(index)]", "not a 17-character VIN")
            }
        }
        if manifest.images.isEmpty { add("images", "at least one image") }
        if manifest.images.count > BundleLayout.maximumImages {
            add("images", "more than \(BundleLayout.maximumImages) images")
        }

        let hashHexLength = manifest.bundle.suite.hash.byteCount * 2
        var names = Set<String>()
        for (index, image) in manifest.images.enumerated() {
            let path = "images[\(index)]"
            if !BundleLayout.isValidImageName(image.name) {
                add("\(path).name", "must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)")
            }
            if !names.insert(image.name).inserted { add("\(path).name", "duplicate image name '\(image.name)'") }
            if image.ecu.isEmpty { add("\(path).ecu", "empty") }
            if image.hardwareIds.isEmpty { add("\(path).hardwareIds", "at least one hardware id") }
            if image.slotGroup.isEmpty { add("\(path).slotGroup", "empty") }
            if SoftwareVersion(image.version) == nil {
                add(
                    "\(path).version",
                    "'\(image.version)' is not an orderable version (N.N.N, optionally -prerelease; docs/FORMAT.md, Versions)"
                )
            }
            if !isHex(image.target.hash, length: hashHexLength) {
                add("\(path).target.hash", "expected \(hashHexLength) hex digits")
            }
            if image.target.size > BundleLayout.maximumImageSize {
                add("\(path).target.size", "larger than \(BundleLayout.maximumImageSize)")
            }
            if let source = image.source, source.size > BundleLayout.maximumImageSize {
                add("\(path).source.size", "larger than \(BundleLayout.maximumImageSize)")
            }
            switch image.kind {
            case .full:
                if image.source != nil { add("\(path).source", "only delta images have a source") }
            case .delta:
                if let source = image.source {
                    if !isHex(source.hash, length: hashHexLength) {
                        add("\(path).source.hash", "expected \(hashHexLength) hex digits")
                    }
                    if SoftwareVersion(source.version) == nil {
                        add("\(path).source.version", "'\(source.version)' is not an orderable version")
                    }
                } else {
                    add("\(path).source", "missing (a delta image names the image it applies to)")
                }
            }
            if image.categories.isEmpty { add("\(path).categories", "at least one change category") }
            checkPayload(
                image.payload, image: image, path: "\(path).payload", encryption: manifest.encryption,
                hashHexLength: hashHexLength, add: add)
        }

        for language in requiredNoticeLanguages where manifest.notice[language] == nil {
            add(
                "notice.\(language)",
                "missing (the user notice is required in \(requiredNoticeLanguages.joined(separator: " and ")))")
        }
        for (language, notice) in manifest.notice.sorted(by: { $0.key < $1.key }) {
            if notice.purpose.isEmpty { add("notice.\(language).purpose", "empty") }
            if notice.content.isEmpty { add("notice.\(language).content", "empty") }
            if notice.expectedDurationMinutes <= 0 {
                add("notice.\(language).expectedDurationMinutes", "must be positive")
            }
        }
        if !(0...100).contains(manifest.preconditions.minimumBatteryPercent) {
            add("preconditions.minimumBatteryPercent", "must be 0...100")
        }
        if let gear = manifest.preconditions.gear, !isGear(gear) {
            add("preconditions.gear", "1 to 4 of A-Z 0-9 (P, D, ...)")
        }
        for (index, reference) in manifest.regulatory.enumerated() {
            if reference.number.isEmpty { add("regulatory[\(index)].number", "empty") }
            if reference.authority.isEmpty { add("regulatory[\(index)].authority", "empty") }
            if let from = reference.validFrom, let until = reference.validUntil, until <= from {
                add("regulatory[\(index)].validUntil", "must be after validFrom")
            }
        }
        if let encryption = manifest.encryption {
            if encryption.algorithm != manifest.bundle.suite.cipher {
                add(
                    "encryption.algorithm",
                    "\(encryption.algorithm.rawValue) is not the \(manifest.bundle.suite.rawValue) suite's cipher (\(manifest.bundle.suite.cipher.rawValue))"
                )
            }
            if !(BundleLayout.minimumChunkSize...BundleLayout.maximumChunkSize).contains(encryption.chunkSize) {
                add(
                    "encryption.chunkSize",
                    "must be \(BundleLayout.minimumChunkSize)...\(BundleLayout.maximumChunkSize)")
            }
        }
        if let trustUpdate = manifest.trustUpdate {
            if !isHex(trustUpdate.digest, length: hashHexLength) {
                add("trustUpdate.digest", "must be \(hashHexLength) lowercase hex digits")
            }
            if trustUpdate.version == 0 { add("trustUpdate.version", "must be at least 1") }
        }
        return problems
    }

    /// Checks one payload's sizes and chunking. Every bound is checked before the arithmetic that
    /// relies on it, so no signed number (zero, or near 2^64) can trap.
    private static func checkPayload(
        _ payload: Manifest.Payload, image: Manifest.Image, path: String, encryption: Manifest.Encryption?,
        hashHexLength: Int, add: (String, String) -> Void
    ) {
        if payload.entry != BundleLayout.payloadEntry(image.name) {
            add("\(path).entry", "must be \(BundleLayout.payloadEntry(image.name))")
        }
        var sizesInRange = true
        for (field, value, limit) in [
            ("storedSize", payload.storedSize, BundleLayout.maximumPayloadSize),
            ("compressedSize", payload.compressedSize, BundleLayout.maximumImageSize),
            ("plainSize", payload.plainSize, BundleLayout.maximumImageSize),
        ] where value > limit {
            add("\(path).\(field)", "larger than \(limit)")
            sizesInRange = false
        }
        guard (BundleLayout.minimumChunkSize...(BundleLayout.maximumChunkSize + 64)).contains(payload.chunkSize) else {
            add("\(path).chunkSize", "must be \(BundleLayout.minimumChunkSize)...\(BundleLayout.maximumChunkSize + 64)")
            return
        }
        guard sizesInRange else { return }
        // From here: sizes <= 64 GiB and chunk sizes >= 4 KiB, so nothing below can overflow.
        let expectedChunks = ceilingDivision(payload.storedSize, payload.chunkSize)
        if UInt64(payload.chunkHashes.count) != expectedChunks {
            add("\(path).chunkHashes", "\(payload.chunkHashes.count) hashes for \(expectedChunks) chunks")
        }
        for (index, hash) in payload.chunkHashes.enumerated() where !isHex(hash, length: hashHexLength) {
            add("\(path).chunkHashes[\(index)]", "expected \(hashHexLength) hex digits")
            break
        }
        if !isHex(payload.plainHash, length: hashHexLength) {
            add("\(path).plainHash", "expected \(hashHexLength) hex digits")
        }
        if image.kind == .full && (payload.plainSize != image.target.size || payload.plainHash != image.target.hash) {
            add(
                "\(path).plainHash",
                "a full image's payload content is the image: plainSize and plainHash must equal target")
        }
        if payload.compression == .none && payload.compressedSize != payload.plainSize {
            add("\(path).compressedSize", "an uncompressed payload's compressed size is its plain size")
        }
        if let encryption {
            guard let prefix = payload.noncePrefix, isHex(prefix, length: ChunkedAEAD.noncePrefixLength * 2) else {
                add(
                    "\(path).noncePrefix",
                    "expected \(ChunkedAEAD.noncePrefixLength * 2) hex digits for an encrypted bundle")
                return
            }
            // An out-of-range encryption chunk size is reported once, at encryption.chunkSize.
            guard (BundleLayout.minimumChunkSize...BundleLayout.maximumChunkSize).contains(encryption.chunkSize) else {
                return
            }
            let tag = UInt64(encryption.algorithm.tagLength)
            if payload.chunkSize != encryption.chunkSize + tag {
                add("\(path).chunkSize", "must be encryption.chunkSize + tag length")
            }
            let plainChunks = max(1, ceilingDivision(payload.compressedSize, encryption.chunkSize))
            if payload.storedSize != payload.compressedSize + plainChunks * tag {
                add("\(path).storedSize", "does not match the compressed size plus one tag per chunk")
            }
        } else {
            if payload.noncePrefix != nil { add("\(path).noncePrefix", "only encrypted bundles have a nonce prefix") }
            if payload.storedSize != payload.compressedSize {
                add("\(path).storedSize", "must equal compressedSize when not encrypted")
            }
        }
    }

    /// `⌈value / divisor⌉` without the overflow of `(value + divisor - 1) / divisor`; divisor > 0.
    static func ceilingDivision(_ value: UInt64, _ divisor: UInt64) -> UInt64 {
        value / divisor + (value % divisor == 0 ? 0 : 1)
    }

    /// The regulatory references the change categories need (MIIT filing rules, as digested in
    /// the design): a filing for safety, energy, environmental, anti-theft and driving-assistance
    /// changes; a filing and an AD approval for automated driving; a recall filing for a recall.
    package static func referencesNeeded(for categories: Set<ChangeCategory>) -> [RegulatoryReference.Kind] {
        var needed = Set<RegulatoryReference.Kind>()
        for category in categories {
            switch category {
            case .safety, .energy, .environmental, .antiTheft, .drivingAssistance: needed.insert(.filing)
            case .automatedDriving: needed.formUnion([.filing, .adApproval])
            case .recall: needed.insert(.recallFiling)
            case .securityFix, .other: break
            }
        }
        return needed.sorted { $0.rawValue < $1.rawValue }
    }

    /// What a vehicle would refuse in a well-formed manifest at `now` (problems), and what it may
    /// refuse later or elsewhere (warnings): the builder checks these before it signs.
    package static func vehicleRefusals(in manifest: Manifest, at now: Date, maximumClockSkew: TimeInterval = 86_400)
        -> (problems: [ManifestProblem], warnings: [ManifestProblem])
    {
        var problems: [ManifestProblem] = []
        var warnings: [ManifestProblem] = []
        if manifest.bundle.expires <= now {
            problems.append(
                ManifestProblem(
                    "bundle.expires",
                    "\(Timestamp.format(manifest.bundle.expires)) has passed: every vehicle refuses the bundle (manifest.expired)"
                ))
        }
        if manifest.bundle.created > now.addingTimeInterval(maximumClockSkew) {
            problems.append(
                ManifestProblem(
                    "bundle.created",
                    "\(Timestamp.format(manifest.bundle.created)) is in the future: vehicles refuse it (manifest.not-yet-valid)"
                ))
        }
        for kind in referencesNeeded(for: manifest.categories) {
            let references = manifest.regulatory.enumerated().filter { $0.element.type == kind }
            guard !references.isEmpty else {
                let categories = manifest.categories.sorted().map(\.rawValue).joined(separator: ", ")
                problems.append(
                    ManifestProblem(
                        "regulatory",
                        "categories \(categories) need a \(kind.rawValue) reference: vehicles refuse the bundle without one (filing.missing)"
                    ))
                continue
            }
            if !references.contains(where: {
                ($0.element.validFrom ?? .distantPast) <= now && now < ($0.element.validUntil ?? .distantFuture)
            }) {
                warnings.append(
                    ManifestProblem(
                        "regulatory[\(references[0].offset)]",
                        "no \(kind.rawValue) reference is valid now: vehicles refuse the bundle until one is (filing.expired)"
                    ))
            }
            for (index, reference) in references
            where (reference.validUntil ?? .distantFuture) < manifest.bundle.expires {
                warnings.append(
                    ManifestProblem(
                        "regulatory[\(index)].validUntil",
                        "ends before the bundle expires: vehicles refuse it after \(Timestamp.format(reference.validUntil!))"
                    ))
            }
        }
        return (problems, warnings)
    }

    /// A gear as vehicles report it: 1 to 4 of A-Z and 0-9 (`P`, `N`, `D`, `M1`).
    package static func isGear(_ text: String) -> Bool {
        (1...4).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }
    }

    static func isHex(_ text: String, length: Int) -> Bool {
        text.utf8.count == length && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// 17 characters of A-Z (no I, O, Q) and 0-9.
    package static func isPlausibleVIN(_ vin: String) -> Bool {
        vin.utf8.count == 17
            && vin.utf8.allSatisfy {
                (0x30...0x39).contains($0) || ((0x41...0x5a).contains($0) && $0 != 0x49 && $0 != 0x4f && $0 != 0x51)
            }
    }
}
