public import OTACore

/// Fetches repository files for the TUF client. Implementations never return more than
/// `maxLength` bytes: a longer body is refused (`tuf.too-large`) as soon as it passes the limit,
/// and a missing file is `transport.not-found`.
public protocol TUFFetcher: Sendable {
    func fetch(_ url: String, maxLength: Int) throws(OTAError) -> [UInt8]
}

/// Reads `file://` URLs and plain paths: a repository directory on the local file system (a
/// USB stick in the workshop, tests).
public struct FileFetcher: TUFFetcher {
    public init() {}

    public func fetch(_ url: String, maxLength: Int) throws(OTAError) -> [UInt8] {
        let path = url.hasPrefix("file://") ? String(url.dropFirst(7)) : url
        let decoded = PercentEncoding.decode(path) ?? path
        guard FileSystem.exists(decoded), !FileSystem.isDirectory(decoded) else {
            throw OTAError(.transportNotFound, "\(url): not found")
        }
        do throws(OTAError) {
            return try FileSystem.read(decoded, limit: maxLength)
        } catch  where error.code == .ioTooLarge {
            throw OTAError(.tufTooLarge, "\(url): more than \(maxLength) bytes")
        }
    }
}

/// Percent-encoding of role and target names in URLs and local file names: everything but
/// `A-Z a-z 0-9 - . _ ~` becomes `%XX` (python-tuf's `quote(name, "")`), so `/`, `..` and `?`
/// in a name can never leave their directory or change a URL's meaning.
public enum PercentEncoding {
    public static func encode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5a, 0x61...0x7a, 0x30...0x39, 0x2d, 0x2e, 0x5f, 0x7e: out.append(byte)
            default: out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        let encoded = String(decoding: out, as: UTF8.self)
        // "." and ".." alone are unreserved characters but name directories: encode them too.
        if encoded == "." { return "%2E" }
        if encoded == ".." { return "%2E%2E" }
        return encoded
    }

    /// Encodes each `/`-separated part of a path (for target URLs), keeping the slashes.
    public static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }

    public static func decode(_ text: String) -> String? {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x25 {
                guard i + 2 < bytes.count, let value = Hex.decode(String(decoding: bytes[i + 1...i + 2], as: UTF8.self))
                else { return nil }
                out += value
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}

/// Upper bounds on every download (TUF §5 "endless data"), the number of root versions walked in
/// one update and the number of delegated roles visited in one search.
public struct TUFLimits: Sendable {
    public var root: Int
    public var timestamp: Int
    public var snapshot: Int
    public var targets: Int
    public var maximumRootRotations: Int
    public var maximumDelegations: Int

    public static let `default` = TUFLimits(
        root: 512_000, timestamp: 16_384, snapshot: 2_000_000, targets: 5_000_000, maximumRootRotations: 32,
        maximumDelegations: 32)

    public init(
        root: Int, timestamp: Int, snapshot: Int, targets: Int, maximumRootRotations: Int, maximumDelegations: Int
    ) {
        self.root = root
        self.timestamp = timestamp
        self.snapshot = snapshot
        self.targets = targets
        self.maximumRootRotations = maximumRootRotations
        self.maximumDelegations = maximumDelegations
    }
}
