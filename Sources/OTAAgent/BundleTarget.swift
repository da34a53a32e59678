public import OTACore
public import OTATUF
public import OTATransport

/// A bundle as the repository lists it: the TUF target entry's `custom.ota` fields (see
/// docs/FORMAT.md), read strictly, with its signed chunk list.
public struct BundleTarget: Sendable {
    public let name: String
    public let file: TUFTargetFile
    public let bundleId: String
    public let campaign: String
    public let models: [String]
    public let vins: [String]?
    public let ecus: [String]
    public let hardwareIds: [String]
    public let versions: [String: String]
    public let securityVersions: [String: UInt64]
    public let manifestDigest: String
    public let chunks: ChunkedTarget
    /// The sha256 listed for the file (its download and cache name): 64 lower-case hex digits,
    /// as `TUFHashes` reads every hash value.
    public let sha256: String

    /// Nil for a target that is not an ota bundle (no `custom.ota`).
    public init?(name: String, file: TUFTargetFile) throws(OTAError) {
        guard let ota = file.custom?["ota"] else { return nil }
        let path = "targets[\(name)].custom.ota"
        guard let fields = ota.object else { throw OTAError(.tufMetadata, "\(path): expected an object") }
        guard let sha256 = file.hashes["sha256"] else {
            throw OTAError(.tufMetadata, "targets[\(name)].hashes: an ota bundle is listed with its sha256")
        }
        self.sha256 = sha256
        func string(_ key: String) throws(OTAError) -> String {
            guard let value = fields[key]?.string, !value.isEmpty else {
                throw OTAError(.tufMetadata, "\(path).\(key): expected a string")
            }
            return value
        }
        func strings(_ key: String) throws(OTAError) -> [String] {
            guard let items = fields[key]?.array else {
                throw OTAError(.tufMetadata, "\(path).\(key): expected an array")
            }
            var result: [String] = []
            for item in items {
                guard let text = item.string else { throw OTAError(.tufMetadata, "\(path).\(key): expected strings") }
                result.append(text)
            }
            return result
        }
        self.name = name
        self.file = file
        bundleId = try string("bundleId")
        campaign = try string("campaign")
        models = try strings("models")
        vins = fields["vins"] == nil ? nil : try strings("vins")
        ecus = try strings("ecus")
        hardwareIds = try strings("hardwareIds")
        manifestDigest = try string("manifestDigest")
        guard let versionObject = fields["versions"]?.object, let securityObject = fields["securityVersions"]?.object
        else {
            throw OTAError(.tufMetadata, "\(path): versions and securityVersions are objects")
        }
        var versions: [String: String] = [:]
        for member in versionObject.members {
            guard let version = member.value.string else {
                throw OTAError(.tufMetadata, "\(path).versions.\(member.name): expected a string")
            }
            versions[member.name] = version
        }
        var securityVersions: [String: UInt64] = [:]
        for member in securityObject.members {
            guard let number = member.value.integer, number >= 0 else {
                throw OTAError(.tufMetadata, "\(path).securityVersions.\(member.name): expected a non-negative integer")
            }
            securityVersions[member.name] = UInt64(number)
        }
        self.versions = versions
        self.securityVersions = securityVersions
        guard let chunkFields = fields["chunks"]?.object, let size = chunkFields["size"]?.integer, size > 0,
            let hex = chunkFields["sha256"]?.string,
            hex.utf8.count % 64 == 0, let bytes = Hex.decode(hex)
        else {
            throw OTAError(.transportChunkList, "\(path).chunks: expected {size, sha256} with 64 hex digits per chunk")
        }
        let hashes = stride(from: 0, to: bytes.count, by: 32).map { Array(bytes[$0..<$0 + 32]) }
        chunks = try ChunkedTarget(length: UInt64(file.length), chunkSize: UInt64(size), chunkHashes: hashes)
    }

}
