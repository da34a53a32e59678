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

/// Runs the `openssl` command line (an independent path through the same algorithms).
enum OpenSSLTool {
    @discardableResult
    static func run(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = Pipe()
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
