public import Foundation
public import OTACore

/// The fleet service's signed statement that it holds a vehicle's log up to an entry
/// (`ota-fleet-ack/1`, docs/FORMAT.md). The vehicle keeps the latest one and prunes nothing the
/// fleet has not acknowledged; the signature, by a key of the `compliance` role, makes it
/// evidence the vehicle can show later.
public struct FleetAcknowledgement: Sendable, Equatable {
    public static let format = "ota-fleet-ack/1"

    public var vin: String
    /// The last entry the fleet store holds (a signed checkpoint), and its hash.
    public var through: UInt64
    public var hash: String
    /// The log's genesis hash: the acknowledgement is for this log, not another of the VIN.
    public var genesis: String
    /// The acknowledging store (`postgres://…`, `sqlite:…`).
    public var store: String
    public var time: String
    public var algorithm: SignatureAlgorithm
    public var signature: [UInt8]
    /// The signer's certificate (PEM).
    public var certificate: String

    public init(
        vin: String, through: UInt64, hash: String, genesis: String, store: String, time: String,
        algorithm: SignatureAlgorithm, signature: [UInt8], certificate: String
    ) {
        self.vin = vin
        self.through = through
        self.hash = hash
        self.genesis = genesis
        self.store = store
        self.time = time
        self.algorithm = algorithm
        self.signature = signature
        self.certificate = certificate
    }

    /// The signed part, canonical JSON.
    package var statement: JSONValue {
        var out = JSONObjectWriter()
        out.set("format", Self.format)
        out.set("vin", vin)
        out.set("through", unsigned: through)
        out.set("hash", hash)
        out.set("genesis", genesis)
        out.set("store", store)
        out.set("time", time)
        return out.value
    }

    /// The acknowledgement as sent and kept.
    package var json: JSONValue {
        var out = JSONObjectWriter()
        out.set("ack", json: statement)
        out.set("alg", algorithm.rawValue)
        out.set("sig", Hex.encode(signature))
        out.set("certificate", certificate)
        return out.value
    }

    /// Signs a statement with `key`, whose certificate (PEM) travels with it.
    public static func sign(
        vin: String, through: UInt64, hash: String, genesis: String, store: String, time: String,
        key: PrivateKey, certificate: String
    ) throws(OTAError) -> FleetAcknowledgement {
        var ack = FleetAcknowledgement(
            vin: vin, through: through, hash: hash, genesis: genesis, store: store, time: time,
            algorithm: try SignatureAlgorithm.forKey(key.type), signature: [], certificate: certificate)
        ack.signature = try key.signature(for: ack.statement.bytes)
        return ack
    }

    /// Reads an acknowledgement strictly (unknown members, wrong types and bad hex refused).
    public init(json bytes: [UInt8], source: String) throws(OTAError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw OTAError(.fleetAckInvalid, "\(source): not JSON: \(error.message)")
        }
        do throws(OTAError) {
            let outer = try JSONObjectReader(value, path: source, allowed: ["ack", "alg", "certificate", "sig"])
            guard
                let inner = try outer.optionalObject(
                    "ack", allowed: ["format", "genesis", "hash", "store", "through", "time", "vin"])
            else {
                throw OTAError(.fleetAckInvalid, "\(source).ack: required")
            }
            guard try inner.string("format", maximumBytes: 32) == Self.format else {
                throw OTAError(.fleetAckInvalid, "\(source).ack.format: not \(Self.format)")
            }
            vin = try inner.string("vin", maximumBytes: 64)
            guard let through = try inner.optionalUnsigned("through") else {
                throw OTAError(.fleetAckInvalid, "\(source).ack.through: required")
            }
            self.through = through
            hash = try inner.digest("hash")
            genesis = try inner.digest("genesis")
            store = try inner.string("store", maximumBytes: 1024)
            guard let time = try inner.optionalInstant("time") else {
                throw OTAError(.fleetAckInvalid, "\(source).ack.time: required")
            }
            self.time = time
            guard let algorithm = SignatureAlgorithm(rawValue: try outer.string("alg", maximumBytes: 32)) else {
                throw OTAError(.fleetAckInvalid, "\(source).alg: not a signature algorithm")
            }
            self.algorithm = algorithm
            guard let signature = Hex.decode(try outer.string("sig", maximumBytes: 1024)) else {
                throw OTAError(.fleetAckInvalid, "\(source).sig: not hex")
            }
            self.signature = signature
            certificate = try outer.string("certificate", maximumBytes: 65536)
        } catch {
            throw error.code == .fleetAckInvalid ? error : OTAError(.fleetAckInvalid, error.message)
        }
    }

    /// Checks the signature and that the signer holds the `compliance` role in `trust` at `time`.
    public func verify(trust: TrustStore, at time: Date) throws(OTAError) {
        let certificates = try Certificate.load(Array(certificate.utf8), source: "acknowledgement certificate")
        guard let leaf = certificates.first else {
            throw OTAError(.fleetAckInvalid, "the acknowledgement carries no certificate")
        }
        let verdict = try ChainVerifier(store: trust, time: FixedTime(time)).verify(
            leaf, intermediates: Array(certificates.dropFirst()), role: .compliance)
        if case .untrusted(let error) = verdict {
            throw OTAError(
                .fleetAckInvalid,
                "the acknowledgement is signed by \(leaf.subject), which does not hold the compliance role: \(error.message)",
                cause: error.code.rawValue)
        }
        guard try leaf.publicKey.check(signature, for: statement.bytes, algorithm: algorithm) == .valid else {
            throw OTAError(.fleetAckInvalid, "the acknowledgement's signature does not verify under \(leaf.subject)")
        }
    }
}
