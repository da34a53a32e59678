public import OTACore
public import OTATUF

/// The `custom` fields of a bundle's target entry, copied from its verified manifest so the
/// vehicle can pick its targets before downloading and check, after, that the bundle is the one
/// the repository meant (docs/FORMAT.md, "Repository"):
///
/// `{"ota": {"bundleId", "campaign", "suite", "models", "vins"?, "ecus", "hardwareIds",
/// "versions": {ECU: version}, "securityVersions": {ECU: n}, "manifestDigest": "sha256:hex"}}`
public enum BundleTargetFields {
    /// The fields for a verified bundle stored at `path`, with its signed chunk list.
    public static func custom(for head: VerifiedManifest, file path: String) throws(OTAError) -> JSONObject {
        var custom = try custom(for: head)
        guard var ota = custom["ota"]?.object else { return custom }
        ota.set("chunks", .object(try chunks(ofFile: path)))
        custom.set("ota", .object(ota))
        return custom
    }

    /// `{"size": N, "sha256": "<hex of each chunk's SHA-256, concatenated>"}`: the bundle file in
    /// chunks of 1 MiB (doubled until there are at most 1024), so the vehicle checks every chunk
    /// as it arrives and resumes at a chunk boundary.
    public static func chunks(ofFile path: String) throws(OTAError) -> JSONObject {
        let input = try InputFile(path: path)
        let length = UInt64(try input.size())
        var size: UInt64 = 1 << 20
        while length > size * 1024 { size *= 2 }
        var buffer = [UInt8](repeating: 0, count: Int(size))
        var hex = ""
        while true {
            let count = try input.readFully(into: &buffer)
            if count == 0 { break }
            hex += try Hasher.hash(.sha256, buffer[0..<count]).hex
            if count < buffer.count { break }
        }
        return try JSONObject([("size", .integer(Int64(size))), ("sha256", .string(hex))])
    }

    public static func custom(for head: VerifiedManifest) throws(OTAError) -> JSONObject {
        let manifest = head.manifest
        func strings(_ values: [String]) -> TUFJSON { .array(values.map { .string($0) }) }
        var versions: [(String, TUFJSON)] = []
        var securityVersions: [(String, TUFJSON)] = []
        for image in manifest.images {
            versions.append((image.ecu, .string(image.version)))
            guard image.securityVersion <= UInt64(Int64.max) else {
                throw OTAError(.repoBundle, "image \(image.name): security version out of range")
            }
            securityVersions.append((image.ecu, .integer(Int64(image.securityVersion))))
        }
        var fields: [(String, TUFJSON)] = [
            ("bundleId", .string(manifest.bundle.id)),
            ("campaign", .string(manifest.bundle.campaign)),
            ("suite", .string(manifest.bundle.suite.rawValue)),
            ("models", strings(manifest.targets.models)),
            ("ecus", strings(manifest.images.map(\.ecu))),
            ("hardwareIds", strings(Array(Set(manifest.images.flatMap(\.hardwareIds))).sorted())),
            ("versions", .object(try JSONObject(versions))),
            ("securityVersions", .object(try JSONObject(securityVersions))),
            ("manifestDigest", .string(head.digest.description)),
        ]
        if let vins = manifest.targets.vins { fields.append(("vins", strings(vins))) }
        return try JSONObject([("ota", .object(try JSONObject(fields)))])
    }
}
