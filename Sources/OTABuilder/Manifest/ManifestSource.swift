public import Foundation
public import OTACore

/// The manifest a release engineer writes (YAML or JSON, under `manifests/`): everything of the
/// signed manifest except what the builder computes (hashes, sizes, chunking, encryption).
public struct ManifestSource: Sendable {
    public struct Image: Sendable {
        public var name: String
        /// Image file, relative to the `--images` directory.
        public var file: String
        public var ecu: String
        public var hardwareIds: [String]
        public var slotGroup: String
        public var version: String
        public var securityVersion: UInt64
        public var allowDowngrade: Bool
        public var kind: Manifest.ImageKind
        /// For a delta: the earlier image's file (relative to `--images`) and version.
        public var sourceFile: String?
        public var sourceVersion: String?
        public var compression: Manifest.Compression
        public var rxswin: Manifest.SoftwareIdentification?
        public var swin: Manifest.SoftwareIdentification?
        public var categories: [ChangeCategory]
    }

    public var bundleID: String
    public var campaign: String
    public var created: Date?
    public var expires: Date
    public var suite: Suite
    public var description: String?
    public var targets: Manifest.Targets
    public var images: [Image]
    public var regulatory: [RegulatoryReference]
    public var impact: Impact
    public var notice: [String: Notice]
    public var preconditions: Preconditions
    public var recovery: RecoveryStrategy

    /// Reads and validates a manifest file; every problem is reported at once
    /// (`manifest.invalid`, message listing `path: problem` lines).
    public static func load(_ path: String) throws(OTAError) -> ManifestSource {
        let bytes = try FileSystem.read(path, limit: BundleLayout.maximumManifestSize)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw OTAError(.manifestEncoding, "\(path): not UTF-8 text")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(OTAError) -> ManifestSource {
        let tree = try SourceTree.parse(text, source: source)
        let reader = FieldReader()
        let parsed = ManifestSourceParser(reader: reader).parse(tree)
        guard let parsed, reader.problems.isEmpty else {
            throw ManifestSource.invalid(reader.problems, source: source)
        }
        return parsed
    }

    static func invalid(_ problems: [ManifestProblem], source: String) -> OTAError {
        OTAError(
            .manifestInvalid,
            "\(source): \(problems.count) problem(s):\n  " + problems.map(\.description).joined(separator: "\n  "))
    }
}

/// Walks a `SourceTree` into a `ManifestSource`.
struct ManifestSourceParser {
    let reader: FieldReader

