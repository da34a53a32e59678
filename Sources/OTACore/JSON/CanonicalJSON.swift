package import Foundation
package import OTABase

/// The one JSON encoding of signed documents (manifests, approvals, signature envelopes,
/// recipients): the canonical form of `StrictJSON` (sorted keys, no whitespace, integers only,
/// minimal string escapes), with times as `2026-11-25T12:00:00Z`. A signed document is read only
/// if its bytes are exactly that encoding of what it decodes to, so every reader (ours, `jq`,
/// Python) sees the same fields and values (docs/FORMAT.md, "Canonical JSON").
package enum CanonicalJSON {
    package static func encode(_ value: some Encodable) throws(OTAError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        let foundation: [UInt8]
        do {
            foundation = Array(try encoder.encode(value))
        } catch {
            throw OTAError(.jsonEncode, "cannot encode JSON: \(error)")
        }
        let parsed: StrictJSON.Value
        do {
            parsed = try StrictJSON.parse(foundation)
        } catch {
            throw OTAError(.jsonEncode, "cannot encode JSON canonically: \(error)")
        }
        if let place = firstUnnormalizedText(parsed) {
            throw OTAError(.jsonEncode, "cannot encode JSON: \(place) \(unnormalizedReason)")
        }
        return StrictJSON.canonicalBytes(parsed)
    }

    /// Why text outside NFC is refused, for messages.
    static let unnormalizedReason =
        "is not in Unicode normalization form C (NFC): canonically equivalent spellings compare equal in some readers and differ in others (docs/FORMAT.md, Canonical JSON)"

    /// The path of the first member name or string value of `value` that is not in Unicode
    /// Normalization Form C, or nil. With every text in NFC, two texts are canonically equivalent
    /// exactly when their bytes are equal, so Swift's `==` (canonical equivalence) and a byte
    /// comparison (`jq`, SQL, the fleet store) agree on every name, model, VIN and identifier.
    static func firstUnnormalizedText(_ value: StrictJSON.Value, path: String = "") -> String? {
        switch value {
        case .object(let members):
            for member in members {
                let memberPath = path.isEmpty ? member.key : "\(path).\(member.key)"
                if !member.key.isNFC { return "the name of \(memberPath)" }
                if let place = firstUnnormalizedText(member.value, path: memberPath) { return place }
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let place = firstUnnormalizedText(item, path: "\(path)[\(index)]") { return place }
            }
        case .string(let text):
            if !text.isNFC { return path.isEmpty ? "(document)" : path }
        case .number, .bool, .null:
            break
        }
        return nil
    }

    /// Decodes a signed document: strict JSON, exactly in canonical form, with no field the type
    /// does not know. `code` (`manifest.malformed`, ...) is reported for anything else, and its
    /// first part names the document in messages.
    package static func decode<T: Codable>(_ type: T.Type, from bytes: [UInt8], as code: OTAError.Code) throws(OTAError)
        -> T
    {
        let what = code.rawValue.split(separator: ".").first.map(String.init) ?? "document"
        let parsed: StrictJSON.Value
        do {
            parsed = try StrictJSON.parse(bytes)
        } catch {
            throw OTAError(code, "\(what): \(error)")
        }
        if let place = firstUnnormalizedText(parsed) { throw OTAError(code, "\(what): \(place) \(unnormalizedReason)") }
        let value = try decodeFoundation(type, from: bytes, code: code, what: what)
        let reencoded: [UInt8]
        do {
            reencoded = try encode(value)
        } catch {
            throw OTAError(code, "\(what): \(error.message)")
        }
        guard reencoded == bytes else {
            let expected = (try? StrictJSON.parse(reencoded)) ?? .null
            if let difference = StrictJSON.firstDifference(parsed, expected) {
                throw OTAError(code, "\(what): \(difference.path): \(difference.reason)")
            }
            let canonical = StrictJSON.canonicalBytes(parsed)
            guard canonical == bytes else {
                let offset =
                    zip(canonical, bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                    ?? min(canonical.count, bytes.count)
                throw OTAError(
                    code, "\(what): not in canonical JSON form from byte \(offset) (docs/FORMAT.md, Canonical JSON)")
            }
            throw OTAError(code, "\(what): does not re-encode to the same bytes")
        }
        return value
    }

    /// Decodes a JSON input file that is not signed (vehicle readings, configuration, state): any
    /// formatting, but strict JSON (no duplicate keys, bounded nesting) and strict types.
    /// `refusingUnknownFields` for what a person or another system writes (a misspelt
    /// `"drivng": true` was ignored, and the reading it meant taken as absent); not for our own
    /// state files, which an older installer must still read after a rollback.
    package static func decodeInput<T: Codable>(
        _ type: T.Type, from bytes: [UInt8], as code: OTAError.Code, refusingUnknownFields: Bool = false
    ) throws(OTAError) -> T {
        let what = code.rawValue.split(separator: ".").first.map(String.init) ?? "document"
        let parsed: StrictJSON.Value
        do {
            parsed = try StrictJSON.parse(bytes, limits: StrictJSON.Limits(integersOnly: false))
        } catch {
            throw OTAError(code, "\(what): \(error)")
        }
        if let place = firstUnnormalizedText(parsed) { throw OTAError(code, "\(what): \(place) \(unnormalizedReason)") }
        let value = try decodeFoundation(type, from: bytes, code: code, what: what)
        guard refusingUnknownFields else { return value }
        // The fields the type knows are those it writes back; a null is a field left out.
        let known: StrictJSON.Value
        do {
            known = try StrictJSON.parse(try encode(value), limits: StrictJSON.Limits(integersOnly: false))
        } catch {
            throw OTAError(code, "\(what): \(error)")
        }
        if let field = firstUnknownField(parsed, known: known) {
            throw OTAError(code, "\(what): \(field): unknown field (a misspelt name is never ignored)")
        }
        return value
    }

    /// The path of the first object member of `input` that is neither null nor in `known` at
    /// the same place.
    static func firstUnknownField(_ input: StrictJSON.Value, known: StrictJSON.Value, path: String = "") -> String? {
        switch (input, known) {
        case (.object(let members), .object(let knownMembers)):
            for member in members {
                let memberPath = path.isEmpty ? member.key : "\(path).\(member.key)"
                guard let match = knownMembers.first(where: { $0.key == member.key }) else {
                    if member.value == .null { continue }
                    return memberPath
                }
                if let field = firstUnknownField(member.value, known: match.value, path: memberPath) { return field }
            }
        case (.array(let items), .array(let knownItems)):
            for (index, pair) in zip(items, knownItems).enumerated() {
                if let field = firstUnknownField(pair.0, known: pair.1, path: "\(path)[\(index)]") { return field }
            }
        default:
            break
        }
        return nil
    }

    private static func decodeFoundation<T: Decodable>(
        _ type: T.Type, from bytes: [UInt8], code: OTAError.Code, what: String
    ) throws(OTAError) -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
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
        case .typeMismatch(_, let context):
            return "\(path(context.codingPath)): wrong type (\(context.debugDescription))"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)): null"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "malformed"
        }
    }
}

/// ISO 8601 timestamps (`2026-11-25T12:00:00Z`).
package enum Timestamp {
    package static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` or with an offset `±HH:MM`, strictly (`UTCTime.seconds`); nil
    /// for anything else.
    package static func parse(_ text: String) -> Date? {
        UTCTime.seconds(text).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }
}
