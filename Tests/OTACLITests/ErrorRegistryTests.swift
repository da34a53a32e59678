import Foundation
import OTACore
import OTATestSupport
import Testing

/// The error registry is the one list of codes: every code thrown is registered, every registered
/// code is a static member, and docs/ERRORS.md is generated from it.
@Suite struct ErrorRegistryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func sources() throws -> [(path: String, text: String)] {
        let base = root.appendingPathComponent("Sources").path
        let enumerator = FileManager.default.enumerator(atPath: base)
        var files: [(String, String)] = []
        while let name = enumerator?.nextObject() as? String {
            guard name.hasSuffix(".swift") else { continue }
            files.append((name, try String(contentsOfFile: base + "/" + name, encoding: .utf8)))
        }
        return files
    }

    @Test func `registered codes are unique, dotted and explained`() {
        let names = OTAError.Code.registry.map(\.rawValue)
        #expect(Set(names).count == names.count)
        #expect(names == names.sorted())
        for code in OTAError.Code.registry {
            #expect(code.rawValue.wholeMatch(of: /[a-z][a-z0-9-]*(\.[a-z0-9-]+)+/) != nil, "\(code)")
            #expect(!code.summary.isEmpty, "\(code) has no summary")
            #expect(OTAError.Code(rawValue: code.rawValue) == code)
        }
    }

    @Test func `every static member is in the registry`() throws {
        let file = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/OTABase/Errors/ErrorCodes.swift"), encoding: .utf8)
        let declared = file.matches(of: /public static let [a-zA-Z0-9]+ = Self\(\s*"([^"]+)"/).map {
            String($0.output.1)
        }
        #expect(declared.count == OTAError.Code.registry.count)
        #expect(Set(declared) == Set(OTAError.Code.registry.map(\.rawValue)))
    }

    @Test func `no throw site spells a code as a string`() throws {
        var offenders: [String] = []
        for (path, text) in try Self.sources() where !path.hasSuffix("ErrorCodes.swift") {
            for match in text.matches(of: /OTAError\(\s*"|\.(rejected|usage|io)\(\s*"[a-z]/) {
                let line = text[..<match.range.lowerBound].filter { $0 == "\n" }.count + 1
                offenders.append("\(path):\(line)")
            }
        }
        #expect(offenders.isEmpty, "string codes at: \(offenders.joined(separator: ", "))")
    }

    @Test func `docs/ERRORS.md is the registry`() throws {
        let generated = try CLIRunner.run(["errors", "--markdown"])
        #expect(generated.status == 0)
        let committed = try String(contentsOf: Self.root.appendingPathComponent("docs/ERRORS.md"), encoding: .utf8)
        #expect(committed == generated.stdout, "docs/ERRORS.md is stale: run `ota errors --markdown > docs/ERRORS.md`")
    }

    @Test func `the code decides the exit status`() throws {
        let listed = try CLIRunner.run(["errors", "--json"])
        let entries = listed.json["result"] as? [[String: Any]] ?? []
        #expect(entries.count == OTAError.Code.registry.count)
        for entry in entries {
            let kind = entry["kind"] as? String
            let status = entry["exitStatus"] as? Int
            #expect(status == (kind == "rejected" ? 2 : 1), "\(entry)")
        }
    }
}
