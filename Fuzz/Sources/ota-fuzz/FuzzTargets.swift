import Foundation
import OTACore

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
            DeflateTarget.self,
            RecordLogTarget.self,
            VehicleConfigTarget.self,
            ManifestSourceTarget.self,
            StrictJSONTarget.self,
            TUFTarget.self,
            TrustUpdateTarget.self,
        ]
    }

    static func named(_ name: String) -> (any FuzzTarget.Type)? { all.first { $0.name == name } }

    /// Set once by `main` before libFuzzer starts; libFuzzer calls back on this thread only.
    nonisolated(unsafe) static var current: (any FuzzTarget)?

    /// `OTA_FUZZ_VERBOSE=1`: harnesses print why an input was refused (to check that seeds get
    /// as deep as meant).
    static let verbose = ProcessInfo.processInfo.environment["OTA_FUZZ_VERBOSE"] == "1"

    static func explain(_ error: OTAError) {
        if verbose { FileHandle.standardError.write(Data("refused: \(error.code.rawValue): \(error.message)\n".utf8)) }
    }

    /// Reports a broken invariant as a crash, so libFuzzer keeps the input.
    static func violated(_ message: String) -> Never {
        FileHandle.standardError.write(Data("ota-fuzz: invariant violated: \(message)\n".utf8))
        abort()
    }
}
