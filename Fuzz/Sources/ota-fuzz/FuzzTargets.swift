import Foundation

/// The harnesses `ota-fuzz` knows, and the one this process runs.
enum FuzzTargets {
    static var all: [any FuzzTarget.Type] {
        [
            ManifestTarget.self,
            ApprovalTarget.self,
            EnvelopeTarget.self,
            RecipientsTarget.self,
            TarFramingTarget.self,
            BundleTarget.self,
            XZTarget.self,
            LZMA2Target.self,
            DeltaTarget.self,
            RecordLogTarget.self,
            VehicleConfigTarget.self,
            ManifestSourceTarget.self,
        ]
    }

    static func named(_ name: String) -> (any FuzzTarget.Type)? { all.first { $0.name == name } }

    /// Set once by `main` before libFuzzer starts; libFuzzer calls back on this thread only.
    nonisolated(unsafe) static var current: (any FuzzTarget)?

    /// Reports a broken invariant as a crash, so libFuzzer keeps the input.
    static func violated(_ message: String) -> Never {
        FileHandle.standardError.write(Data("ota-fuzz: invariant violated: \(message)\n".utf8))
        abort()
    }
}