    func parse(_ tree: SourceTree) -> ManifestSource? {
        guard
            let root = reader.map(
                tree, "",
                allowed: [
                    "schema", "bundle", "targets", "images", "regulatory", "impact", "notice", "preconditions",
                    "recovery",
                ])
        else {
            return nil
        }
        if let schema = reader.string(root["schema"], "schema", required: false), schema != Manifest.schemaIdentifier {
            reader.problem("schema", "expected \(Manifest.schemaIdentifier)")
        }
        let bundle = reader.map(
            root["bundle"], "bundle", allowed: ["id", "campaign", "created", "expires", "suite", "description"])
        let id = reader.string(bundle?["id"], "bundle.id")
        let campaign = reader.string(bundle?["campaign"], "bundle.campaign")
        let created = reader.date(bundle?["created"], "bundle.created", required: false)
        let expires = reader.date(bundle?["expires"], "bundle.expires")
        let suite = reader.choice(bundle?["suite"], "bundle.suite", as: Suite.self)
        let description = reader.string(bundle?["description"], "bundle.description", required: false)
        if let created, let expires, expires <= created {
            reader.problem("bundle.expires", "must be after bundle.created")
        }

        let targetsMap = reader.map(root["targets"], "targets", allowed: ["models", "vins"])
        let models = reader.strings(targetsMap?["models"], "targets.models", nonEmpty: true)
        let vins = reader.strings(targetsMap?["vins"], "targets.vins", required: false)
        for (index, vin) in (vins ?? []).enumerated() where !ManifestRules.isPlausibleVIN(vin) {
            reader.problem("targets.vins[\(index)]", "not a 17-character VIN")
        }

        var images: [ManifestSource.Image] = []
        let imageTrees = reader.list(root["images"], "images") ?? []
        if root["images"] != nil && imageTrees.isEmpty { reader.problem("images", "at least one image") }
        var names = Set<String>()
        for (index, tree) in imageTrees.enumerated() {
            if let image = parseImage(tree, path: "images[\(index)]") {
                if !names.insert(image.name).inserted {
                    reader.problem("images[\(index)].name", "duplicate image name '\(image.name)'")
                }
                images.append(image)
            }
        }

        var regulatory: [RegulatoryReference] = []
        for (index, tree) in (reader.list(root["regulatory"], "regulatory", required: false) ?? []).enumerated() {
            let path = "regulatory[\(index)]"
            let map = reader.map(
                tree, path, allowed: ["type", "number", "authority", "scope", "validFrom", "validUntil"])
            let type = reader.choice(map?["type"], "\(path).type", as: RegulatoryReference.Kind.self)
            let number = reader.string(map?["number"], "\(path).number")
            let authority = reader.string(map?["authority"], "\(path).authority")
            let scope = reader.string(map?["scope"], "\(path).scope", required: false)
            let from = reader.date(map?["validFrom"], "\(path).validFrom", required: false)
            let until = reader.date(map?["validUntil"], "\(path).validUntil", required: false)
            if let from, let until, until <= from { reader.problem("\(path).validUntil", "must be after validFrom") }
            if let type, let number, let authority {
                regulatory.append(
                    RegulatoryReference(
                        type: type, number: number, authority: authority, scope: scope, validFrom: from,
                        validUntil: until))
            }
        }

        let impactMap = reader.map(
            root["impact"], "impact",
            allowed: ["affectedSystems", "typeApprovedSystems", "addedFunctions", "alteredFunctions"])
        let impact = Impact(
            affectedSystems: reader.strings(impactMap?["affectedSystems"], "impact.affectedSystems") ?? [],
            typeApprovedSystems: reader.strings(
                impactMap?["typeApprovedSystems"], "impact.typeApprovedSystems", required: false) ?? [],
            addedFunctions: reader.strings(impactMap?["addedFunctions"], "impact.addedFunctions", required: false)
                ?? [],
            alteredFunctions: reader.strings(impactMap?["alteredFunctions"], "impact.alteredFunctions", required: false)
                ?? [])

        var notices: [String: Notice] = [:]
        if case .map(let pairs)? = root["notice"] {
            for (language, tree) in pairs {
                let path = "notice.\(language)"
                let map = reader.map(
                    tree, path,
                    allowed: [
                        "purpose", "content", "expectedDurationMinutes", "functionsUnavailable", "precautions",
                        "impact",
                    ])
                let notice = Notice(
                    purpose: reader.string(map?["purpose"], "\(path).purpose") ?? "",
                    content: reader.string(map?["content"], "\(path).content") ?? "",
                    expectedDurationMinutes: Int(
                        reader.integer(
                            map?["expectedDurationMinutes"], "\(path).expectedDurationMinutes", range: 1...1440) ?? 0),
                    functionsUnavailable: reader.strings(map?["functionsUnavailable"], "\(path).functionsUnavailable")
                        ?? [],
                    precautions: reader.strings(map?["precautions"], "\(path).precautions") ?? [],
                    impact: reader.string(map?["impact"], "\(path).impact") ?? "")
                notices[language] = notice
            }
        } else {
            _ = reader.map(root["notice"], "notice", allowed: [])
        }
        for language in ManifestRules.requiredNoticeLanguages where notices[language] == nil && root["notice"] != nil {
            reader.problem(
                "notice.\(language)",
                "missing (the user notice is required in \(ManifestRules.requiredNoticeLanguages.joined(separator: " and ")))"
            )
        }

        let pre = reader.map(
            root["preconditions"], "preconditions",
            allowed: [
                "parked", "gear", "minimumBatteryPercent", "noDrivingDuringInstall", "skilledPersonRequired",
                "doorsUnlockable",
            ])
        let preconditions = Preconditions(
            parked: reader.bool(pre?["parked"], "preconditions.parked") ?? true,
            gear: reader.string(pre?["gear"], "preconditions.gear", required: false),
            minimumBatteryPercent: Int(
                reader.integer(pre?["minimumBatteryPercent"], "preconditions.minimumBatteryPercent", range: 0...100)
                    ?? 0),
            noDrivingDuringInstall: reader.bool(
                pre?["noDrivingDuringInstall"], "preconditions.noDrivingDuringInstall", default: true) ?? true,
            skilledPersonRequired: reader.bool(
                pre?["skilledPersonRequired"], "preconditions.skilledPersonRequired", default: false) ?? false,
            doorsUnlockable: reader.bool(pre?["doorsUnlockable"], "preconditions.doorsUnlockable", default: true)
                ?? true)
        let recovery = reader.choice(root["recovery"], "recovery", as: RecoveryStrategy.self)

        guard let id, let campaign, let expires, let suite, let models, let recovery else { return nil }
        return ManifestSource(
            bundleID: id, campaign: campaign, created: created, expires: expires, suite: suite,
            description: description,
            targets: Manifest.Targets(models: models, vins: vins), images: images, regulatory: regulatory,
            impact: impact,
            notice: notices, preconditions: preconditions, recovery: recovery)
    }

