/// A finished hash value, tagged with its algorithm so SHA-256 and SM3 values never mix.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    public let algorithm: HashAlgorithm
    public let bytes: [UInt8]

    public init(algorithm: HashAlgorithm, bytes: [UInt8]) {
        self.algorithm = algorithm
        self.bytes = bytes
    }

    /// Parses `hex` (lowercase or uppercase) as a digest of `algorithm`.
    public init(algorithm: HashAlgorithm, hex: String, field: String = "digest") throws(OTAError) {
        guard let bytes = Hex.decode(hex), bytes.count == algorithm.byteCount else {
            throw OTAError(
                .digestMalformed, "\(field): expected \(algorithm.byteCount * 2) hex digits for \(algorithm.rawValue)")
        }
        self.init(algorithm: algorithm, bytes: bytes)
    }

    /// Lowercase hex.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { "\(algorithm.rawValue):\(hex)" }

    /// Constant-time comparison, for digests that guard a decision.
    public func constantTimeEquals(_ other: Digest) -> Bool {
        algorithm == other.algorithm && ConstantTime.equals(bytes, other.bytes)
    }
}

/// Hex encoding helpers.
package enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex, or returns nil on an odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    package static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Comparisons whose time does not depend on where the inputs differ.
package enum ConstantTime {
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
