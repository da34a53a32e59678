/// The version `ota --version` prints. Bump it with every release; formats carry their own
/// version numbers (docs/FORMAT.md), which this does not replace.
enum OTAVersion {
    static let current = "0.5.0"
}