    private func parseImage(_ tree: SourceTree, path: String) -> ManifestSource.Image? {
        let map = reader.map(
            tree, path,
            allowed: [
                "name", "file", "ecu", "hardwareIds", "slotGroup", "version", "securityVersion", "allowDowngrade",
                "kind", "source", "compression", "rxswin", "swin", "categories",
            ])
        let name = reader.string(map?["name"], "\(path).name")
        if let name, !BundleLayout.isValidImageName(name) {
            reader.problem("\(path).name", "must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)")
        }
        let file = reader.string(map?["file"], "\(path).file")
        if let file, file.hasPrefix("/") || file.split(separator: "/").contains("..") {
            reader.problem("\(path).file", "must be a relative path inside the images directory")
        }
        let ecu = reader.string(map?["ecu"], "\(path).ecu")
        let hardwareIds = reader.strings(map?["hardwareIds"], "\(path).hardwareIds", nonEmpty: true)
        let slotGroup = reader.string(map?["slotGroup"], "\(path).slotGroup")
        let version = reader.string(map?["version"], "\(path).version")
        let securityVersion = reader.integer(map?["securityVersion"], "\(path).securityVersion", range: 0...Int64.max)
        let allowDowngrade = reader.bool(map?["allowDowngrade"], "\(path).allowDowngrade", default: false)
        let kind = reader.choice(map?["kind"], "\(path).kind", as: Manifest.ImageKind.self, default: .full)
        let compression = reader.choice(
            map?["compression"], "\(path).compression", as: Manifest.Compression.self, default: .xz)
        var sourceFile: String? = nil, sourceVersion: String? = nil
        if let sourceMap = reader.map(
            map?["source"], "\(path).source", allowed: ["file", "version"], required: kind == .delta)
        {
            sourceFile = reader.string(sourceMap["file"], "\(path).source.file")
            sourceVersion = reader.string(sourceMap["version"], "\(path).source.version")
            if kind == .full { reader.problem("\(path).source", "only delta images have a source") }
        }
        let rxswin = softwareID(map?["rxswin"], "\(path).rxswin")
        let swin = softwareID(map?["swin"], "\(path).swin")
        if rxswin == nil && swin == nil && map != nil {
            reader.problem("\(path)", "needs rxswin or swin (software identification numbers before/after)")
        }
        var categories: [ChangeCategory] = []
        for (index, item) in (reader.list(map?["categories"], "\(path).categories") ?? []).enumerated() {
            if let category = reader.choice(item, "\(path).categories[\(index)]", as: ChangeCategory.self) {
                categories.append(category)
            }
        }
        if map?["categories"] != nil && categories.isEmpty {
            reader.problem("\(path).categories", "at least one change category")
        }
        guard let name, let file, let ecu, let hardwareIds, let slotGroup, let version, let securityVersion,
            let allowDowngrade, let kind, let compression
        else {
            return nil
        }
        return ManifestSource.Image(
            name: name, file: file, ecu: ecu, hardwareIds: hardwareIds, slotGroup: slotGroup, version: version,
            securityVersion: UInt64(securityVersion), allowDowngrade: allowDowngrade, kind: kind,
            sourceFile: sourceFile,
            sourceVersion: sourceVersion, compression: compression, rxswin: rxswin, swin: swin, categories: categories)
    }

    private func softwareID(_ tree: SourceTree?, _ path: String) -> Manifest.SoftwareIdentification? {
        guard let map = reader.map(tree, path, allowed: ["before", "after"], required: false) else { return nil }
        let before = reader.string(map["before"], "\(path).before", required: false)
        guard let after = reader.string(map["after"], "\(path).after") else { return nil }
        return Manifest.SoftwareIdentification(before: before, after: after)
    }
}
