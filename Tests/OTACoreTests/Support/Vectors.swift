import Foundation
import OTACore

/// Loads the published test vectors copied into `Vectors/` (see `Vectors/SOURCES.md`).
enum Vectors {
    static func url(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Vectors") else {
            throw VectorError.missing(name)
        }
        return url
    }

    static func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(name)))
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: url(name), encoding: .utf8)
    }

    enum VectorError: Error { case missing(String) }
}

/// Wycheproof's common shape: groups of tests with a `result`.
struct WycheproofFile<Group: Decodable>: Decodable {
    let testGroups: [Group]
}

func hex(_ string: String) -> [UInt8] { Hex.decode(string) ?? [] }
