internal import OTABase

/// A software version the no-downgrade rule can order: `N(.N)*` with an optional pre-release
/// `-ID(.ID)*`, ordered as Semantic Versioning 2.0 orders them, generalised to any number of
/// numeric parts (docs/FORMAT.md, "Versions").
///
/// - Numeric parts compare as numbers (`1.10.0` > `1.9.2`); missing parts count as 0
///   (`2.3` == `2.3.0`).
/// - A pre-release comes before its release (`2.3.1-beta` < `2.3.1`); pre-release identifiers
///   compare numerically when both are numeric, else as ASCII, numeric before alphanumeric, and a
///   shorter list first when all shared ones are equal (`-rc.1` < `-rc.1.1`).
/// - Anything else cannot be ordered and is refused: a `v` prefix, empty parts, leading zeros,
///   build metadata (`+…`), spaces, non-ASCII, more than 8 numeric parts or 64 characters.
public struct SoftwareVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public let text: String
    let numbers: [UInt64]
    let preRelease: [Identifier]

    enum Identifier: Sendable, Equatable {
        case number(UInt64)
        case text(String)
    }

    public static let maximumLength = 64
    public static let maximumParts = 8

    /// Parses `text`; nil when it cannot be ordered.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumLength else { return nil }
        let (release, pre) = Self.split(text)
        let parts = release.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...Self.maximumParts).contains(parts.count) else { return nil }
        var numbers: [UInt64] = []
        for part in parts {
            guard let number = Self.numeric(part) else { return nil }
            numbers.append(number)
        }
        var identifiers: [Identifier] = []
        if let pre {
            for part in pre.split(separator: ".", omittingEmptySubsequences: false) {
                guard !part.isEmpty, part.utf8.allSatisfy(Self.isIdentifierByte) else { return nil }
                if part.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
                    guard let number = Self.numeric(part) else { return nil }
                    identifiers.append(.number(number))
                } else {
                    identifiers.append(.text(String(part)))
                }
            }
        }
        self.text = text
        self.numbers = numbers
        self.preRelease = identifiers
    }

    public var description: String { text }

    public static func == (lhs: SoftwareVersion, rhs: SoftwareVersion) -> Bool { compare(lhs, rhs) == 0 }
    public static func < (lhs: SoftwareVersion, rhs: SoftwareVersion) -> Bool { compare(lhs, rhs) < 0 }

    static func compare(_ a: SoftwareVersion, _ b: SoftwareVersion) -> Int {
        for index in 0..<max(a.numbers.count, b.numbers.count) {
            let x = index < a.numbers.count ? a.numbers[index] : 0
            let y = index < b.numbers.count ? b.numbers[index] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        switch (a.preRelease.isEmpty, b.preRelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): break
        }
        for (x, y) in zip(a.preRelease, b.preRelease) {
            switch (x, y) {
            case (.number(let m), .number(let n)) where m != n: return m < n ? -1 : 1
            case (.number, .text): return -1
            case (.text, .number): return 1
            case (.text(let s), .text(let t)) where s != t:
                return Array(s.utf8).lexicographicallyPrecedes(Array(t.utf8)) ? -1 : 1
            default: continue
            }
        }
        return a.preRelease.count == b.preRelease.count ? 0 : (a.preRelease.count < b.preRelease.count ? -1 : 1)
    }

    private static func split(_ text: String) -> (Substring, Substring?) {
        guard let dash = text.firstIndex(of: "-") else { return (text[...], nil) }
        return (text[..<dash], text[text.index(after: dash)...])
    }

    /// Decimal digits without a leading zero (except `0` itself), within UInt64.
    private static func numeric(_ part: Substring) -> UInt64? {
        let bytes = Array(part.utf8)
        guard !bytes.isEmpty, bytes.allSatisfy({ (0x30...0x39).contains($0) }), bytes.count == 1 || bytes[0] != 0x30
        else { return nil }
        return UInt64(part)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
    }
}
