public import OTACore
public import OTATUF

/// The `custom` fields of a bundle's target entry, copied from its verified manifest so the
/// vehicle can pick its targets before downloading and check, after, that the bundle is the one
/// the repository meant (docs/FORMAT.md, "Repository"):
///
/// `{"ota": {"bundleId", "campaign", "suite", "models", "vins"?, "ecus", "hardwareIds",
/// "versions": {ECU: version}, "securityVersions": {ECU: n}, "manifestDigest": "sha256:hex"}}`
public enum BundleTargetFields {
    public static func custom(for head: VerifiedManifest) throws(OTAError) -> JSONObject {
        let manifest = head.manifest
        func strings(_ values: [String]) -> TUFJSON { .array(values.map { .string($0) }) }
        var versions: [(String, TUFJSON)] = []
        var securityVersions: [(String, TUFJSON)] = []
        for image in manifest.images {
            versions.append((image.ecu, .string(image.version)))
            guard image.securityVersion <= UInt64(Int64.max) else { throw OTAError(.repoBundle, "image \(image.name): security version out of range") }
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
