import Foundation
public import OTACore

/// The file backend of `ProtectedStore`: each document is a file in the installer's private
/// directory, its bytes followed by one seal line,
///
/// ```
/// <document bytes>
/// ota-seal v1 hmac-sha256 <64 hex digits>
/// ```
///
/// the HMAC (SHA-256, or SM3 on a `gm` vehicle) of `"ota-seal v1" 00 name 00 document` under a
/// 32-byte key held by the device (`keys/seal.key`, 0600; on a production vehicle, in its secure
/// element). A document edited, forged, moved to another name, or stored without the key is
/// refused. What a file backend cannot stop is putting back an older document it sealed itself
/// (a replay of the whole file): a TPM NV counter or RPMB backend closes that (docs/SECURITY.md).
public final class MACFileStore: ProtectedStore {
    /// The device-held key and its algorithm: `keys/seal.key` holds `hmac-sha256 <hex>` or
    /// `hmac-sm3 <hex>`.
    public struct Key: Sendable {
        public let algorithm: HashAlgorithm
        let bytes: [UInt8]

        /// A new random key.
        public static func generate(_ algorithm: HashAlgorithm) throws(OTAError) -> Key {
            Key(algorithm: algorithm, bytes: try SecureRandom.bytes(32))
        }

        /// Reads a key file.
        public init(contentsOf path: String) throws(OTAError) {
            guard FileSystem.exists(path) else {
                throw OTAError(
                    .vehicleStateTampered, "\(path): the seal key of the vehicle's protected state is missing")
            }
            let text = String(decoding: try FileSystem.read(path, limit: 4096), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            let parts = text.split(separator: " ")
            guard parts.count == 2, let algorithm = Self.algorithm(named: String(parts[0])),
                let bytes = Hex.decode(String(parts[1])), bytes.count == 32
            else {
                throw OTAError(
                    .vehicleStateTampered, "\(path): not a seal key (expected 'hmac-sha256|hmac-sm3 <64 hex digits>')")
            }
            self.init(algorithm: algorithm, bytes: bytes)
        }

        init(algorithm: HashAlgorithm, bytes: [UInt8]) {
            self.algorithm = algorithm
            self.bytes = bytes
        }

        /// Writes the key file (0600, atomically); refuses to replace an existing one.
        public func write(to path: String) throws(OTAError) {
            guard !FileSystem.exists(path) else { throw OTAError(.ioExists, "\(path): a seal key already exists") }
            try AtomicFileWriter.write(
                Array("\(Self.name(algorithm)) \(Hex.encode(bytes))\n".utf8), to: path, mode: 0o600)
        }

        static func name(_ algorithm: HashAlgorithm) -> String { "hmac-\(algorithm.rawValue)" }
        static func algorithm(named name: String) -> HashAlgorithm? {
            HashAlgorithm.allCases.first { Self.name($0) == name }
        }
    }

    let directory: PrivateDirectory
    let key: Key

    init(directory: PrivateDirectory, key: Key) {
        self.directory = directory
        self.key = key
    }

    /// The store over the vehicle's private directory, with the key in `keyPath`.
    public convenience init(privateDirectory path: String, keyPath: String) throws(OTAError) {
        self.init(directory: try PrivateDirectory(path: path, create: false), key: try Key(contentsOf: keyPath))
    }

    public var description: String { "file+\(Key.name(key.algorithm)) \(directory.path)" }

    static let prefix = Array("\nota-seal v1 ".utf8)

    public func load(_ name: String) throws(OTAError) -> [UInt8]? {
        guard let bytes = try directory.read(name) else { return nil }
        return try Self.open(bytes, name: name, key: key, path: "\(directory.path)/\(name)")
    }

    public func store(_ name: String, _ bytes: [UInt8]) throws(OTAError) {
        try directory.write(name, try Self.seal(bytes, name: name, key: key))
    }

    /// The document followed by its seal line.
    public static func seal(_ document: [UInt8], name: String, key: Key) throws(OTAError) -> [UInt8] {
        let mac = try HMAC.mac(
            key.algorithm, key: key.bytes, [Array("ota-seal v1".utf8), [0], Array(name.utf8), [0], document])
        return document + prefix + Array("\(Key.name(key.algorithm)) \(Hex.encode(mac))\n".utf8)
    }

    /// The document of a sealed file, after checking its seal.
    public static func open(_ sealed: [UInt8], name: String, key: Key, path: String) throws(OTAError) -> [UInt8] {
        let trailer = prefix + Array("\(Key.name(key.algorithm)) ".utf8)
        let macLength = key.algorithm.byteCount * 2
        let total = trailer.count + macLength + 1
        guard sealed.count >= total, sealed.last == 0x0a,
            Array(sealed[(sealed.count - total)..<(sealed.count - macLength - 1)]) == trailer
        else {
            throw OTAError(
                .vehicleStateTampered,
                "\(path): no valid seal line; the file was not written by the installer (or was edited)")
        }
        let document = Array(sealed[..<(sealed.count - total)])
        guard
            let mac = Hex.decode(
                String(decoding: sealed[(sealed.count - macLength - 1)..<(sealed.count - 1)], as: UTF8.self))
        else {
            throw OTAError(.vehicleStateTampered, "\(path): the seal is not hex")
        }
        let expected = try HMAC.mac(
            key.algorithm, key: key.bytes, [Array("ota-seal v1".utf8), [0], Array(name.utf8), [0], document])
        guard ConstantTime.equals(mac, expected) else {
            throw OTAError(
                .vehicleStateTampered, "\(path): the seal does not match; the file was changed outside the installer")
        }
        return document
    }
}
