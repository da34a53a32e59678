import OTACore

/// The signed manifest as every reader takes it after the signature check: decoded, then
/// checked against the format rules (`BundleReader.verifyHead`, `BundleRewriter`).
struct ManifestTarget: FuzzTarget {
    static let name = "manifest"
    static let summary = "manifest.json: CanonicalJSON.decode(Manifest), ManifestRules.problems"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        guard let manifest = try? CanonicalJSON.decode(Manifest.self, from: input, as: .manifestMalformed) else {
            return
        }
        _ = ManifestRules.problems(in: manifest)
    }
}
