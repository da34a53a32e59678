import Foundation
import OTACore
import Yams

/// A manifest source document as a plain tree, before any typing: YAML (through Yams' node
/// API, so scalars keep their text) or JSON.
indirect enum SourceTree {
    case map([(key: String, value: SourceTree)])
    case list([SourceTree])
    case scalar(String)
    case null

    /// Parses YAML or JSON (a JSON document is a YAML flow document).
    static func parse(_ text: String, source: String) throws(OTAError) -> SourceTree {
        if let problem = YAMLInputCheck.problem(in: text) { throw OTAError(.manifestSyntax, "\(source): \(problem)") }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw OTAError(.manifestSyntax, "\(source): not valid YAML: \(error)")
        }
        guard let node else { throw OTAError(.manifestSyntax, "\(source): empty document") }
        return try from(node: node, source: source, path: "")
    }

    private static func from(node: Node, source: String, path: String) throws(OTAError) -> SourceTree {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && (scalar.string == "~" || scalar.string == "null" || scalar.string.isEmpty) {
                return .null
            }
            return .scalar(scalar.string)
        case .sequence(let sequence):
            var items: [SourceTree] = []
            for (index, item) in sequence.enumerated() {
                items.append(try from(node: item, source: source, path: "\(path)[\(index)]"))
            }
            return .list(items)
        case .mapping(let mapping):
            var pairs: [(key: String, value: SourceTree)] = []
            var seen = Set<String>()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let key) = keyNode else {
                    throw OTAError(.manifestSyntax, "\(source): \(path): keys must be plain text")
                }
                let childPath = path.isEmpty ? key.string : "\(path).\(key.string)"
                guard seen.insert(key.string).inserted else {
                    throw OTAError(.manifestSyntax, "\(source): \(childPath): duplicate key")
                }
                pairs.append((key.string, try from(node: valueNode, source: source, path: childPath)))
            }
            return .map(pairs)
        }
    }
}

/// Reads typed fields out of a `SourceTree`, collecting every problem with its path instead of
/// stopping at the first.
final class FieldReader {
    private(set) var problems: [ManifestProblem] = []

    func problem(_ path: String, _ message: String) { problems.append(ManifestProblem(path, message)) }

    /// A mapping with only `allowed` keys (unknown keys are problems: they are usually typos).
    func map(_ tree: SourceTree?, _ path: String, allowed: Set<String>, required: Bool = true) -> [String: SourceTree]?
    {
        guard let tree, !tree.isNull else {
            if required { problem(path, "missing") }
            return nil
        }
        guard case .map(let pairs) = tree else {
            problem(path, "must be a mapping")
            return nil
        }
        var result: [String: SourceTree] = [:]
        for (key, value) in pairs {
            if !allowed.contains(key) {
                problem(
                    path.isEmpty ? key : "\(path).\(key)",
                    "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            result[key] = value
        }
        return result
    }

    func list(_ tree: SourceTree?, _ path: String, required: Bool = true) -> [SourceTree]? {
        guard let tree, !tree.isNull else {
            if required { problem(path, "missing") }
            return nil
        }
        guard case .list(let items) = tree else {
            problem(path, "must be a list")
            return nil
        }
        return items
    }

    func string(_ tree: SourceTree?, _ path: String, required: Bool = true) -> String? {
        guard let tree, !tree.isNull else {
            if required { problem(path, "missing") }
            return nil
        }
        guard case .scalar(let text) = tree else {
            problem(path, "must be text")
            return nil
        }
        if text.isEmpty && required { problem(path, "empty") }
        return text
    }

    func strings(_ tree: SourceTree?, _ path: String, required: Bool = true, nonEmpty: Bool = false) -> [String]? {
        guard let items = list(tree, path, required: required) else { return nil }
        let values = items.enumerated().compactMap { string($0.element, "\(path)[\($0.offset)]") }
        if nonEmpty && values.isEmpty { problem(path, "at least one entry") }
        return values
    }

    func bool(_ tree: SourceTree?, _ path: String, default value: Bool? = nil) -> Bool? {
        guard let text = string(tree, path, required: value == nil) else { return value }
        switch text {
        case "true", "yes": return true
        case "false", "no": return false
        default:
            problem(path, "must be true or false")
            return nil
        }
    }

    func integer(_ tree: SourceTree?, _ path: String, range: ClosedRange<Int64>, default value: Int64? = nil) -> Int64?
    {
        guard let text = string(tree, path, required: value == nil) else { return value }
        // Written as decimal digits only: `012` (octal 10 to YAML 1.1 readers) or `+12` is refused,
        // not read as 12 where another tool reads something else.
        guard let number = Int64(text), String(number) == text, range.contains(number) else {
            problem(
                path,
                "must be a whole number in \(range.lowerBound)...\(range.upperBound), in decimal digits (no sign, no leading zero)"
            )
            return nil
        }
        return number
    }

    func date(_ tree: SourceTree?, _ path: String, required: Bool = true) -> Date? {
        guard let text = string(tree, path, required: required) else { return nil }
        guard let date = Timestamp.parse(text) else {
            problem(
                path,
                "must be a time written as 2026-11-25T00:00:00Z or 2026-11-25T08:00:00+08:00 (a real day, whole seconds, years 1970-9999)"
            )
            return nil
        }
        return date
    }

    func choice<T: RawRepresentable & CaseIterable>(
        _ tree: SourceTree?, _ path: String, as _: T.Type, default value: T? = nil
    ) -> T? where T.RawValue == String {
        guard let text = string(tree, path, required: value == nil) else { return value }
        guard let parsed = T(rawValue: text) else {
            problem(path, "'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return parsed
    }
}

extension SourceTree {
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
