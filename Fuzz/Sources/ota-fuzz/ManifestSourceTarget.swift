import OTABuilder
import OTACore

/// The manifest a release engineer writes (YAML or JSON), as `ota bundle build` reads it:
/// UTF-8 checked as `ManifestSource.load` does, then `ManifestSource.parse` (Yams composition,
/// the source tree, every field with its path).
struct ManifestSourceTarget: FuzzTarget {
    static let name = "manifest-source"
    static let summary = "manifest YAML/JSON source: ManifestSource.parse (Yams compose, SourceTree, FieldReader)"

    init() throws(OTAError) {}

    func run(_ input: [UInt8]) {
        guard let text = String(validating: input, as: UTF8.self) else { return }
        _ = try? ManifestSource.parse(text, source: "fuzz.yaml")
    }
}
