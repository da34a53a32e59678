import Foundation

/// Inputs that once crashed a fuzz harness (`Fuzz/regressions/HARNESS/NAME`, Fuzz/README.md),
/// for the tests that replay them through the same entry point.
public enum FuzzRegression {
    /// The repository root (this file is `Tests/OTATestSupport/FuzzRegression.swift`).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The committed input `name` of `harness`.
    public static func input(_ harness: String, _ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: "\(repository)/Fuzz/regressions/\(harness)/\(name)")))
    }
}
