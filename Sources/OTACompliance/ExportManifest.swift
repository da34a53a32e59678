public import OTACore
import OTARecorder

/// The signed list of an export's files (docs/FORMAT.md, Records): `manifest.json` holds the
/// files' names, sizes and digests; `manifest.sig` the compliance key's signature over the exact
/// bytes of `manifest.json`.
public enum ExportManifest {
    public static let format = "ota-records-export/1"
    public static let manifestName = "manifest.json"
    public static let signatureName = "manifest.sig"

    static func json(created: String, hash: HashAlgorithm, filter: RecordFilter, language: ExportLanguage,
                     pseudonymisation: String, entries: Int, vehicles: Int, files: [JSONValue]) -> JSONValue {
        .object([
            "format": .string(format), "created": .string(created), "hash": .string(hash.rawValue),
            "filter": filter.json, "language": .string(language.rawValue), "pseudonymisation": .string(pseudonymisation),
            "entries": .integer(Int64(entries)), "vehicles": .integer(Int64(vehicles)), "files": .array(files),
        ])
    }

    /// What `verify` found.
    public struct Verification: Sendable, Encodable {
        public var entries: Int
        public var vehicles: Int
        public var files: [String]
        public var problems: [String]
        public var intact: Bool { problems.isEmpty }
    }

    /// Checks an export directory: the manifest's signature under `publicKey`, every listed file's
    /// size and digest, and that no file is missing or extra.
    public static func verify(directory: String, publicKey: PublicKey) throws(OTAError) -> Verification {
        let manifestBytes = try FileSystem.read(directory + "/" + manifestName, limit: 1 << 20)
        let signatureBytes = try FileSystem.read(directory + "/" + signatureName, limit: 64 << 10)
        let manifest: JSONValue
        let signature: JSONValue
        do {
            manifest = try JSONValue.parse(manifestBytes)
            signature = try JSONValue.parse(signatureBytes)
        } catch {
            throw OTAError(.recordsExportMalformed, "\(directory): manifest or signature is not JSON: \(error.message)")
        }
        var problems: [String] = []
        let algorithm = try SignatureAlgorithm.forKey(publicKey.type)
        if signature["alg"]?.stringValue != algorithm.rawValue {
            problems.append("manifest.sig: algorithm \(signature["alg"]?.stringValue ?? "none") does not fit the key given")
        } else if let hex = signature["sig"]?.stringValue, let bytes = Hex.decode(hex),
                  try publicKey.check(bytes, for: manifestBytes, algorithm: algorithm) == .valid {
        } else {
            problems.append("manifest.sig: the signature over manifest.json does not verify under the compliance key")
        }
        guard manifest["format"]?.stringValue == format, let hashName = manifest["hash"]?.stringValue,
              let hash = HashAlgorithm(rawValue: hashName), let files = manifest["files"]?.arrayValue
        else { throw OTAError(.recordsExportMalformed, "\(directory)/manifest.json: not an \(format) manifest") }
        var names: Set<String> = [manifestName, signatureName]
        for file in files {
            guard let name = file["name"]?.stringValue, let size = file["bytes"]?.integerValue, let digest = file["digest"]?.stringValue,
                  !name.contains("/"), !name.hasPrefix(".")
            else { problems.append("manifest.json: a file entry is malformed"); continue }
            names.insert(name)
            let path = directory + "/" + name
            guard FileSystem.exists(path) else { problems.append("\(name): missing"); continue }
            let actualSize = try InputFile(path: path).size()
            if actualSize != size { problems.append("\(name): \(actualSize) bytes, the manifest says \(size)") }
            if try Hasher.hash(hash, fileAt: path).hex != digest { problems.append("\(name): contents changed (digest differs)") }
        }
        for extra in try FileSystem.list(directory) where !names.contains(extra) {
            problems.append("\(extra): not listed in the manifest")
        }
        return Verification(entries: Int(manifest["entries"]?.integerValue ?? 0), vehicles: Int(manifest["vehicles"]?.integerValue ?? 0),
                            files: files.compactMap { $0["name"]?.stringValue }, problems: problems)
    }
}
