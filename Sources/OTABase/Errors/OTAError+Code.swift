extension OTAError {
    /// A registered, stable error code: its dotted name, its kind and a one-line meaning.
    ///
    /// Codes are static members (`OTAError.Code.signatureThreshold`), listed once in
    /// `OTAError.Code.registry`; a test keeps the registry, the members and `docs/ERRORS.md` in
    /// step. Two codes are equal when their names are.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The dotted name scripts and records use, e.g. `signature.threshold`.
        public let rawValue: String
        public let kind: Kind
        /// What the code means, for `docs/ERRORS.md` and `ota errors`.
        public let summary: String

        init(_ rawValue: String, _ kind: Kind, _ summary: String) {
            self.rawValue = rawValue
            self.kind = kind
            self.summary = summary
        }

        /// The registered code with this name, if any.
        public init?(rawValue: String) {
            guard let code = Self.byName[rawValue] else { return nil }
            self = code
        }

        public var description: String { rawValue }

        public static func == (lhs: Code, rhs: Code) -> Bool { lhs.rawValue == rhs.rawValue }
        public func hash(into hasher: inout Swift.Hasher) { hasher.combine(rawValue) }

        /// A code compares equal to its dotted name (`error.code == "signature.threshold"`).
        public static func == (lhs: Code, rhs: String) -> Bool { lhs.rawValue == rhs }
        public static func != (lhs: Code, rhs: String) -> Bool { lhs.rawValue != rhs }

        private static let byName: [String: Code] = Dictionary(
            registry.map { ($0.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// An optional code compares equal to its dotted name (`error?.code == "signature.threshold"`).
public func == (lhs: OTAError.Code?, rhs: String) -> Bool { lhs?.rawValue == rhs }

extension OTAError.Code: Codable {
    /// Encodes as the dotted name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// Decodes a registered name; an unknown name (a record from another version) keeps its name
    /// with kind `rejected` and no summary.
    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        self = Self(rawValue: name) ?? Self(name, .rejected, "")
    }
}
