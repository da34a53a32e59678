/// The version `ota --version` prints. Bump it with every release; formats carry their own
/// version numbers (docs/FORMAT.md), which this does not replace.
package enum OTAVersion {
    package static let current = "0.5.0"
}
