public import Foundation

/// The one JSON encoding of signed documents (manifests, approvals): sorted keys, no extra
/// whitespace, ISO 8601 times in UTC with seconds, slashes unescaped.
public enum CanonicalJSON {
    public static func encode(_ value: some Encodable) throws(OTAError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw OTAError(.jsonEncode, "cannot encode JSON: \(error)")
        }
    }

    /// Decodes strictly (types, required fields); `code` (`manifest.malformed`, ...) is reported
    /// for a document that does not decode, and its first part names the document in messages.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], as code: OTAError.Code) throws(OTAError) -> T {
        let what = code.rawValue.split(separator: ".").first.map(String.init) ?? "document"
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
            }
            return date
        }
        do {
            return try decoder.decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw OTAError(code, "\(what): \(Self.describe(error))")
        } catch {
            throw OTAError(code, "\(what): not valid JSON")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".").description
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(_, let context): return "\(path(context.codingPath)): wrong type (\(context.debugDescription))"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)): null"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "malformed"
        }
    }
}

/// ISO 8601 timestamps (`2026-11-25T12:00:00Z`).
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
